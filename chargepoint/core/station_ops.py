"""What happens at the charger: connectors and their status (§4.9), authorization
(§3.5, §5.4), transactions (§4.8, §4.10), metering (§4.7) and availability (§5.2).

Transactions live in the store from the moment they start; every message about
them goes through the persisted queue.  A restart finds the transactions a power
loss interrupted and ends them (StopTransaction, reason PowerLoss, meterStop from
the last persisted register) unless ResumeTransactionsAfterPowerLoss is true.
"""

from __future__ import annotations

import logging
from typing import Any

from .actions import (
    ArmTimer,
    CancelTimer,
    DeleteQueued,
    DeleteTransaction,
    Outcome,
    SaveAvailability,
    SaveQueued,
    SaveRegister,
    SaveTransaction,
)
from .base import CoreBase
from .connectors import Connector
from .records import QueuedMessage, StoredState, TransactionRecord
from .settings import CoreSettings, Identity

log = logging.getLogger("cpsim.core")

REGISTER_SAVE_S = 60.0
"""Charger seconds between saves of a charging connector's energy register, whatever the
sample interval: a power loss costs at most this much energy in its StopTransaction."""

READINGS = {
    "Energy.Active.Import.Register": "Wh",
    "Power.Active.Import": "W",
    "Current.Import": "A",
    "Voltage": "V",
}


class StationOps(CoreBase):
    def __init__(
        self, identity: Identity, settings: CoreSettings, stored: StoredState, now: float
    ) -> None:
        super().__init__(identity, settings, stored, now)
        self.connectors = {i: Connector(i) for i in range(settings.connectors + 1)}
        self.ev_power_w = settings.ev_power_w
        self.reported: dict[int, str] = {}
        """The status the CSMS was last told, per connector."""
        self._sample_at: dict[int, float] = {}
        for cid, operative in stored.availability.items():
            if cid in self.connectors:
                self.connectors[cid].operative = operative
                self.connectors[cid].status = self.connectors[cid].derived_status()
        for cid, reading in stored.registers.items():
            if cid in self.connectors:
                self.connectors[cid].meter.energy_wh = reading.energy_wh
        self._readings = dict(stored.registers)
        self.outbox.ordered.extend(stored.queue)
        for tx in stored.transactions:
            self._restore(tx)

    # --- connectors -------------------------------------------------------------------

    def connector(self, connector_id: int) -> Connector:
        if connector_id not in self.connectors or connector_id == 0:
            raise ValueError(
                f"no connector {connector_id} (this charger has {self.settings.connectors})"
            )
        return self.connectors[connector_id]

    def refresh_status(self, connector: Connector) -> None:
        new = connector.derived_status()
        if new == connector.status and self.reported.get(connector.id) == new:
            return
        if new != connector.status:
            connector.status = new
            self.timeline("status", connector.id, status=new, errorCode=connector.error_code)
        if self.accepted:
            self.reported[connector.id] = new
            self.enqueue_status(self.status_payload(connector))

    def status_payload(self, connector: Connector) -> dict[str, Any]:
        return {
            "connectorId": connector.id,
            "errorCode": connector.error_code,
            "status": connector.status,
            "timestamp": self.timestamp(),
        }

    def report_all_statuses(self) -> None:
        """After an Accepted boot: every connector's status (E3.22), taken as one snapshot;
        changes queued before it are superseded by it."""
        self.outbox.drop_statuses()
        for connector in self.connectors.values():
            self.reported[connector.id] = connector.status
            self.send_urgent("StatusNotification", self.status_payload(connector))

    def plug_in(self, connector_id: int) -> None:
        connector = self.connector(connector_id)
        connector.plugged = True
        self.refresh_status(connector)

    def unplug(self, connector_id: int) -> None:
        connector = self.connector(connector_id)
        connector.plugged = False
        connector.auto_plugged = False
        if connector.transaction is not None and self.config.get_bool(
            "StopTransactionOnEVSideDisconnect"
        ):
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

    def suspend(self, connector_id: int, suspended: bool, power_w: float | None = None) -> None:
        connector = self.connector(connector_id)
        if power_w is not None:
            self.ev_power_w = power_w
        connector.suspended = suspended
        has_tx = connector.transaction is not None
        connector.meter.set_power(0 if suspended or not has_tx else self.ev_power_w, self.now)
        self.refresh_status(connector)

    def any_transaction(self) -> bool:
        return any(c.transaction is not None for c in self.connectors.values())

    def transaction_by_id(self, transaction_id: int) -> TransactionRecord | None:
        for connector in self.connectors.values():
            tx = connector.transaction
            if tx is not None and tx.transaction_id == transaction_id:
                return tx
        return None

    # --- authorization (§3.5) ---------------------------------------------------------

    def present_id_tag(self, connector_id: int, id_tag: str, token: str = "") -> None:
        """A card at the reader: stop this connector's transaction or start a new one."""
        connector = self.connector(connector_id)
        tx = connector.transaction
        if tx is not None and tx.id_tag == id_tag:
            self.stop_transaction(connector_id, "Local")
            self.emit(Outcome(token, "Accepted"))
            return

        def decided(status: str) -> None:
            self.timeline("authorize", connector_id, idTag=id_tag, status=status)
            self.emit(Outcome(token, status))
            if status != "Accepted":
                return
            if connector.transaction is not None:
                self.stop_transaction(connector_id, "Local")
            elif connector.operative and connector.error_code == "NoError":
                self.start_transaction(connector_id, id_tag)

        self.authorize(id_tag, decided)

    def authorize(self, id_tag: str, decided: Any) -> None:
        """Ask the CSMS; offline, the cache decides (LocalAuthorizeOffline, §3.5.2); online
        with LocalPreAuthorize, a cached Accepted starts at once."""
        cached = self.auth_cache.get(id_tag)
        if self.accepted and not (
            cached is not None
            and cached.status == "Accepted"
            and self.config.get_bool("LocalPreAuthorize")
        ):

            def answered(result: dict[str, Any]) -> None:
                status = str(result.get("idTagInfo", {}).get("status", "Invalid"))
                self.record_auth(id_tag, status)
                decided(status)

            self.send_urgent(
                "Authorize",
                {"idTag": id_tag},
                on_result=answered,
                on_failure=lambda _reason: decided(self._offline_decision(id_tag)),
            )
            return
        decided(self._offline_decision(id_tag) if not self.accepted else "Accepted")

    def _offline_decision(self, id_tag: str) -> str:
        cached = self.auth_cache.get(id_tag)
        if self.config.get_bool("LocalAuthorizeOffline") and cached and cached.status == "Accepted":
            return "Accepted"
        return "Invalid"

    # --- transactions -----------------------------------------------------------------

    def start_transaction(self, connector_id: int, id_tag: str) -> TransactionRecord | None:
        connector = self.connector(connector_id)
        if connector.transaction is not None:
            log.warning("connector %d already has a transaction", connector_id)
            return None
        if not connector.plugged:
            connector.plugged = True
            connector.auto_plugged = True
            self.refresh_status(connector)  # Preparing
        connector.meter.advance(self.now)
        tx = TransactionRecord(
            self.next_number("next_local_tx"),
            connector_id,
            id_tag,
            connector.meter.register,
            self.timestamp(),
        )
        connector.transaction = tx
        self.emit(SaveTransaction(tx))
        self._save_register(connector)
        self.enqueue(
            "StartTransaction",
            {
                "connectorId": connector_id,
                "idTag": id_tag,
                "meterStart": tx.meter_start,
                "timestamp": tx.started,
                **self.start_extras(connector_id, id_tag),
            },
            tx.local_id,
        )
        self.timeline(
            "transaction",
            connector_id,
            started=tx.local_id,
            idTag=id_tag,
            meterStart=tx.meter_start,
        )
        power = 0 if connector.suspended else self.ev_power_w
        connector.meter.set_power(power, self.now)
        self.refresh_status(connector)  # Charging
        self._arm_sample(connector_id, self.now)
        self.emit(ArmTimer(f"register:{connector_id}", self.now + REGISTER_SAVE_S))
        self.transaction_started(tx)
        return tx

    def stop_transaction(
        self, connector_id: int, reason: str = "Local"
    ) -> TransactionRecord | None:
        connector = self.connector(connector_id)
        tx = connector.transaction
        if tx is None:
            return None
        self.emit(CancelTimer(f"sample:{connector_id}"))
        self.emit(CancelTimer(f"register:{connector_id}"))
        self._sample_at.pop(connector_id, None)
        connector.meter.set_power(0, self.now)
        self._queue_stop(tx, connector.meter.register, self.timestamp(), reason, connector)
        connector.transaction = None
        connector.suspended = False
        if connector.pending_operative is not None:
            self._set_operative(connector, connector.pending_operative)
        if connector.plugged and connector.operative:
            connector.status = "Finishing"
        self._apply_scheduled_availability()
        self.refresh_status(connector)
        if connector.auto_plugged and self.settings.auto_unplug_s >= 0:
            self.emit(ArmTimer(f"unplug:{connector_id}", self.now + self.settings.auto_unplug_s))
        self.transaction_stopped(tx, reason)
        if not self.any_transaction():
            self.transactions_ended()
        return tx

    def _queue_stop(
        self,
        tx: TransactionRecord,
        meter_stop: int,
        timestamp: str,
        reason: str,
        connector: Connector | None,
    ) -> None:
        payload: dict[str, Any] = {
            "meterStop": meter_stop,
            "timestamp": timestamp,
            "reason": reason,
            "idTag": tx.id_tag,
        }
        if tx.transaction_id is not None:
            payload["transactionId"] = tx.transaction_id
        stop_data = self.config.get_list("StopTxnSampledData")
        if stop_data and connector is not None:
            payload["transactionData"] = [self.meter_value(connector, "Transaction.End", stop_data)]
        if connector is not None:
            self._save_register(connector)
        if self.deliverable(tx):
            self.enqueue("StopTransaction", payload, tx.local_id)
        else:
            log.error(
                "transaction %d ends unreported: its StartTransaction was given up", tx.local_id
            )
        self.emit(DeleteTransaction(tx.local_id))
        self.timeline(
            "transaction", tx.connector_id, stopped=tx.local_id, reason=reason, meterStop=meter_stop
        )

    def _restore(self, tx: TransactionRecord) -> None:
        """A transaction open when the charger lost power."""
        connector = self.connectors.get(tx.connector_id)
        if connector is None or connector.id == 0:
            log.warning(
                "stored transaction %d on connector %d, which this charger does not have: ended",
                tx.local_id,
                tx.connector_id,
            )
            connector = None
        elif self.config.get_bool("ResumeTransactionsAfterPowerLoss"):
            connector.transaction = tx
            connector.plugged = True
            connector.status = connector.derived_status()
            connector.meter.set_power(self.ev_power_w, self.now)
            self.timeline("transaction", tx.connector_id, resumed=tx.local_id)
            self._arm_sample(tx.connector_id, self.now)
            self.emit(ArmTimer(f"register:{tx.connector_id}", self.now + REGISTER_SAVE_S))
            return
        reading = self._readings.get(tx.connector_id)
        register = int(reading.energy_wh) if reading else tx.meter_start
        when = reading.timestamp if reading else tx.started
        # The power loss's StopTransaction: sampled data would be of now, not of the loss.
        self._queue_stop(tx, max(register, tx.meter_start), when, "PowerLoss", None)

    def queued_answered(self, message: QueuedMessage, result: dict[str, Any]) -> None:
        info = result.get("idTagInfo")
        if isinstance(info, dict) and "idTag" in message.payload:
            # §3.5.1, §4.8, §4.10: the answers' idTagInfo updates the Authorization Cache
            self.record_auth(str(message.payload["idTag"]), str(info.get("status", "Invalid")))
        if message.action != "StartTransaction":
            return
        transaction_id = int(result["transactionId"])
        # The transaction's later messages, queued before its id was known, get it now.
        for queued in self.outbox.of_transaction(message.local_tx):
            queued.payload["transactionId"] = transaction_id
            self.emit(SaveQueued(queued))
        status = result.get("idTagInfo", {}).get("status", "Accepted")
        for connector in self.connectors.values():
            tx = connector.transaction
            if tx is not None and tx.local_id == message.local_tx:
                tx.transaction_id = transaction_id
                self.emit(SaveTransaction(tx))
                self.timeline(
                    "transaction", connector.id, local=tx.local_id, transactionId=transaction_id
                )
                if status == "Accepted":
                    continue
                if self.config.get_bool("StopTransactionOnInvalidId"):
                    self.stop_transaction(connector.id, "DeAuthorized")
                else:  # §3.5.4: the transaction goes on, but no energy is delivered
                    self.suspend(connector.id, True)

    def deliverable(self, tx: TransactionRecord) -> bool:
        """Whether messages about ``tx`` can still reach the CSMS: it has an id, or its
        StartTransaction is still queued.  Once that was given up, nothing can name it."""
        return tx.transaction_id is not None or any(
            q.action == "StartTransaction" for q in self.outbox.of_transaction(tx.local_id)
        )

    def queued_given_up(self, message: QueuedMessage) -> None:
        """A StartTransaction the CSMS never took: its transaction's other messages cannot
        name a transactionId, so they go too."""
        if message.action != "StartTransaction":
            return
        for queued in self.outbox.of_transaction(message.local_tx):
            self.outbox.remove(queued)
            self.emit(DeleteQueued(queued.seq))
            self.timeline(
                "gave_up",
                action=queued.action,
                uniqueId=queued.unique_id,
                reason="its StartTransaction was given up",
            )

    # --- metering (§4.7) --------------------------------------------------------------

    def _arm_sample(self, connector_id: int, since: float) -> None:
        interval = self.config.get_int("MeterValueSampleInterval")
        if interval <= 0:
            self._sample_at.pop(connector_id, None)
            self.emit(CancelTimer(f"sample:{connector_id}"))
            return
        self._sample_at[connector_id] = since + interval
        self.emit(ArmTimer(f"sample:{connector_id}", since + interval))

    def rearm_sampling(self) -> None:
        for connector in self.connectors.values():
            if connector.transaction is not None:
                self._arm_sample(connector.id, self.now)

    def station_timer(self, name: str) -> None:
        kind, _, arg = name.partition(":")
        if kind == "sample":
            self._sample(int(arg))
        elif kind == "register":
            connector = self.connectors[int(arg)]
            if connector.transaction is not None:
                self._save_register(connector)
                self.emit(ArmTimer(name, self.now + REGISTER_SAVE_S))
        elif kind == "unplug":
            connector = self.connectors[int(arg)]
            if connector.auto_plugged and connector.transaction is None:
                self.unplug(connector.id)

    def _sample(self, connector_id: int) -> None:
        connector = self.connectors[connector_id]
        tx = connector.transaction
        due = self._sample_at.get(connector_id)
        if tx is None or due is None:
            return
        if self.deliverable(tx):
            payload = self.meter_values_payload(connector, "Sample.Periodic")
            self.enqueue("MeterValues", payload, tx.local_id)
        self._save_register(connector)
        # The next sample follows the previous deadline, never "interval after the work".
        self._arm_sample(connector_id, due)

    def _save_register(self, connector: Connector) -> None:
        connector.meter.advance(self.now)
        timestamp = self.timestamp()
        self.emit(SaveRegister(connector.id, connector.meter.energy_wh, timestamp))
        self.timeline(
            "meter",
            connector.id,
            energyWh=round(connector.meter.energy_wh, 3),
            powerW=connector.meter.power_w,
        )

    def meter_value(
        self, connector: Connector, context: str, measurands: list[str] | None = None
    ) -> dict[str, Any]:
        connector.meter.advance(self.now)
        wanted = (
            measurands if measurands is not None else self.config.get_list("MeterValuesSampledData")
        )
        values = {
            "Energy.Active.Import.Register": str(connector.meter.register),
            "Power.Active.Import": str(int(connector.meter.power_w)),
            "Current.Import": f"{connector.meter.current_a:.1f}",
            "Voltage": "230.0",
        }
        sampled = [
            {"value": values[m], "context": context, "measurand": m, "unit": READINGS[m]}
            for m in wanted
            if m in values
        ]
        return {"timestamp": self.timestamp(), "sampledValue": sampled}

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

    # --- availability (§5.2) ----------------------------------------------------------

    def change_availability(self, connector_id: int, operative: bool) -> str:
        """Connector 0 is the charger and every connector.  A change that would touch a
        connector with a transaction is answered Scheduled and made, whole, when the
        transaction ends (for connector 0: when the last one ends); a change to the state
        already in force is Accepted."""
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
            self._set_operative(connector, operative)
        return "Accepted"

    def _set_operative(self, connector: Connector, operative: bool) -> None:
        connector.pending_operative = None
        if connector.operative != operative:
            connector.operative = operative
            self.emit(SaveAvailability(connector.id, operative))
        self.refresh_status(connector)

    def _apply_scheduled_availability(self) -> None:
        zero = self.connectors[0]
        if zero.pending_operative is None or self.any_transaction():
            return
        operative, zero.pending_operative = zero.pending_operative, None
        for connector in self.connectors.values():
            self._set_operative(connector, operative)
