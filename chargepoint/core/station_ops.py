"""What happens at the charger: connectors and their status (§4.9), authorization
(§3.5, §5.4), transactions (§4.8, §4.10), metering (§4.7) and availability (§5.2).

Transactions live in the store from the moment they start; every message about
them goes through the persisted queue.  A restart finds the transactions a power
loss interrupted and ends them (StopTransaction, reason PowerLoss, meterStop from
the last persisted register) unless ResumeTransactionsAfterPowerLoss is true.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from .actions import (
    ArmTimer,
    CancelTimer,
    DeleteAuth,
    DeleteQueued,
    DeleteTransaction,
    Outcome,
    SaveAuth,
    SaveAvailability,
    SaveQueued,
    SaveTransaction,
)
from .authorization import (
    INVALID_ENERGY_CHECK_S,
    INVALID_ENERGY_TIMER,
    AuthPolicy,
    InvalidIdTagInfo,
    LocalDecision,
    cache_evictions,
    conflicts,
    decide,
    expire_if_due,
    find,
    may_stop,
    parse_id_tag_info,
    same_id_tag,
)
from .connectors import Connector
from .metering import Metering
from .records import AuthEntry, QueuedMessage, StoredState, TransactionRecord
from .settings import CoreSettings, Identity

log = logging.getLogger("cpsim.core")

REGISTER_SAVE_S = 60.0
"""Charger seconds between saves of a charging connector's energy register, whatever the
sample interval: a power loss costs at most this much energy in its StopTransaction."""


class StationOps(Metering):
    def __init__(
        self, identity: Identity, settings: CoreSettings, stored: StoredState, now: float
    ) -> None:
        super().__init__(identity, settings, stored, now)
        self.connectors = {i: Connector(i) for i in range(settings.connectors + 1)}
        self.ev_power_w = settings.ev_power_w
        self.reported: dict[int, str] = {}
        """The status the CSMS was last told, per connector."""
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
        self.update_power()  # an EV back on the cable of a transaction charges again
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
            self.update_power()  # no EV, no power
            self.refresh_status(connector)

    def fault(self, connector_id: int, error_code: str = "OtherError") -> None:
        connector = self.connectors[connector_id]
        connector.error_code = error_code
        self.update_power()  # §4.9 C9: a fault prevents charging
        self.refresh_status(connector)

    def clear_fault(self, connector_id: int) -> None:
        connector = self.connectors[connector_id]
        connector.error_code = "NoError"
        self.update_power()
        self.refresh_status(connector)

    def suspend(self, connector_id: int, suspended: bool, power_w: float | None = None) -> None:
        """The EVSE suspends (SuspendedEVSE) or everything resumes, the EV too; with
        ``power_w`` the connector's EV becomes a fixed-power one drawing that."""
        connector = self.connector(connector_id)
        connector.suspended = suspended
        if power_w is not None:
            self.ev_power_w = power_w
        self.set_ev(connector_id, power_w=power_w, paused=None if suspended else False)
        self.refresh_status(connector)

    def any_transaction(self) -> bool:
        return any(c.transaction is not None for c in self.connectors.values())

    def transaction_by_id(self, transaction_id: int) -> TransactionRecord | None:
        for connector in self.connectors.values():
            tx = connector.transaction
            if tx is not None and tx.transaction_id == transaction_id:
                return tx
        return None

    # --- authorization (§3.4, §3.5) ---------------------------------------------------

    def local_list_in_force(self) -> Mapping[str, AuthEntry]:
        """The Local Authorization List when it is in use (the local_auth layer has it;
        empty without the LocalAuthListManagement profile or with LocalAuthListEnabled
        false)."""
        return {}

    def auth_policy(self) -> AuthPolicy:
        return AuthPolicy(
            cache_enabled=self.config.get_bool("AuthorizationCacheEnabled"),
            local_pre_authorize=self.config.get_bool("LocalPreAuthorize"),
            local_authorize_offline=self.config.get_bool("LocalAuthorizeOffline"),
            allow_offline_unknown=self.config.get_bool("AllowOfflineTxForUnknownId"),
        )

    def known_parent(self, id_tag: str) -> str | None:
        """The parentIdTag the Local List (first, §3.5.3) or the cache knows for ``id_tag``."""
        for entries in (self.local_list_in_force(), self.auth_cache):
            hit = find(entries, id_tag)
            if hit is not None:
                return hit[1].parent_id_tag
        return None

    def present_id_tag(self, connector_id: int, id_tag: str, token: str = "") -> None:
        """A card at the reader: stop this connector's transaction or start a new one."""
        connector = self.connector(connector_id)
        tx = connector.transaction
        if tx is not None and same_id_tag(tx.id_tag, id_tag):
            # §3.4, §4.1: the idTag that started it ends it without an Authorize.req
            self.stop_transaction(connector_id, "Local")
            self.emit(Outcome(token, "Accepted"))
            return

        def decided(status: str, parent: str | None) -> None:
            self.timeline("authorize", connector_id, idTag=id_tag, status=status)
            current = connector.transaction
            if status != "Accepted":
                self.emit(Outcome(token, status))
            elif current is not None:
                if may_stop(current.id_tag, self.known_parent(current.id_tag), id_tag, parent):
                    self.emit(Outcome(token, "Accepted"))  # §3.10: same parentIdTag
                    self.stop_transaction(connector_id, "Local")
                else:
                    self.timeline("refused", connector_id, idTag=id_tag, reason="not its owner")
                    self.emit(Outcome(token, "NotOwner"))
            elif not self.may_charge(connector_id, id_tag, parent):
                self.timeline("refused", connector_id, idTag=id_tag, reason="reserved")
                self.emit(Outcome(token, "Reserved"))
            else:
                self.emit(Outcome(token, "Accepted"))
                if connector.operative and connector.error_code == "NoError":
                    self.start_transaction(connector_id, id_tag)

        self.authorize(id_tag, decided)

    def authorize(self, id_tag: str, decided: Callable[[str, str | None], None]) -> None:
        """Decide on ``id_tag`` as §3.4 orders it (Local List, cache, then the CSMS), and
        call ``decided(status, parentIdTag)``.  An Authorize.req that fails (no answer, a
        CALLERROR, the link lost) falls back to the offline decision."""
        self._expire_cached(id_tag)
        local = self._local_decision(id_tag, online=self.accepted)
        if local.status is not None:
            decided(local.status, local.parent_id_tag)
            return

        def answered(result: dict[str, Any]) -> None:
            try:
                entry = parse_id_tag_info(result.get("idTagInfo"), "Authorize.conf", self.now)
            except InvalidIdTagInfo as exc:
                log.warning("%s: taken as Invalid", exc)
                decided("Invalid", None)
                return
            self.remember_id_tag_info(id_tag, entry)
            decided(entry.status, entry.parent_id_tag)

        def failed(_reason: str) -> None:
            offline = self._offline_decision(id_tag)
            decided(offline.status or "Invalid", offline.parent_id_tag)

        self.send_urgent("Authorize", {"idTag": id_tag}, on_result=answered, on_failure=failed)

    def _local_decision(self, id_tag: str, online: bool) -> LocalDecision:
        return decide(
            id_tag,
            online=online,
            policy=self.auth_policy(),
            local_list=self.local_list_in_force(),
            cache=self.auth_cache,
            wall=self.wall(),
        )

    def _offline_decision(self, id_tag: str) -> LocalDecision:
        """What the charger decides without the CSMS (§3.5.4): never asks it."""
        return self._local_decision(id_tag, online=False)

    def _expire_cached(self, id_tag: str) -> None:
        """A cache entry past its expiryDate becomes Expired (§3.5.1), in the store too."""
        hit = find(self.auth_cache, id_tag)
        if hit is None:
            return
        key, entry = hit
        now_expired = expire_if_due(entry, self.wall())
        if now_expired is not None:
            self.auth_cache[key] = now_expired
            self.emit(SaveAuth(key, now_expired))

    def remember_id_tag_info(self, id_tag: str, entry: AuthEntry) -> None:
        """An IdTagInfo from the CSMS (Authorize, StartTransaction, StopTransaction .conf)
        updates the Authorization Cache (§3.5.1, §4.1, §4.8, §4.10); not for an idTag of
        the Local List (§3.5.3), which it is compared with instead (§3.5.2)."""
        listed = find(self.local_list_in_force(), id_tag)
        if listed is not None:
            if conflicts(listed[1], entry, self.wall()):
                self.report_local_list_conflict(id_tag, listed[1], entry)
            return
        if not self.config.get_bool("AuthorizationCacheEnabled"):
            return
        for victim in cache_evictions(self.auth_cache, id_tag, self.wall()):
            del self.auth_cache[victim]
            self.emit(DeleteAuth(victim))
        hit = find(self.auth_cache, id_tag)
        key = hit[0] if hit is not None else id_tag
        self.auth_cache[key] = entry
        self.emit(SaveAuth(key, entry))

    def report_local_list_conflict(self, id_tag: str, listed: AuthEntry, got: AuthEntry) -> None:
        """§3.5.2: StatusNotification(connectorId 0, errorCode LocalListConflict)."""
        log.warning(
            "Local List conflict for %s: list %s/%s, CSMS %s/%s",
            id_tag,
            listed.status,
            listed.parent_id_tag,
            got.status,
            got.parent_id_tag,
        )
        self.timeline("local_list_conflict", 0, idTag=id_tag, listed=listed.status, got=got.status)
        if self.accepted:
            payload = self.status_payload(self.connectors[0])
            payload["errorCode"] = "LocalListConflict"
            payload["info"] = f"Local List differs for {id_tag}"[:50]
            self.enqueue_status(payload)

    def invalidated(self, connector: Connector, tx: TransactionRecord) -> None:
        """StartTransaction.conf refused the idTag of a running transaction (§3.5.4, E3.17):
        StopTransactionOnInvalidId stops it (DeAuthorized); otherwise the energy stops once
        MaxEnergyOnInvalidId Wh were delivered in it."""
        self.timeline("deauthorized", connector.id, tx=tx.local_id, idTag=tx.id_tag)
        if self.config.get_bool("StopTransactionOnInvalidId"):
            self.stop_transaction(connector.id, "DeAuthorized")
            return
        self.invalid_energy_check(connector.id, tx.local_id)

    def invalid_energy_check(self, connector_id: int, local_tx: int) -> None:
        """Stop the energy of an invalidated transaction when it reached MaxEnergyOnInvalidId
        (§9.1.14); until then, look again when it may (at most every INVALID_ENERGY_CHECK_S)."""
        connector = self.connectors.get(connector_id)
        tx = connector.transaction if connector is not None else None
        if connector is None or tx is None or tx.local_id != local_tx:
            return
        connector.meter.advance(self.now)
        delivered = connector.meter.energy_wh - tx.meter_start
        left = self.config.get_int("MaxEnergyOnInvalidId") - delivered
        if left <= 0:
            if not connector.suspended:
                self.timeline("energy_stopped", connector_id, tx=local_tx, reason="invalid idTag")
                self.suspend(connector_id, True)
            return
        power = connector.meter.power_w
        wait = left / power * 3600 if power > 0 else INVALID_ENERGY_CHECK_S
        at = self.now + min(max(wait, 1.0), INVALID_ENERGY_CHECK_S)
        self.emit(ArmTimer(f"{INVALID_ENERGY_TIMER}{connector_id}:{local_tx}", at))

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
        self.update_power()
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
        self.stop_power(connector)
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
        transaction_data = self.stop_transaction_data(tx, connector)
        if transaction_data:
            payload["transactionData"] = transaction_data
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
            self.update_power_soon()  # once every layer is built: the limits too
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
        if info is not None and "idTag" in message.payload:
            # §3.5.1, §4.8, §4.10: the answers' idTagInfo updates the Authorization Cache
            try:
                entry = parse_id_tag_info(info, f"{message.action}.conf", self.now)
            except InvalidIdTagInfo as exc:
                log.warning("%s: not cached", exc)
            else:
                self.remember_id_tag_info(str(message.payload["idTag"]), entry)
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
                if status != "Accepted":
                    self.invalidated(connector, tx)

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

    # --- metering (§4.7; the rest is in metering.py) --------------------------------

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
