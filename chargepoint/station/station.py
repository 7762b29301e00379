"""The charger itself: connectors, transactions, metering and configuration.

It outlives any one WebSocket: transactions and meter sampling go on while the
link is down, and their messages wait in the :class:`TransactionQueue`.  What
needs the CSMS goes through :attr:`Station.session`, set only while a link is up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .clock import Clock
from .config import Configuration
from .connector import Connector, Transaction
from .txqueue import TransactionQueue

if TYPE_CHECKING:
    from .session import ChargerSession

log = logging.getLogger("cpsim.station")

EV_POWER_W = 7360.0  # 32 A single phase


@dataclass
class Identity:
    charge_point_id: str
    vendor: str = "cpsim"
    model: str = "cpsim-ac"
    serial: str | None = None
    firmware: str = "cpsim-0.1"
    iccid: str | None = None
    imsi: str | None = None


class Offline(Exception):
    """The CSMS cannot be asked right now (no link, or boot not Accepted)."""


@dataclass
class StationOptions:
    connectors: int = 1
    state_dir: Path | None = None
    config_overrides: dict[str, str] = field(default_factory=dict)
    data_transfer_vendors: frozenset[str] = frozenset()
    time_scale: float = 1.0
    ev_power_w: float = EV_POWER_W
    auto_unplug_s: float = 2.0  # a remotely started EV leaves this long after its stop
    response_timeout: float = 30.0  # real seconds to wait for the CSMS's answer to a CALL


class Station:
    def __init__(self, identity: Identity, options: StationOptions) -> None:
        self.identity = identity
        self.options = options
        self.clock = Clock(options.time_scale)
        path = options.state_dir / "config.json" if options.state_dir else None
        self.config = Configuration(options.connectors, path, options.config_overrides)
        self.connectors = {i: Connector(i) for i in range(options.connectors + 1)}
        self.queue = TransactionQueue()
        self.session: ChargerSession | None = None
        self._next_local_tx = 1
        self._tasks: set[asyncio.Task[Any]] = set()
        self._meter_tasks: dict[int, asyncio.Task[None]] = {}
        self.reported: dict[int, str] = {}  # last status the CSMS was told, per connector
        self.auth_cache: set[str] = set()  # idTags the CSMS accepted (ClearCache empties it)

    # --- helpers -------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("%s failed: %s", task.get_name(), exc)

    def connector(self, connector_id: int) -> Connector:
        if connector_id not in self.connectors or connector_id == 0:
            raise ValueError(
                f"no connector {connector_id} (this charger has {self.options.connectors})"
            )
        return self.connectors[connector_id]

    def authorization_key(self) -> str | None:
        """The Basic auth password for the next connect: AuthorizationKey, None when unset.

        Links call this at every connect (Endpoint(password=station.authorization_key)),
        so a key the CSMS sets with ChangeConfiguration is used from the next link on.
        """
        return self.config.get("AuthorizationKey") or None

    def ping_interval(self) -> float:
        """WebSocketPingInterval for the next connect (0: no pings); links read it likewise."""
        return float(self.config.get_int("WebSocketPingInterval"))

    @property
    def online(self) -> bool:
        return self.session is not None and self.session.accepted

    async def request(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a non-transaction request now; raises :class:`Offline` when not possible."""
        if self.session is None or not self.session.accepted:
            raise Offline(f"{action}: not connected")
        return await self.session.request(action, payload)

    # --- status --------------------------------------------------------------------------

    def refresh_status(self, connector: Connector) -> None:
        new = connector.derived_status()
        if new == connector.status and self.reported.get(connector.id) == new:
            return
        connector.status = new
        log.info("connector %d: %s", connector.id, new)
        if self.online:
            self.reported[connector.id] = new
            self.queue.put("StatusNotification", self.status_payload(connector), volatile=True)

    def status_payload(self, connector: Connector) -> dict[str, Any]:
        return {
            "connectorId": connector.id,
            "errorCode": connector.error_code,
            "status": connector.status,
            "timestamp": self.clock.timestamp(),
        }

    # --- charger events (a person or a scenario acts on the charger) ---------------------

    def plug_in(self, connector_id: int) -> None:
        connector = self.connector(connector_id)
        connector.plugged = True
        self.refresh_status(connector)

    def unplug(self, connector_id: int) -> None:
        connector = self.connector(connector_id)
        connector.plugged = False
        connector.auto_plugged = False
        tx = connector.transaction
        if tx is not None and self.config.get_bool("StopTransactionOnEVSideDisconnect"):
            self.stop_transaction(connector_id, "EVDisconnected")
        else:
            self.refresh_status(connector)

    def fault(self, connector_id: int, error_code: str = "OtherError") -> None:
        connector = self.connectors[connector_id]
        connector.error_code = error_code
        self.refresh_status(connector)

    def clear_fault(self, connector_id: int) -> None:
        connector = self.connectors[connector_id]
        connector.error_code = "NoError"
        self.refresh_status(connector)

    def suspend(self, connector_id: int, suspended: bool = True) -> None:
        connector = self.connector(connector_id)
        connector.suspended = suspended
        now = self.clock.elapsed()
        has_tx = connector.transaction is not None
        connector.meter.set_power(0 if suspended or not has_tx else self.options.ev_power_w, now)
        self.refresh_status(connector)

    async def authorize(self, id_tag: str) -> str:
        """Ask the CSMS; offline, only a tag it accepted before (the cache) may start (§3.5)."""
        try:
            result = await self.request("Authorize", {"idTag": id_tag})
        except Offline:
            if self.config.get_bool("LocalAuthorizeOffline") and id_tag in self.auth_cache:
                return "Accepted"
            return "Invalid"
        status = str(result.get("idTagInfo", {}).get("status", "Invalid"))
        if status == "Accepted":
            self.auth_cache.add(id_tag)
        else:
            self.auth_cache.discard(id_tag)
        return status

    async def present_id_tag(self, connector_id: int, id_tag: str) -> str:
        """A card at the reader: stop this connector's transaction or start a new one."""
        connector = self.connector(connector_id)
        tx = connector.transaction
        if tx is not None:
            if tx.id_tag == id_tag:
                self.stop_transaction(connector_id, "Local")
                return "Accepted"
            status = await self.authorize(id_tag)
            if status == "Accepted":
                self.stop_transaction(connector_id, "Local")
            return status
        status = await self.authorize(id_tag)
        if status == "Accepted":
            self.start_transaction(connector_id, id_tag)
        return status

    # --- transactions --------------------------------------------------------------------

    def start_transaction(self, connector_id: int, id_tag: str) -> Transaction:
        connector = self.connector(connector_id)
        if connector.transaction is not None:
            raise ValueError(f"connector {connector_id} already has a transaction")
        now = self.clock.elapsed()
        if not connector.plugged:
            connector.plugged = True
            connector.auto_plugged = True
            self.refresh_status(connector)  # Preparing
        connector.meter.advance(now)
        tx = Transaction(
            self._next_local_tx,
            connector_id,
            id_tag,
            connector.meter.register,
            self.clock.timestamp(),
        )
        self._next_local_tx += 1
        connector.transaction = tx
        self.queue.put(
            "StartTransaction",
            {
                "connectorId": connector_id,
                "idTag": id_tag,
                "meterStart": tx.meter_start,
                "timestamp": tx.started,
            },
            tx.local_id,
        )
        connector.meter.set_power(0 if connector.suspended else self.options.ev_power_w, now)
        self.refresh_status(connector)  # Charging
        self._meter_tasks[connector_id] = self.spawn(
            self._sample(connector), f"meter-{connector_id}"
        )
        return tx

    def stop_transaction(self, connector_id: int, reason: str = "Local") -> Transaction | None:
        connector = self.connector(connector_id)
        tx = connector.transaction
        if tx is None:
            return None
        task = self._meter_tasks.pop(connector_id, None)
        if task is not None:
            task.cancel()
        now = self.clock.elapsed()
        connector.meter.set_power(0, now)
        tx.stop_reason = reason
        payload: dict[str, Any] = {
            "meterStop": connector.meter.register,
            "timestamp": self.clock.timestamp(),
            "reason": reason,
            "idTag": tx.id_tag,
        }
        if tx.transaction_id is not None:
            payload["transactionId"] = tx.transaction_id
        stop_data = self.config.get_list("StopTxnSampledData")
        if stop_data:
            payload["transactionData"] = [self.meter_value(connector, "Transaction.End", stop_data)]
        self.queue.put("StopTransaction", payload, tx.local_id)
        connector.transaction = None
        connector.suspended = False
        if connector.pending_operative is not None:
            connector.operative = connector.pending_operative
            connector.pending_operative = None
        if connector.plugged and connector.operative:
            connector.status = "Finishing"
        self._apply_scheduled_availability()  # connector 0's change: may include this one
        self.refresh_status(connector)
        if connector.auto_plugged and self.options.auto_unplug_s >= 0:
            self.spawn(self._auto_unplug(connector), f"unplug-{connector_id}")
        return tx

    async def _auto_unplug(self, connector: Connector) -> None:
        await self.clock.sleep(self.options.auto_unplug_s)
        if connector.auto_plugged and connector.transaction is None:
            self.unplug(connector.id)

    def transaction_by_id(self, transaction_id: int) -> Transaction | None:
        for connector in self.connectors.values():
            tx = connector.transaction
            if tx is not None and tx.transaction_id == transaction_id:
                return tx
        return None

    # --- metering ------------------------------------------------------------------------

    def meter_value(
        self, connector: Connector, context: str, measurands: list[str] | None = None
    ) -> dict[str, Any]:
        connector.meter.advance(self.clock.elapsed())
        wanted = (
            measurands if measurands is not None else self.config.get_list("MeterValuesSampledData")
        )
        readings = {
            "Energy.Active.Import.Register": (str(connector.meter.register), "Wh"),
            "Power.Active.Import": (str(int(connector.meter.power_w)), "W"),
            "Current.Import": (f"{connector.meter.current_a:.1f}", "A"),
            "Voltage": ("230.0", "V"),
        }
        sampled = []
        for measurand in wanted:
            if measurand in readings:
                value, unit = readings[measurand]
                sampled.append(
                    {"value": value, "context": context, "measurand": measurand, "unit": unit}
                )
        return {"timestamp": self.clock.timestamp(), "sampledValue": sampled}

    def meter_values_payload(self, connector: Connector, context: str) -> dict[str, Any]:
        """MeterValues for ``connector`` now, with its transaction's id once the CSMS gave
        one (for a transaction started offline the queue fills it in when it is known)."""
        payload: dict[str, Any] = {
            "connectorId": connector.id,
            "meterValue": [self.meter_value(connector, context)],
        }
        tx = connector.transaction
        if tx is not None and tx.transaction_id is not None:
            payload["transactionId"] = tx.transaction_id
        return payload

    async def _sample(self, connector: Connector) -> None:
        while connector.transaction is not None:
            interval = self.config.get_int("MeterValueSampleInterval")
            if interval <= 0:
                await self.clock.sleep(5)
                continue
            await self.clock.sleep(interval)
            tx = connector.transaction
            if tx is None:
                return
            payload = self.meter_values_payload(connector, "Sample.Periodic")
            self.queue.put("MeterValues", payload, tx.local_id)

    # --- availability --------------------------------------------------------------------

    def change_availability(self, connector_id: int, operative: bool) -> str:
        """ChangeAvailability (§5.2): connector 0 is the charger and every connector.

        A change that would touch a connector with a transaction is answered
        Scheduled and made, whole, when the transaction ends (for connector 0: when
        the last one ends); a change to the state already in force is Accepted.
        """
        targets = (
            list(self.connectors.values()) if connector_id == 0 else [self.connectors[connector_id]]
        )
        if all(c.operative == operative for c in targets):
            for connector in targets:
                connector.pending_operative = None  # cancels an opposite scheduled change
            return "Accepted"
        if any(c.transaction is not None for c in targets):
            targets[0].pending_operative = operative
            return "Scheduled"
        for connector in targets:
            connector.operative = operative
            connector.pending_operative = None
            self.refresh_status(connector)
        return "Accepted"

    def _apply_scheduled_availability(self) -> None:
        """Make connector 0's scheduled change once no transaction runs any more."""
        zero = self.connectors[0]
        if zero.pending_operative is None or any(
            c.transaction is not None for c in self.connectors.values()
        ):
            return
        operative, zero.pending_operative = zero.pending_operative, None
        for connector in self.connectors.values():
            connector.operative = operative
            connector.pending_operative = None
            self.refresh_status(connector)

    async def shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
