"""Metering (OCPP 1.6 §3.16, §4.7, §7.31): the power each connector delivers, its
energy register, and the MeterValues that report them.

**Power.**  A connector in a transaction delivers the least of what its EV asks for
(:mod:`.ev`), the charger's rating and the connector's smart-charging limit for the
phases in use (§2.9 of the profiles reference, §3.13.3).  When the connectors
together would take more than the ChargePointMaxProfile allows, they share it
max-min fairly: each gets an equal share, and what a connector does not take goes to
the others (the spec leaves the strategy open); a limit in W is shared as power, one
in A as current on L1, the phase every EV draws on.  The power is re-evaluated when a
limit may change (the next boundary is one ``metering:limit`` timer), when the
limits change (:meth:`Metering.limits_changed`), when a transaction starts or ends,
when the EV changes or reaches a step of its charging curve (a ``metering:ev:<id>``
timer armed for that very instant) and at every sample.  Between two evaluations it
is constant, so the register integrates it exactly and an increment never exceeds
what was offered.

**Status.**  A limit of 0 makes SuspendedEVSE, an EV that wants nothing (full, or
paused) SuspendedEV; SuspendedEVSE wins when both hold (§4.9).

**MeterValues.**  Sampled (``MeterValueSampleInterval``, ``MeterValuesSampledData``,
context Sample.Periodic) while a transaction runs; clock-aligned
(``ClockAlignedDataInterval`` from midnight on the charger's wall clock,
``MeterValuesAlignedData``, context Sample.Clock) for every connector and for
connector 0, the main meter (the sum of the connectors), whether or not a
transaction runs (§3.16.2, §4.7: without a transaction the transactionId is left
out); on TriggerMessage with context Trigger (E3.46).  ``StopTxnSampledData`` and
``StopTxnAlignedData`` are collected during the transaction into StopTransaction's
transactionData (Transaction.Begin, the samples, Transaction.End), at most
``StopTransactionMaxMeterValues`` of them: beyond that the oldest after the first
are dropped; they are kept in the store, so a power loss loses none
(:mod:`.transaction_data`).  Clock-aligned values of an idle connector are sent only
while the CSMS has accepted the charger (they are not queued offline).
"""

from __future__ import annotations

from typing import Any

from chargepoint.timefmt import format_epoch

from .actions import ArmTimer, CancelTimer, SaveRegister
from .base import CoreBase
from .connectors import Connector
from .ev import BatteryEv, ChargerRating, EvModel, FixedPowerEv, InvalidEv, offered_w
from .meter_readings import Reading, next_aligned, sampled_values, share_power
from .records import StoredState, TransactionRecord
from .settings import CoreSettings, Identity
from .transaction_data import TransactionData

ALIGNED_SLACK_S = 1.0
"""A clock-aligned reading taken this close to its boundary is stamped with it."""
TIMER_PREFIX = "metering:"


class Metering(CoreBase):
    """The metering layer; the connectors and their statuses belong to the layer above
    (:mod:`.station_ops`), which provides ``connectors``, ``refresh_status`` and
    ``deliverable``."""

    connectors: dict[int, Connector]
    ev_power_w: float

    def __init__(
        self, identity: Identity, settings: CoreSettings, stored: StoredState, now: float
    ) -> None:
        super().__init__(identity, settings, stored, now)
        self.rating = ChargerRating(settings.max_current_a, settings.phases, settings.voltage)
        self._sample_at: dict[int, float] = {}
        self._timers_armed: dict[str, float] = {}
        """Timers of this layer armed and not fired, with their deadline."""
        self._aligned_due: float | None = None
        """The wall time of the clock-aligned reading the ``metering:aligned`` timer is for."""
        self._tx_data = TransactionData()
        """StopTransaction's transactionData collected so far (and kept in the store)."""
        open_tx = {tx.local_id for tx in stored.transactions}
        for change in self._tx_data.restore(stored.values, open_tx):
            self.emit(change)
        self._arm_aligned()

    # --- provided by the station layer ----------------------------------------------------

    def refresh_status(self, connector: Connector) -> None:
        raise NotImplementedError

    def deliverable(self, tx: TransactionRecord) -> bool:
        raise NotImplementedError

    # --- the EV ---------------------------------------------------------------------------

    def ev_of(self, connector: Connector) -> EvModel:
        """The connector's EV: the fixed-power one of the settings until told otherwise."""
        if connector.meter.ev is None:
            connector.meter.ev = FixedPowerEv(self.ev_power_w)
        return connector.meter.ev

    def set_ev(
        self,
        connector_id: int,
        capacity_wh: float | None = None,
        soc: float | None = None,
        max_current_a: float | None = None,
        phases: int | None = None,
        power_w: float | None = None,
        paused: bool | None = None,
    ) -> None:
        """Change the EV at a connector: ``power_w`` makes it a fixed-power EV; any of the
        battery fields makes it a battery EV (the fields not given kept, or defaulted)."""
        connector = self.connectors.get(connector_id)
        if connector is None or connector_id == 0:
            raise InvalidEv(
                f"no connector {connector_id} (this charger has {len(self.connectors) - 1})"
            )
        battery = {"capacity_wh": capacity_wh, "max_current_a": max_current_a, "phases": phases}
        given = {k: v for k, v in battery.items() if v is not None}
        if power_w is not None and (given or soc is not None):
            raise InvalidEv("an EV has either a fixed power or a battery (capacity, SoC, ...)")
        self.integrate(connector)
        ev = self.ev_of(connector)
        if power_w is not None:
            ev = FixedPowerEv(power_w, ev.paused)
        elif given or soc is not None:
            old = ev if isinstance(ev, BatteryEv) else BatteryEv(paused=ev.paused)
            percent = soc if soc is not None else old.soc()
            fields = {
                "capacity_wh": old.capacity_wh,
                "max_current_a": old.max_current_a,
                "phases": old.phases,
            } | given
            ev = BatteryEv(
                capacity_wh=float(fields["capacity_wh"]),
                max_current_a=float(fields["max_current_a"]),
                phases=int(fields["phases"]),
                paused=old.paused,
                initial_soc=percent if percent is not None else 0.0,
            )
        if paused is not None:
            ev.paused = paused
        connector.meter.ev = ev
        if power_w is not None or given or soc is not None:
            self.timeline("ev", connector_id, **_describe(ev))
        self.update_power()

    # --- power ----------------------------------------------------------------------------

    def integrate(self, connector: Connector) -> None:
        """Bring the connector's register (and its EV's battery) up to now."""
        connector.meter.advance(self.now)

    def update_power(self) -> None:
        """Re-evaluate the power of every connector now (see the module's docstring)."""
        charging = [c for c in self.connectors.values() if c.id and c.transaction is not None]
        for connector in self.connectors.values():
            self.integrate(connector)
        caps: dict[int, float] = {}
        wants: dict[int, float] = {}
        demands: dict[int, float] = {}
        phases: dict[int, int] = {}
        for connector in charging:
            ev = self.ev_of(connector)
            phases[connector.id] = ev.phases_on(self.rating)
            limit = self.charging_limit(connector.id)
            limit_w = (
                None if limit is None else limit.watts(phases[connector.id], self.rating.voltage)
            )
            caps[connector.id] = offered_w(self.rating, phases[connector.id], limit_w)
            demands[connector.id] = ev.demand_w(self.rating) if connector.plugged else 0.0
            wants[connector.id] = (
                0.0
                if self._offers_nothing(connector)
                else min(demands[connector.id], caps[connector.id])
            )
        station = self.station_limit()
        # What the station limit counts, in watts per unit: a W limit is the total power;
        # an A limit the current of each phase (§7.12), and as every EV draws on L1, the
        # sum of the connectors' currents on L1 is what it bounds (two single-phase EVs
        # under 10 A share 10 A, not 10 A each).
        per_unit = {
            k: 1.0 if station is None or station.unit == "W" else self.rating.voltage * n
            for k, n in phases.items()
        }
        total = None if station is None else station.value
        shares = (
            None
            if total is None
            else share_power({k: w / per_unit[k] for k, w in wants.items()}, total)
        )
        powers = wants if shares is None else {k: u * per_unit[k] for k, u in shares.items()}
        for connector in charging:
            cid = connector.id
            cap = caps[cid]
            if total is not None and shares is not None:
                others = sum(u for k, u in shares.items() if k != cid)
                cap = min(cap, max(0.0, total - others) * per_unit[cid])
            connector.limited = cap <= 0
            connector.ev_idle = demands[cid] <= 0
            offered = 0.0 if self._offers_nothing(connector) else cap
            connector.meter.set_power(powers[cid], self.now, phases[cid], offered)
            self._arm_ev_timer(connector)
            self.refresh_status(connector)
        self._arm_limit_timer()
        self._arm_aligned()

    def _offers_nothing(self, connector: Connector) -> bool:
        """The charger offers the connector nothing: suspended (§3.5.4, or by hand), or
        faulted, itself or the whole charger (§4.9 C9)."""
        codes = (connector.error_code, self.connectors[0].error_code)
        return connector.suspended or any(code != "NoError" for code in codes)

    def update_power_soon(self) -> None:
        """Re-evaluate as soon as the core is whole (a restored transaction, while the
        layers above are still being built)."""
        self._arm_timer(f"{TIMER_PREFIX}power", self.now)

    def stop_power(self, connector: Connector) -> None:
        """The connector's transaction ends: no more power, nothing suspended."""
        self.integrate(connector)
        connector.meter.set_power(0.0, self.now, connector.meter.phases, 0.0)
        connector.limited = connector.ev_idle = False
        self._cancel_timer(f"{TIMER_PREFIX}ev:{connector.id}")

    def _arm_ev_timer(self, connector: Connector) -> None:
        name = f"{TIMER_PREFIX}ev:{connector.id}"
        power = connector.meter.power_w
        wh = self.ev_of(connector).wh_to_next_step()
        if power > 0 and wh is not None:
            self._arm_timer(name, self.now + wh / power * 3600)
        else:
            self._cancel_timer(name)

    def _arm_limit_timer(self) -> None:
        at = self.next_limit_change()
        if at is not None and at > self.now:
            self._arm_timer(f"{TIMER_PREFIX}limit", at)
        else:
            self._cancel_timer(f"{TIMER_PREFIX}limit")

    def limits_changed(self) -> None:
        super().limits_changed()
        self.update_power()

    def transaction_started(self, tx: TransactionRecord) -> None:
        super().transaction_started(tx)
        begin = self.config.get_list("StopTxnSampledData")
        connector = self.connectors[tx.connector_id]
        if begin:
            self._collect(tx, self.meter_value(connector, "Transaction.Begin", begin))

    def transaction_stopped(self, tx: TransactionRecord, reason: str) -> None:
        super().transaction_stopped(tx, reason)
        for change in self._tx_data.take(tx.local_id)[1]:
            self.emit(change)  # normally none left: the StopTransaction took them
        self.update_power()  # what it took, the others may now have

    # --- timers ---------------------------------------------------------------------------

    def _arm_timer(self, name: str, at: float) -> None:
        if self._timers_armed.get(name) != at:
            self._timers_armed[name] = at
            self.emit(ArmTimer(name, at))

    def _cancel_timer(self, name: str) -> None:
        if self._timers_armed.pop(name, None) is not None:
            self.emit(CancelTimer(name))

    def layer_timer(self, name: str) -> bool:
        if not name.startswith(TIMER_PREFIX):
            return super().layer_timer(name)
        self._timers_armed.pop(name, None)
        if name == f"{TIMER_PREFIX}aligned":
            self._aligned()
        else:  # metering:limit, metering:ev:<id>, metering:power
            self.update_power()
        return True

    def rearm_sampling(self) -> None:
        for connector in self.connectors.values():
            if connector.transaction is not None:
                self._arm_sample(connector.id, self.now)

    def config_changed(self, key: str) -> None:
        super().config_changed(key)
        if key == "ClockAlignedDataInterval":
            self._aligned_due = None
            self._arm_aligned()

    # --- sampled meter values (§3.16.1) ---------------------------------------------------

    def _arm_sample(self, connector_id: int, since: float) -> None:
        interval = self.config.get_int("MeterValueSampleInterval")
        if interval <= 0:
            self._sample_at.pop(connector_id, None)
            self.emit(CancelTimer(f"sample:{connector_id}"))
            return
        self._sample_at[connector_id] = since + interval
        self.emit(ArmTimer(f"sample:{connector_id}", since + interval))

    def stop_sampling(self, connector_id: int) -> None:
        self.emit(CancelTimer(f"sample:{connector_id}"))
        self._sample_at.pop(connector_id, None)

    def _sample(self, connector_id: int) -> None:
        connector = self.connectors[connector_id]
        tx = connector.transaction
        due = self._sample_at.get(connector_id)
        if tx is None or due is None:
            return
        self.update_power()
        wanted = self.config.get_list("MeterValuesSampledData")
        payload = self.meter_values_payload(connector, "Sample.Periodic", wanted)
        if payload["meterValue"][0]["sampledValue"] and self.deliverable(tx):
            self.enqueue("MeterValues", payload, tx.local_id)  # nothing measured: nothing sent
        stop_data = self.config.get_list("StopTxnSampledData")
        if stop_data:
            self._collect(tx, self.meter_value(connector, "Sample.Periodic", stop_data))
        self._save_register(connector)
        # The next sample follows the previous deadline, never "interval after the work".
        self._arm_sample(connector_id, due)

    def _save_register(self, connector: Connector) -> None:
        self.integrate(connector)
        self.emit(SaveRegister(connector.id, connector.meter.energy_wh, self.timestamp()))
        self.timeline(
            "meter",
            connector.id,
            energyWh=round(connector.meter.energy_wh, 3),
            powerW=connector.meter.power_w,
        )

    # --- clock-aligned meter values (§3.16.2) ---------------------------------------------

    def _arm_aligned(self) -> None:
        interval = self.config.get_int("ClockAlignedDataInterval")
        name = f"{TIMER_PREFIX}aligned"
        if interval <= 0:
            self._aligned_due = None
            self._cancel_timer(name)
            return
        if self._aligned_due is None or abs(self._aligned_due - self.wall()) > interval:
            # none yet, or the wall clock jumped (the CSMS's time adopted): from now on
            self._aligned_due = next_aligned(self.wall(), interval)
        # on the charger's clock: moves with the offset adopted from the CSMS
        self._arm_timer(name, self._aligned_due - self.offset)

    def wall_clock_changed(self) -> None:
        """The offset adopted from the CSMS changed: the next boundary is on the new clock
        (a boundary the jump skipped is not read; one it brings back is read again)."""
        self._aligned_due = None
        self._arm_aligned()

    def _aligned(self) -> None:
        due, interval = self._aligned_due, self.config.get_int("ClockAlignedDataInterval")
        if due is None or interval <= 0 or abs(self.wall() - due) > interval:
            self._arm_aligned()  # off, or the wall clock jumped: no reading of a lost instant
            return
        if self.wall() < due - 1e-6:  # the wall clock was set back a little: not yet
            self._arm_timer(f"{TIMER_PREFIX}aligned", due - self.offset)
            return
        self._aligned_due = next_aligned(max(self.wall(), due), interval)
        self.update_power()  # arms the next one
        stamp = format_epoch(due) if self.wall() - due < ALIGNED_SLACK_S else None
        wanted = self.config.get_list("MeterValuesAlignedData")
        stop_data = self.config.get_list("StopTxnAlignedData")
        for connector in self.connectors.values():
            tx = connector.transaction
            value = self.meter_value(connector, "Sample.Clock", wanted, stamp)
            if value["sampledValue"]:
                payload: dict[str, Any] = {"connectorId": connector.id, "meterValue": [value]}
                if tx is not None:
                    if tx.transaction_id is not None:
                        payload["transactionId"] = tx.transaction_id
                    if self.deliverable(tx):
                        self.enqueue("MeterValues", payload, tx.local_id)
                elif self.accepted:  # grid billing data of an idle connector: not queued offline
                    self.enqueue("MeterValues", payload)
            if tx is not None and stop_data:
                self._collect(tx, self.meter_value(connector, "Sample.Clock", stop_data, stamp))

    # --- StopTransaction's transactionData ------------------------------------------------

    def _collect(self, tx: TransactionRecord, value: dict[str, Any]) -> None:
        if not value["sampledValue"]:
            return
        limit = self.config.get_int("StopTransactionMaxMeterValues")
        for change in self._tx_data.add(tx.local_id, value, limit):
            self.emit(change)

    def stop_transaction_data(
        self, tx: TransactionRecord, connector: Connector | None
    ) -> list[dict[str, Any]]:
        """The transactionData of ``tx``'s StopTransaction (empty: leave the field out,
        §3.16.5); without ``connector`` (a power loss) no end reading is added.  The
        StopTransaction is queued (persisted) with them, so the store forgets them."""
        end = self.config.get_list("StopTxnSampledData")
        if connector is not None and end:
            self._collect(tx, self.meter_value(connector, "Transaction.End", end))
        data, forget = self._tx_data.take(tx.local_id)
        for change in forget:
            self.emit(change)
        return data

    # --- readings -------------------------------------------------------------------------

    def reading(self, connector: Connector) -> Reading:
        """What the connector's meter shows now; connector 0 shows the sum of all."""
        voltage = self.rating.voltage
        if connector.id == 0:
            parts = [self.reading(c) for c in self.connectors.values() if c.id]
            currents = tuple(sum(p.currents_a[i] for p in parts) for i in range(self.rating.phases))
            offered = sum(p.offered_w for p in parts)
            station = self.station_limit()
            if station is not None:
                offered = min(offered, station.watts(self.rating.phases, voltage))
            return Reading(
                energy_wh=sum(p.energy_wh for p in parts),
                power_w=sum(p.power_w for p in parts),
                currents_a=currents,
                voltage=voltage,
                offered_w=offered,
                offered_a=offered / (voltage * self.rating.phases),
                soc=None,
                main=True,
            )
        self.integrate(connector)
        meter = connector.meter
        in_use = meter.phases
        amps = meter.power_w / (voltage * in_use)
        return Reading(
            energy_wh=meter.energy_wh,
            power_w=meter.power_w,
            currents_a=tuple(amps if i < in_use else 0.0 for i in range(self.rating.phases)),
            voltage=voltage,
            offered_w=meter.offered_w,
            offered_a=meter.offered_w / (voltage * in_use),
            soc=self.ev_of(connector).soc(),
        )

    def meter_value(
        self,
        connector: Connector,
        context: str,
        measurands: list[str] | None = None,
        timestamp: str | None = None,
    ) -> dict[str, Any]:
        wanted = (
            measurands if measurands is not None else self.config.get_list("MeterValuesSampledData")
        )
        return {
            "timestamp": timestamp or self.timestamp(),
            "sampledValue": sampled_values(self.reading(connector), wanted, context),
        }

    def meter_values_payload(
        self, connector: Connector, context: str, measurands: list[str] | None = None
    ) -> dict[str, Any]:
        """MeterValues for ``connector`` now, with its transaction's id once the CSMS gave
        one (for a transaction started offline the queue fills it in when it is known)."""
        payload: dict[str, Any] = {
            "connectorId": connector.id,
            "meterValue": [self.meter_value(connector, context, measurands)],
        }
        tx = connector.transaction
        if tx is not None and tx.transaction_id is not None:
            payload["transactionId"] = tx.transaction_id
        return payload


def _describe(ev: EvModel) -> dict[str, Any]:
    if isinstance(ev, BatteryEv):
        return {
            "capacityWh": ev.capacity_wh,
            "soc": round(ev.soc() or 0.0, 1),
            "maxCurrentA": ev.max_current_a,
            "phases": ev.phases,
            "paused": ev.paused,
        }
    if isinstance(ev, FixedPowerEv):
        return {"powerW": ev.power_w, "paused": ev.paused}
    return {}
