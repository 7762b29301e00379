"""Steps that happen to the charger (a cable, a card, the EV, a fault), time passing,
and the link breaking.  They act and return; expectations check the outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .context import StepFailed, StepRunner
from .events import (
    ClearFault,
    ConnectorEvent,
    EvChange,
    Fault,
    LinkFault,
    PresentTag,
    StartCharging,
    StopCharging,
    Suspend,
    Wait,
)
from .linkfactory import LinkUnavailable
from .observe import until_changed


class Actions(StepRunner):
    async def plug_in(self, spec: ConnectorEvent, timeout: float) -> None:
        self.ctx.station.plug_in(spec.connector)

    async def unplug(self, spec: ConnectorEvent, timeout: float) -> None:
        self.ctx.station.unplug(spec.connector)

    async def present_tag(self, spec: PresentTag, timeout: float) -> None:
        # The card reader does not wait for the CSMS: Authorize goes on in the background,
        # and the scenario checks its outcome with expectations.
        self.ctx.station.present_card(spec.connector, spec.id_tag)

    async def start_charging(self, spec: StartCharging, timeout: float) -> None:
        await self._transaction(spec.connector, timeout, "start charging")
        # resumes, at the EV's power
        self.ctx.station.suspend(spec.connector, False, spec.power_w)

    async def stop_charging(self, spec: StopCharging, timeout: float) -> None:
        await self._transaction(spec.connector, timeout, "stop")
        self.ctx.station.stop_transaction(spec.connector, spec.reason)

    async def suspend(self, spec: Suspend, timeout: float) -> None:
        await self._transaction(spec.connector, timeout, "suspend")
        if spec.by == "ev":
            self.ctx.station.set_ev(spec.connector, paused=True)
        else:
            self.ctx.station.suspend(spec.connector, True)

    async def set_ev(self, spec: EvChange, timeout: float) -> None:
        self.ctx.station.set_ev(
            spec.connector,
            capacity_wh=spec.capacity_wh,
            soc=spec.soc,
            max_current_a=spec.max_current_a,
            phases=spec.phases,
            power_w=spec.power_w,
            paused=spec.paused,
        )

    async def fault(self, spec: Fault, timeout: float) -> None:
        self.ctx.station.fault(spec.connector, spec.error_code)

    async def clear_fault(self, spec: ClearFault, timeout: float) -> None:
        self.ctx.station.clear_fault(spec.connector)

    async def wait(self, spec: Wait, timeout: float) -> None:
        if spec.seconds is not None:
            # what the charger does at exactly +N happens within the wait
            await asyncio.sleep(self.ctx.time.exact(spec.seconds))
            return
        assert spec.until is not None
        probe = self._event(spec.until, spec.connector)
        time = self.ctx.time
        # Under virtual time the limit is exact, its last instant included (the charger's own
        # state has no link latency to allow for); at a speed-up it is a bound on waiting.
        wait = time.exact(timeout) if time.virtual else time.window(timeout)
        if not await until_changed(self.ctx.station, probe, wait):
            where = f" on connector {spec.connector}" if spec.connector else ""
            raise StepFailed(
                f"{spec.until}{where} did not happen {self.within(timeout)}", *self.link_state()
            )

    def _event(self, until: str, connector: int | None) -> Callable[[], bool]:
        station = self.ctx.station
        ids = [connector] if connector else [c for c in station.connectors if c]

        def started() -> bool:
            return any(
                (tx := station.connectors[c].transaction) is not None
                and tx.transaction_id is not None
                for c in ids
            )

        def stopped() -> bool:
            return all(station.connectors[c].transaction is None for c in ids)

        events: dict[str, Callable[[], bool]] = {
            "connected": lambda: station.connected,
            "disconnected": lambda: not station.connected,
            "boot_accepted": lambda: station.online,
            "transaction_started": started,
            "transaction_stopped": stopped,
            "queue_empty": lambda: station.queued == 0,
        }
        return events[until]

    async def link_fault(self, spec: LinkFault, timeout: float) -> None:
        # What the CSMS received before the link broke is history: expectations look after it.
        self.ctx.cursor = max(self.ctx.cursor, self.ctx.observer.last_seq)
        if spec.duration:
            self.ctx.tap.network_down_for(self.ctx.time.real(spec.duration))
        try:
            await self.ctx.faults.inject(spec.kind)
        except LinkUnavailable as exc:
            raise StepFailed(str(exc)) from None

    async def _transaction(self, connector: int, timeout: float, what: str) -> None:
        station = self.ctx.station
        if not await until_changed(
            station,
            lambda: station.connectors[connector].transaction is not None,
            self.ctx.time.window(timeout),
        ):
            raise StepFailed(
                f"no transaction on connector {connector} to {what} {self.within(timeout)}"
            )
