"""The local CSMS's answer to every charge-point-initiated OCPP 1.6 message.

Valid, boring answers by default (Accepted, incrementing transaction ids);
the boot status and the idTags to refuse can be changed while it runs so
tests and scenarios can exercise the charger's Pending / Rejected / Invalid paths.
:class:`AnswerRule` goes further: any charge-point action can be answered with
a changed result, a CALLERROR, or not at all, for the next N calls or until
changed, which is how a scenario's ``csms: {answer: ...}`` steers this CSMS.
A call resent with the unique id of one already answered gets the same answer
again, without its handler running twice (:class:`Answered`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ocpp.messages import Call
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

from chargepoint.timefmt import ocpp_time

from .signing_ca import CsrRefused, SigningCa

log = logging.getLogger("cpsim.csms")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class AnswerRule:
    """Answer one charge-point action differently from the CSMS's own handler.

    ``result`` is merged (top-level keys) over the own answer, so
    ``{"status": "Pending"}`` keeps its currentTime; ``error`` is a CALLERROR
    ``(code, description, details)`` instead; ``ignore`` sends no answer at all.
    ``times`` limits the rule to the next N calls; ``None`` keeps it until replaced.
    """

    action: str
    result: dict[str, Any] | None = None
    error: tuple[str, str, dict[str, Any]] | None = None
    ignore: bool = False
    times: int | None = None
    charge_point: str | None = None
    """``None``: every charger."""

    @property
    def changes_anything(self) -> bool:
        return self.result is not None or self.error is not None or self.ignore


@dataclass
class CsmsPolicy:
    boot_status: str = "Accepted"
    heartbeat_interval: int = 300
    boot_status_per_charger: dict[str, str] = field(default_factory=dict)
    invalid_id_tags: set[str] = field(default_factory=lambda: {"INVALID", "BLOCKED"})
    transaction_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    answers: list[AnswerRule] = field(default_factory=list)
    answered: dict[str, Answered] = field(default_factory=dict)
    """Per charger, the answers to its last calls, so a resend gets the same answer."""
    clock: Callable[[], datetime] = _utc_now
    """The CSMS's time (currentTime): a scenario with a time scale gives its virtual clock."""
    signing_ca: SigningCa | None = None
    """With a CA, SignCertificate is Accepted and answered with a CertificateSigned."""

    def set_answer(self, rule: AnswerRule) -> None:
        """Replace the rule for this action and charger; a rule that changes nothing removes it."""
        self.answers = [
            r
            for r in self.answers
            if (r.action, r.charge_point) != (rule.action, rule.charge_point)
        ]
        if rule.changes_anything:
            self.answers.append(rule)

    def take_answer(self, charge_point: str, action: str) -> AnswerRule | None:
        """The rule for this call (a charger's own before one for all), counting it used."""
        mine = [
            r for r in self.answers if r.action == action and r.charge_point in (charge_point, None)
        ]
        if not mine:
            return None
        rule = min(mine, key=lambda r: r.charge_point is None)
        if rule.times is not None:
            rule.times -= 1
            if rule.times <= 0:
                self.answers.remove(rule)
        return rule

    def now(self) -> str:
        return ocpp_time(self.clock())


REPLAY_SIZE = 1000
"""How many of a charger's calls the CSMS remembers its answers to (see :class:`Answered`)."""


class Answered:
    """The answers the CSMS sent to one charger's last calls, by (action, unique id).

    A charger that lost the link (or restarted) before the answer arrived sends the
    same call again with the same unique id, as OCPP-J allows; answering it anew would
    run the handler twice (a second transactionId for one StartTransaction, which the
    charger never stops).  So a resent call gets the very answer it got the first time.
    Kept per charger, across its connections, for the last :data:`REPLAY_SIZE` calls.

    A resend is the same message: a call that reuses an id with another payload (OCPP-J
    only asks ids to be unique on one connection, so a charger counting from 1 again
    after a reconnect may) is a new call, answered anew.
    """

    def __init__(self, size: int = REPLAY_SIZE) -> None:
        self.size = size
        self._calls: OrderedDict[tuple[str, str], tuple[Any, str]] = OrderedDict()

    def put(self, action: str, unique_id: str, payload: Any, answer: str) -> None:
        """The CSMS sent ``answer`` (the frame's text) to this call."""
        key = (action, unique_id)
        self._calls[key] = (payload, answer)
        self._calls.move_to_end(key)
        while len(self._calls) > self.size:
            self._calls.popitem(last=False)

    def get(self, action: str, unique_id: str, payload: Any) -> str | None:
        """The answer sent to this very call before, or None."""
        found = self._calls.get((action, unique_id))
        return found[1] if found is not None and found[0] == payload else None


class CsmsSession(ChargePoint):
    def __init__(
        self,
        charge_point_id: str,
        connection: Any,
        policy: CsmsPolicy,
        answered: Answered | None = None,
    ) -> None:
        super().__init__(charge_point_id, connection, response_timeout=30)
        self.policy = policy
        self.answered = answered if answered is not None else Answered()
        self._merge: dict[str, dict[str, Any]] = {}  # unique id -> fields over the own answer
        # unique id -> (action, payload) of the call being answered
        self._answering: dict[str, tuple[str, Any]] = {}
        self._signed_chain: str | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def route_message(self, raw_msg: str) -> None:
        # Calls are routed one at a time; the CALLERROR for a call that failed its schema
        # check is sent here, after _handle_call, so the call stays "being answered" till now.
        try:
            await super().route_message(raw_msg)
        finally:
            self._answering.clear()

    async def _handle_call(self, msg: Call) -> Any:
        before = self.answered.get(msg.action, msg.unique_id, msg.payload)
        if before is not None:
            log.info(
                "%s: %s %s is a resend; answered as the first time",
                self.id,
                msg.action,
                msg.unique_id,
            )
            await super()._send(before)
            return None
        self._answering[msg.unique_id] = (msg.action, msg.payload)
        rule = self.policy.take_answer(self.id, msg.action)
        if rule is None:
            return await super()._handle_call(msg)
        if rule.ignore:
            log.info("%s: %s left unanswered (answer rule)", self.id, msg.action)
            return None
        if rule.error is not None:
            code, description, details = rule.error
            await self._send(json.dumps([4, msg.unique_id, code, description, details]))
            return None
        self._merge[msg.unique_id] = rule.result or {}
        try:
            return await super()._handle_call(msg)
        finally:
            self._merge.pop(msg.unique_id, None)

    async def _send(self, message: str) -> None:
        if self._merge and message.startswith("[3"):
            frame = json.loads(message)
            extra = self._merge.get(frame[1])
            if extra is not None and isinstance(frame[2], dict):
                frame[2] = {**frame[2], **extra}
                message = json.dumps(frame, separators=(",", ":"))
        if self._answering and message.startswith(("[3", "[4")):
            unique_id = json.loads(message)[1]
            call = self._answering.get(unique_id)
            if call is not None:
                action, payload = call
                self.answered.put(action, unique_id, payload, message)
        await super()._send(message)

    def _id_tag_info(self, id_tag: str) -> dict[str, str]:
        status = "Invalid" if id_tag.upper() in self.policy.invalid_id_tags else "Accepted"
        return {"status": status}

    @on(Action.boot_notification)
    def on_boot_notification(self, **_: Any) -> Any:
        status = self.policy.boot_status_per_charger.get(self.id, self.policy.boot_status)
        return call_result.BootNotification(
            current_time=self.policy.now(), interval=self.policy.heartbeat_interval, status=status
        )

    @on(Action.heartbeat)
    def on_heartbeat(self, **_: Any) -> Any:
        return call_result.Heartbeat(current_time=self.policy.now())

    @on(Action.authorize)
    def on_authorize(self, id_tag: str, **_: Any) -> Any:
        return call_result.Authorize(id_tag_info=self._id_tag_info(id_tag))

    @on(Action.start_transaction)
    def on_start_transaction(self, id_tag: str, **_: Any) -> Any:
        return call_result.StartTransaction(
            transaction_id=next(self.policy.transaction_ids), id_tag_info=self._id_tag_info(id_tag)
        )

    @on(Action.stop_transaction)
    def on_stop_transaction(self, id_tag: str | None = None, **_: Any) -> Any:
        info = self._id_tag_info(id_tag) if id_tag else None
        return call_result.StopTransaction(id_tag_info=info)

    @on(Action.status_notification)
    def on_status_notification(self, **_: Any) -> Any:
        return call_result.StatusNotification()

    @on(Action.meter_values)
    def on_meter_values(self, **_: Any) -> Any:
        return call_result.MeterValues()

    @on(Action.data_transfer)
    def on_data_transfer(self, **_: Any) -> Any:
        return call_result.DataTransfer(status="UnknownVendorId")

    @on(Action.diagnostics_status_notification)
    def on_diagnostics_status_notification(self, **_: Any) -> Any:
        return call_result.DiagnosticsStatusNotification()

    @on(Action.firmware_status_notification)
    def on_firmware_status_notification(self, **_: Any) -> Any:
        return call_result.FirmwareStatusNotification()

    # --- the Security Whitepaper's charge-point messages --------------------------------

    @on(Action.security_event_notification)
    def on_security_event_notification(self, **_: Any) -> Any:
        return call_result.SecurityEventNotification()

    @on(Action.log_status_notification)
    def on_log_status_notification(self, **_: Any) -> Any:
        return call_result.LogStatusNotification()

    @on(Action.signed_firmware_status_notification)
    def on_signed_firmware_status_notification(self, **_: Any) -> Any:
        return call_result.SignedFirmwareStatusNotification()

    @on(Action.sign_certificate)
    def on_sign_certificate(self, csr: str, **_: Any) -> Any:
        ca = self.policy.signing_ca
        if ca is None:
            return call_result.SignCertificate(status="Rejected")
        try:
            self._signed_chain = ca.sign(csr, self.id)
        except CsrRefused as exc:
            log.warning("%s: SignCertificate rejected: %s", self.id, exc)
            self._signed_chain = None
            return call_result.SignCertificate(status="Rejected")
        return call_result.SignCertificate(status="Accepted")

    @after(Action.sign_certificate)
    def after_sign_certificate(self, **_: Any) -> None:
        chain, self._signed_chain = self._signed_chain, None
        if chain is None:
            return
        # Not awaited here: the answer to our CertificateSigned comes through the loop that
        # is running this handler.
        task = asyncio.get_running_loop().create_task(self._send_certificate(chain))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_certificate(self, chain: str) -> None:
        try:
            result = await self.call(call.CertificateSigned(certificate_chain=chain))
        except Exception as exc:  # the link went, a timeout: the renewal is the operator's
            log.warning("%s: CertificateSigned not answered: %s", self.id, type(exc).__name__)
            return
        log.info("%s: CertificateSigned %s", self.id, getattr(result, "status", "?"))
