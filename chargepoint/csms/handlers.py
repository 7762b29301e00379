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
import inspect
import itertools
import json
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any

import ocpp.exceptions
import ocpp.messages
from ocpp.charge_point import (
    _raise_key_error,
    camel_to_snake_case,
    remove_nones,
    serialize_as_dict,
    snake_to_camel_case,
)
from ocpp.messages import Call, CallResult
from ocpp.routing import after, create_route_map, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action

from chargepoint import ocppvalidate
from chargepoint.timefmt import ocpp_time

from .logsecrets import masked_logger
from .signing_ca import CsrRefused, SigningCa

log = logging.getLogger("cpsim.csms")

ocpp_logger = masked_logger("ocpp.csms")
"""ocpp logs every frame it sends on it: masked (:mod:`.logsecrets`)."""


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


ANSWERS_THIS_LINK = 8
"""Answers kept of a charger's current connection (see :class:`Answered`)."""
ANSWERS_EARLIER_LINKS = 8
"""Answers kept of its earlier connections, the latest ones (see :class:`Answered`)."""


class Answered:
    """The answers the CSMS sent to one charger's last calls, by (action, unique id).

    A charger that lost the link (or restarted) before the answer arrived sends the
    same call again with the same unique id, as OCPP-J allows; answering it anew would
    run the handler twice (a second transactionId for one StartTransaction, which the
    charger never stops).  So a resent call gets the very answer it got the first time.

    Only a call whose answer the charger may not have seen can come again, and a
    charger has one call in flight (OCPP-J §4.1.1): an answer followed by the charger's
    next call was received.  So what must be kept is the last answer before a link went,
    until the charger resends that call on a later connection, after its BootNotification
    and StatusNotifications.  Kept per charger, in two bounded windows, whatever the run's
    length (a soak of 10,000 chargers must not keep every answer: it was 1,000 each):

    * the last :data:`ANSWERS_THIS_LINK` answers of its current connection (a few, not
      one: for chargers that resend on the same connection or do not wait);
    * when it connects again (:meth:`new_link`), those move to a second window of the
      latest :data:`ANSWERS_EARLIER_LINKS` answers of earlier connections, which the
      new connection's boot burst cannot push out.

    A resend is the same message: a call that reuses an id with another payload (OCPP-J
    only asks ids to be unique on one connection, so a charger counting from 1 again
    after a reconnect may) is a new call, answered anew.
    """

    def __init__(self, size: int = ANSWERS_THIS_LINK, earlier: int = ANSWERS_EARLIER_LINKS) -> None:
        self.size, self.earlier = size, earlier
        self._this_link: OrderedDict[tuple[str, str], tuple[Any, str]] = OrderedDict()
        self._earlier: OrderedDict[tuple[str, str], tuple[Any, str]] = OrderedDict()

    def __len__(self) -> int:
        """How many answers are kept (at most ``size + earlier``)."""
        return len(self._this_link) + len(self._earlier)

    def new_link(self) -> Answered:
        """The charger connected again: what it was answered before may be resent now."""
        for key, kept in self._this_link.items():
            _keep(self._earlier, key, kept, self.earlier)
        self._this_link.clear()
        return self

    def put(self, action: str, unique_id: str, payload: Any, answer: str) -> None:
        """The CSMS sent ``answer`` (the frame's text) to this call."""
        _keep(self._this_link, (action, unique_id), (payload, answer), self.size)

    def get(self, action: str, unique_id: str, payload: Any) -> str | None:
        """The answer sent to this very call before, or None."""
        key = (action, unique_id)
        found = self._this_link.get(key) or self._earlier.get(key)
        return found[1] if found is not None and found[0] == payload else None


def _keep(
    window: OrderedDict[tuple[str, str], tuple[Any, str]],
    key: tuple[str, str],
    kept: tuple[Any, str],
    size: int,
) -> None:
    """``kept`` (payload, answer) the newest in ``window``; the oldest beyond ``size`` go."""
    window[key] = kept
    window.move_to_end(key)
    while len(window) > size:
        window.popitem(last=False)


_CLASS_ROUTES: dict[type, dict[str, dict[str, Any]]] = {}


def _class_routes(cls: type) -> dict[str, dict[str, Any]]:
    """ocpp's route map of a session class, its functions unbound, built once per class:
    ocpp builds it per connection, a getattr over every ``@on`` name any class in the
    process ever declared (~8 % of the CSMS's CPU in a boot storm)."""
    routes = _CLASS_ROUTES.get(cls)
    if routes is None:
        routes = _CLASS_ROUTES[cls] = create_route_map(cls)
    return routes


@cache
def _wants_unique_id(handler: Callable[..., Any]) -> bool:
    """ocpp passes ``call_unique_id`` to a handler that names it (looked up once, not per call)."""
    return "call_unique_id" in inspect.signature(handler).parameters


@lru_cache(maxsize=1024)  # bounded: the keys come from the network
def _snake(key: str) -> str:
    """ocpp's camelCase to snake_case of one key (``meterStart``: ``meter_start``)."""
    converted = camel_to_snake_case({key: None})
    return str(next(iter(converted)))


def _snake_case(data: Any) -> Any:
    """ocpp's ``camel_to_snake_case``, with each key's conversion cached."""
    if isinstance(data, dict):
        return {_snake(k): _snake_case(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_snake_case(v) for v in data]
    return data


def _check(message: Call | CallResult) -> None:
    """ocpp's schema check of a payload, raising the OCPPError it raises (the CALLERROR's
    code), the compiled check first (:mod:`chargepoint.ocppvalidate`)."""
    try:
        if ocppvalidate.passes(message.message_type_id, message.action, message.payload):
            return
    except ocppvalidate.NoSchemaError:
        raise ocpp.exceptions.NotImplementedError(
            details={"cause": f"Failed to validate action: {message.action}"}
        ) from None
    # Invalid: ocpp's own check names the rule broken, with ocpp's error and details.
    ocpp.messages._validate_payload(message, "1.6")


class CsmsSession(ChargePoint):
    """One charger's connection: ocpp's ChargePoint (``call``, the receive loop, the
    ``@on``/``@after`` routing), answering calls on a lean path of its own: the route map
    is built once per class and payloads are checked by compiled schemas; what a charger
    sees (results, CALLERROR codes, ``@after`` hooks) is what ocpp's ``_handle_call`` gives."""

    def __init__(
        self,
        charge_point_id: str,
        connection: Any,
        policy: CsmsPolicy,
        answered: Answered | None = None,
    ) -> None:
        # ocpp's ChargePoint.__init__ (ocpp 2.1), less its per-connection route map
        # (tests/csms/test_session.py checks the attributes are still ocpp's).
        self.id = charge_point_id
        self._response_timeout: float = 30
        self._connection = connection
        self.route_map = _class_routes(type(self))
        """Unbound: this class's own ``_handle_call`` passes ``self``."""
        self._call_lock = asyncio.Lock()
        self._response_queue: asyncio.Queue[Any] = asyncio.Queue()
        self._unique_id_generator = uuid.uuid4
        self.logger = ocpp_logger
        self.policy = policy
        self.answered = answered if answered is not None else Answered()
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
            return await self._answer(msg)
        if rule.ignore:
            log.info("%s: %s left unanswered (answer rule)", self.id, msg.action)
            return None
        if rule.error is not None:
            code, description, details = rule.error
            await self._send(json.dumps([4, msg.unique_id, code, description, details]))
            return None
        return await self._answer(msg, rule.result or {})

    async def _answer(self, msg: Call, merge: dict[str, Any] | None = None) -> Any:
        """ocpp's ``ChargePoint._handle_call`` (2.1): validate, run the ``@on`` handler,
        validate and send its result (``merge``'s fields over it, after the check), then
        the ``@after`` hook.  An OCPPError raised here is sent as a CALLERROR by
        ``route_message``; a handler's own exception becomes an InternalError."""
        handlers = self.route_map.get(msg.action)
        if handlers is None:
            _raise_key_error(msg.action, "1.6")  # NotSupported, or NotImplemented
            return None
        validate = not handlers.get("_skip_schema_validation", False)
        if validate:
            _check(msg)
        kwargs = _snake_case(msg.payload)
        handler = handlers.get("_on_action")
        if handler is None:  # an @after without an @on
            _raise_key_error(msg.action, "1.6")
            return None
        if _wants_unique_id(handler):
            kwargs["call_unique_id"] = msg.unique_id
        try:
            response = handler(self, **kwargs)
            if inspect.isawaitable(response):
                response = await response
        except Exception as exc:
            self.logger.exception("Error while handling request '%s'", msg)
            await self._send(msg.create_call_error(exc).to_json())
            return None
        payload = snake_to_camel_case(remove_nones(serialize_as_dict(response)))
        result = msg.create_call_result(payload)
        if validate:
            _check(result)
        if merge:
            result.payload = {**result.payload, **merge}
        text = result.to_json()
        self.answered.put(msg.action, msg.unique_id, msg.payload, text)
        await super()._send(text)
        after_hook = handlers.get("_after_action")
        if after_hook is None:
            return response
        kwargs.pop("call_unique_id", None)
        if _wants_unique_id(after_hook):
            kwargs["call_unique_id"] = msg.unique_id
        outcome = after_hook(self, **kwargs)
        if inspect.isawaitable(outcome):
            asyncio.ensure_future(outcome)
        return outcome

    async def _send(self, message: str) -> None:
        # A CALLERROR answering a call (a failed check, an answer rule): kept for a resend.
        if self._answering and message.startswith("[4"):
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
