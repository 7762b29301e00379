"""The session with the CSMS: boot (§4.2), heartbeat (§4.6), the CSMS's clock, Reset's
reboot (§5.14), and the wire discipline: one CALL in flight (OCPP-J §4.1.1), answers
matched by id, transaction messages retried as §3.7.1 says.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from chargepoint.timefmt import parse_epoch

from . import ocppj
from .actions import ArmTimer, AwaitAnswer, CancelTimer, CloseLink, DeleteQueued, SaveQueued, Send
from .boot import DEFAULT_RETRY_S, NO_ANSWER_RETRY_S, SessionState
from .events import LinkDown, LinkUp
from .outbox import Entry, InFlight, Outgoing, retry_delay
from .records import QueuedMessage, StoredState
from .settings import CoreSettings, Identity
from .station_ops import StationOps

log = logging.getLogger("cpsim.core")

RESET_GRACE_S: Final = 10.0
"""Charger seconds a Reset waits for its StopTransactions to be answered before rebooting
(they stay queued either way: what is not answered goes after the reboot)."""
CLOCK_SLACK_S: Final = 1.0
"""A CSMS time within this of ours is not adopted: it is the round trip, not a drift."""

_S = SessionState


class Session(StationOps):
    def __init__(
        self, identity: Identity, settings: CoreSettings, stored: StoredState, now: float
    ) -> None:
        super().__init__(identity, settings, stored, now)
        self._boot_wanted = False
        self._heartbeat_at: float | None = None
        self._resetting: str | None = None
        self._deferred_offset: float | None = None
        self._answer_window = (now, now)
        """When the call being answered was sent and when its answer came (charger clock)."""

    # --- the link ---------------------------------------------------------------------

    def link_up(self, event: LinkUp) -> None:
        self.identity.iccid = event.iccid or self.identity.iccid
        self.identity.imsi = event.imsi or self.identity.imsi
        self.timeline("link", up=True)
        self.set_state(_S.BOOTING)
        self._boot_wanted = True

    def link_down(self, event: LinkDown) -> None:
        flight, self.in_flight = self.in_flight, None
        if flight is not None and not isinstance(flight.entry, QueuedMessage):
            # A transaction message stays at the head with its attempts unchanged: a send
            # that fails because the link is down is not an attempt (§3.7.1).
            self._notify_failure(flight.entry, "link down")
        for entry in list(self.outbox.urgent):
            self._notify_failure(entry, "link down")
        self.outbox.drop_volatile()
        self._boot_wanted = False
        self._resetting = None
        self._heartbeat_at = None
        for timer in ("heartbeat", "boot", "reset"):
            self.emit(CancelTimer(timer))
        self.set_state(_S.OFFLINE)
        self.timeline("link", up=False, reason=event.reason)

    def session_timer(self, name: str) -> bool:
        """Handle one of the session's timers; False when ``name`` is not one."""
        if name == "heartbeat":
            self._heartbeat_due()
        elif name == "boot":
            if self.state in (_S.PENDING, _S.REJECTED, _S.BOOTING):
                self.set_state(_S.BOOTING)
                self._boot_wanted = True
        elif name == "tx-retry":
            self.outbox.retry_at = None
        elif name == "reset":
            self._reboot_now()
        else:
            return False
        return True

    # --- sending ----------------------------------------------------------------------

    def pump(self) -> None:
        """Send the next CALL if nothing is in flight and the session allows one."""
        if self.in_flight is not None or self.state in (_S.OFFLINE, _S.REJECTED):
            return
        if self._boot_wanted:
            self._boot_wanted = False
            self.set_state(_S.BOOTING)
            boot = Outgoing(
                "BootNotification",
                self.boot_payload(),
                on_result=self._boot_answered,
                on_failure=self._boot_failed,
            )
            self._transmit(boot, ordered=False)
        elif self.state is _S.PENDING:
            # §4.2: while Pending, only what a TriggerMessage asked for
            for entry in self.outbox.urgent:
                if entry.when_pending:
                    self.outbox.urgent.remove(entry)
                    self._transmit(entry, ordered=False)
                    return
        elif self.state is _S.ACCEPTED:
            if self.outbox.urgent:
                self._transmit(self.outbox.urgent.pop(0), ordered=False)
            elif self.outbox.ordered and self.outbox.retry_at is None:
                self._transmit(self.outbox.ordered[0], ordered=True)
            elif self._resetting and not self.outbox.persisted():
                self._reboot_now()

    def _transmit(self, entry: Entry, ordered: bool) -> None:
        self.in_flight = InFlight(entry, ordered, self.now)
        frame = ocppj.call(entry.unique_id, entry.action, entry.payload)
        self.emit(Send(frame, entry.unique_id, entry.action))
        self.emit(AwaitAnswer(entry.unique_id, self.settings.response_timeout))
        self.timeline("sent", action=entry.action, uniqueId=entry.unique_id)

    def answered(self, frame: ocppj.Frame) -> None:
        flight = self.in_flight
        if flight is None or flight.entry.unique_id != frame.unique_id:
            log.warning("answer to %s, which is not the call in flight; ignored", frame.unique_id)
            self.timeline("unexpected_answer", uniqueId=frame.unique_id)
            return
        entry = flight.entry
        if frame.kind == ocppj.CALLERROR:
            self.timeline(
                "received", action=entry.action, uniqueId=frame.unique_id, error=frame.error_code
            )
            self.failed(frame.unique_id, frame.error_code)
            return
        problem = ocppj.schema_error(ocppj.CALLRESULT, entry.action, frame.payload)
        if problem is not None:
            log.warning("%s answer from the CSMS is not valid: %s", entry.action, problem[1])
            self.failed(frame.unique_id, f"invalid answer ({problem[0]})")
            return
        self.timeline("received", action=entry.action, uniqueId=frame.unique_id)
        self.in_flight = None
        self._answer_window = (flight.sent_at, self.now)
        if flight.ordered:
            self.outbox.remove(entry)
        if isinstance(entry, QueuedMessage):
            self.emit(DeleteQueued(entry.seq))
            self.queued_answered(entry, frame.payload)
        elif entry.on_result is not None:
            entry.on_result(frame.payload)

    def failed(self, unique_id: str, reason: str) -> None:
        """The CSMS did not process our call: a CALLERROR, no answer in time, or too large."""
        flight = self.in_flight
        if flight is None or flight.entry.unique_id != unique_id:
            return
        self.in_flight = None
        entry = flight.entry
        log.warning("%s failed: %s", entry.action, reason)
        if flight.ordered:
            if isinstance(entry, QueuedMessage):
                self._retry_or_give_up(entry, reason)
                return
            self.outbox.remove(entry)
        self._notify_failure(entry, reason)

    def _retry_or_give_up(self, entry: QueuedMessage, reason: str) -> None:
        """§3.7.1: retry after TransactionMessageRetryInterval x attempts, at most
        TransactionMessageAttempts times in all."""
        entry.attempts += 1
        limit = self.config.get_int("TransactionMessageAttempts")
        if entry.attempts >= limit:
            self.outbox.remove(entry)
            self.emit(DeleteQueued(entry.seq))
            self.timeline(
                "gave_up",
                action=entry.action,
                uniqueId=entry.unique_id,
                attempts=entry.attempts,
                reason=reason,
            )
            log.error("%s given up after %d attempts", entry.action, entry.attempts)
            self.queued_given_up(entry)
            return
        delay = retry_delay(self.config.get_int("TransactionMessageRetryInterval"), entry.attempts)
        # OCPP-J §4.1.4: on one connection, no two CALLs share an id, and the CSMS has
        # answered this one already.  (A resend after a lost link or a restart keeps its id.)
        entry.unique_id = ocppj.new_id()
        self.emit(SaveQueued(entry))
        self.outbox.retry_at = self.now + delay
        self.emit(ArmTimer("tx-retry", self.outbox.retry_at))
        self.timeline(
            "retry",
            action=entry.action,
            uniqueId=entry.unique_id,
            attempts=entry.attempts,
            delay=delay,
            reason=reason,
        )

    @staticmethod
    def _notify_failure(entry: Entry, reason: str) -> None:
        if isinstance(entry, Outgoing) and entry.on_failure is not None:
            entry.on_failure(reason)

    # --- boot (§4.2) and heartbeat (§4.6) ---------------------------------------------

    def boot_payload(self) -> dict[str, Any]:
        ident = self.identity
        payload: dict[str, Any] = {
            "chargePointVendor": ident.vendor,
            "chargePointModel": ident.model,
            "firmwareVersion": ident.firmware,
        }
        optional = {
            "chargePointSerialNumber": ident.serial,
            "iccid": ident.iccid,
            "imsi": ident.imsi,
        }
        payload.update({key: value for key, value in optional.items() if value})
        return payload

    def _boot_answered(self, result: dict[str, Any]) -> None:
        status = str(result["status"])
        interval = int(result.get("interval", 0))
        self.adopt_csms_time(str(result.get("currentTime", "")))
        log.info("BootNotification %s (interval %ss)", status, interval)
        if status == "Accepted":
            self.set_state(_S.ACCEPTED)
            self.emit(CancelTimer("boot"))
            if interval > 0:
                self.config.set_internal("HeartbeatInterval", str(interval))
            self._arm_heartbeat(self.now + self.config.get_int("HeartbeatInterval"))
            self.report_all_statuses()
            return
        self.set_state(_S.PENDING if status == "Pending" else _S.REJECTED)
        self.emit(ArmTimer("boot", self.now + (interval or DEFAULT_RETRY_S)))
        if status != "Pending":  # §4.2: Rejected sends nothing until the interval has passed
            for entry in list(self.outbox.urgent):
                self._notify_failure(entry, "boot Rejected")
            self.outbox.urgent.clear()

    def _boot_failed(self, reason: str) -> None:
        if reason != "link down":
            self.emit(ArmTimer("boot", self.now + NO_ANSWER_RETRY_S))

    def _arm_heartbeat(self, at: float) -> None:
        self._heartbeat_at = at
        self.emit(ArmTimer("heartbeat", at))

    def _heartbeat_due(self) -> None:
        if not self.accepted or self._heartbeat_at is None:
            return
        self.send_heartbeat()
        # The next deadline follows the previous one, never "interval after the answer".
        interval = self.config.get_int("HeartbeatInterval")
        at = self._heartbeat_at + interval
        self._arm_heartbeat(at if at > self.now else self.now + interval)

    def send_heartbeat(self, when_pending: bool = False) -> None:
        self.send_urgent(
            "Heartbeat",
            {},
            on_result=lambda r: self.adopt_csms_time(str(r.get("currentTime", ""))),
            when_pending=when_pending,
        )

    def request_boot(self) -> None:
        """A TriggerMessage(BootNotification): boot again as soon as nothing is in flight."""
        self._boot_wanted = True

    def config_changed(self, key: str) -> None:
        super().config_changed(key)
        if key == "HeartbeatInterval" and self.accepted:
            self._arm_heartbeat(self.now + self.config.get_int("HeartbeatInterval"))
        elif key == "MeterValueSampleInterval":
            self.rearm_sampling()

    # --- the CSMS's clock -------------------------------------------------------------

    def adopt_csms_time(self, text: str) -> None:
        """Take the CSMS's currentTime as an offset on timestamps (§4.2, §4.6).

        Never a jump backwards within a transaction: a backward correction waits until
        no transaction is open, so MeterValues timestamps never go back.
        """
        csms = parse_epoch(text)
        if csms is None:
            return
        sent, received = self._answer_window
        # The CSMS's time was true somewhere between our send and its answer's arrival
        # (as NTP reasons): a time inside that window, give or take the slack, agrees
        # with ours, however long the round trip was in charger time (a sped-up clock).
        if sent + self.offset - CLOCK_SLACK_S <= csms <= received + self.offset + CLOCK_SLACK_S:
            self._deferred_offset = None  # the CSMS agrees with us (again)
            return
        target = csms - (sent + received) / 2
        if target < self.offset and self.any_transaction():
            self._deferred_offset = target
            return
        self._set_offset(target)

    def _set_offset(self, offset: float) -> None:
        self.timeline("clock", shift=round(offset - self.offset, 3))
        self.offset = offset
        self._deferred_offset = None
        self.wall_clock_changed()

    def transactions_ended(self) -> None:
        if self._deferred_offset is not None:
            self._set_offset(self._deferred_offset)

    # --- reset (§5.14) ----------------------------------------------------------------

    def begin_reset(self, kind: str) -> None:
        """Reboot once the queue is empty (the StopTransactions went out) or after a grace."""
        self._resetting = kind
        self.emit(ArmTimer("reset", self.now + RESET_GRACE_S))

    def _reboot_now(self) -> None:
        kind, self._resetting = self._resetting, None
        if kind is None:
            return
        self.emit(CancelTimer("reset"))
        self.timeline("reset", type=kind)
        self.emit(CloseLink(1000, f"{kind} reset", reset=True))
