"""Steps about OCPP messages: what the charger sends, what the CSMS sends, what it receives.

Every payload written in a scenario is checked against the official OCPP 1.6
JSON schema when the file is loaded, and every matcher against the schema of
the message it matches, so a typo fails at once, not minutes into a run.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Discriminator, Field, PlainValidator, Tag, WithJsonSchema
from pydantic import model_validator as validates

from . import matchers
from .errors import Located, brief, problem, problems_error
from .fields import (
    CallErrorCode,
    ConnectorOrCharger,
    CPAction,
    CsmsAction,
    Duration,
    Model,
    Payload,
    PayloadMatcher,
    Shorthand,
)
from .ocpp_schema import CALL, CP_ACTIONS, RESULT, enum_of, matcher_problems, payload_problems

TRIGGERABLE = enum_of(CALL, "TriggerMessage", "requestedMessage")
"""Messages the charger can build by itself (TriggerMessage obliges it to), so ``send`` may
leave their payload out."""


ValueMatcher = Annotated[
    matchers.Matcher, PlainValidator(matchers.parse_value), WithJsonSchema(matchers.VALUE_SCHEMA)
]


def _check(found: list[Located], prefix: tuple[str | int, ...] = ()) -> None:
    if found:
        raise problems_error([Located((*prefix, *p.path), p.message, p.at_key) for p in found])


def _exclusive(spec: Model, *names: str) -> None:
    """At most one of ``names`` may be set; the error points at the second one."""
    given = [n for n in names if getattr(spec, n) not in (None, False)]
    if len(given) > 1:
        raise problem(f"{given[0]} and {given[1]} cannot both be given", (given[1],), at_key=True)


class ErrorMatch(Model):
    """An expected CALLERROR; ``error: {}`` accepts any code."""

    code: CallErrorCode | None = None
    description: ValueMatcher | None = None


class ErrorReply(Model):
    """A CALLERROR to send instead of a result."""

    code: CallErrorCode
    description: str = ""
    details: dict[str, Any] = {}


ExpectedError = Annotated[ErrorMatch, Shorthand("code", CallErrorCode)]
ErrorToSend = Annotated[ErrorReply, Shorthand("code", CallErrorCode)]


class Send(Model):
    """The charger sends a call of its own, and waits for the CSMS's answer."""

    action: CPAction
    payload: Payload | None = None
    """Sent as written (camelCase, as on the wire); left out, the charger builds it (only for
    messages a TriggerMessage can request)."""
    connector: ConnectorOrCharger | None = None
    """For a payload the charger builds: which connector's StatusNotification or MeterValues
    (0: the charger as a whole)."""
    result: PayloadMatcher | None = None
    """The CSMS's CALLRESULT must match this."""
    error: ExpectedError | None = None
    """The CSMS must answer with a CALLERROR (this code)."""
    within: Duration | None = None

    @validates(mode="after")
    def _ocpp(self) -> Send:
        _exclusive(self, "result", "error")
        if self.payload is None and self.action not in TRIGGERABLE:
            raise problem(
                f"{self.action} needs a payload: the charger builds one by itself only "
                f"for {', '.join(TRIGGERABLE)}",
                ("action",),
            )
        if self.payload is not None:
            if self.connector is not None:
                raise problem(
                    "connector is for a payload the charger builds; this step gives the payload",
                    ("connector",),
                    at_key=True,
                )
            _check(payload_problems(CALL, self.action, self.payload), ("payload",))
        if self.result is not None:
            _check(matcher_problems(RESULT, self.action, self.result), ("result",))
        return self


class ExpectCall(Model):
    """Wait for the CSMS to send this call to the charger, then answer it.

    The answer is the charger's own unless ``reply`` or ``reply_error`` says
    otherwise; they apply to a call that arrives while this step waits.  To
    change the answer to a call the local CSMS is told to make, use
    ``charger_reply`` on that ``csms`` step instead.
    """

    action: CsmsAction
    payload: PayloadMatcher | None = None
    within: Duration | None = None
    reply: Payload | None = None
    """The CALLRESULT payload to answer with (checked against the 1.6 schema)."""
    reply_error: ErrorToSend | None = None

    @validates(mode="after")
    def _ocpp(self) -> ExpectCall:
        _exclusive(self, "reply", "reply_error")
        if self.payload is not None:
            _check(matcher_problems(CALL, self.action, self.payload), ("payload",))
        if self.reply is not None:
            _check(payload_problems(RESULT, self.action, self.reply), ("reply",))
        return self


class CsmsCall(Model):
    """The local CSMS sends a call to the charger and checks the answer."""

    call: CsmsAction
    payload: Payload = {}
    result: PayloadMatcher | None = None
    """The charger's CALLRESULT must match this."""
    error: ExpectedError | None = None
    """The charger must answer with a CALLERROR (this code)."""
    unanswered: bool = False
    """The charger must not answer within ``within`` (e.g. after a Rejected boot)."""
    charger_reply: Payload | None = None
    """Make the charger answer with this CALLRESULT instead of its own."""
    charger_error: ErrorToSend | None = None
    """Make the charger answer with this CALLERROR instead of its own."""
    within: Duration | None = None

    @validates(mode="after")
    def _ocpp(self) -> CsmsCall:
        _exclusive(self, "result", "error", "unanswered")
        _exclusive(self, "charger_reply", "charger_error")
        _exclusive(self, "result", "charger_error")  # the result could never arrive
        _exclusive(self, "error", "charger_reply")
        _check(payload_problems(CALL, self.call, self.payload), ("payload",))
        if self.result is not None:
            _check(matcher_problems(RESULT, self.call, self.result), ("result",))
        if self.charger_reply is not None:
            _check(payload_problems(RESULT, self.call, self.charger_reply), ("charger_reply",))
        return self


class CsmsAnswer(Model):
    """From now on the local CSMS answers this charger call differently.

    ``result`` is merged over the CSMS's own answer (so ``{status: Pending}``
    keeps its currentTime); with none of result/error/ignore the CSMS's own
    behaviour is restored.
    """

    answer: CPAction
    result: Payload | None = None
    error: ErrorToSend | None = None
    ignore: bool = False
    """Send no answer at all, so the charger's call times out."""
    times: int | None = Field(default=None, ge=1)
    """Only for the next N calls; left out, until changed again."""

    @validates(mode="after")
    def _ocpp(self) -> CsmsAnswer:
        _exclusive(self, "result", "error", "ignore")
        if self.result is not None:
            _check(payload_problems(RESULT, self.answer, self.result, partial=True), ("result",))
        return self


def _csms_tag(value: Any) -> str | None:
    if isinstance(value, CsmsCall | CsmsAnswer):
        return "csms:call" if isinstance(value, CsmsCall) else "csms:answer"
    if isinstance(value, dict):
        has = [k for k in ("call", "answer") if k in value]
        return f"csms:{has[0]}" if len(has) == 1 else None
    return None


def _csms_shape(value: Any) -> Any:
    if _csms_tag(value) is None:
        got = f"keys {', '.join(map(str, value))}" if isinstance(value, dict) else brief(value)
        raise problem(
            "a csms step has `call:` (the CSMS sends a call) or `answer:` (it answers "
            f"a charger message differently from now on); got {got}"
        )
    return value


CsmsSpec = Annotated[
    Annotated[
        Annotated[CsmsCall, Tag("csms:call")] | Annotated[CsmsAnswer, Tag("csms:answer")],
        Discriminator(_csms_tag),
    ],
    BeforeValidator(_csms_shape),
]


class MessageMatch(Model):
    """A call the charger sent to the CSMS: the action, and fields of its payload."""

    action: CPAction
    payload: PayloadMatcher | None = None

    @validates(mode="after")
    def _ocpp(self) -> MessageMatch:
        if self.payload is not None:
            _check(matcher_problems(CALL, self.action, self.payload), ("payload",))
        return self


class ExpectReceived(MessageMatch):
    """The CSMS receives this message after whatever the previous expectation matched."""

    within: Duration | None = None
    """A timing check: the charger sent the message at most this long (charger time) after
    the step began.  Left out, the step only waits up to the scenario's ``timeout``."""


class ExpectUnordered(Model):
    """The CSMS receives all of these messages, in any order."""

    messages: list[Annotated[MessageMatch, Shorthand("action", CPAction)]] = Field(min_length=1)
    within: Duration | None = None
    """A timing check: the charger sent the last of them at most this long (charger time)
    after the step began.  Left out, the step only waits up to the scenario's ``timeout``."""


def _actions(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


_CP_ENUM = {"type": "string", "enum": list(CP_ACTIONS)}
Actions = Annotated[
    list[CPAction],
    BeforeValidator(_actions),
    Field(min_length=1),
    WithJsonSchema({"anyOf": [_CP_ENUM, {"type": "array", "items": _CP_ENUM}]}),
]
"""One action, or a list of them."""


class ExpectNever(Model):
    """The CSMS receives no such message: for ``during`` seconds, or until the scenario ends."""

    action: Actions | None = None
    """Left out: no message at all."""
    payload: PayloadMatcher | None = None
    """Only with a single action."""
    during: Duration | None = None
    """Charger time from the step's start in which the charger sends no such message (what
    it sends later does not count, even if a fast link delivers it early)."""

    @validates(mode="after")
    def _ocpp(self) -> ExpectNever:
        if self.payload is not None:
            if self.action is None or len(self.action) != 1:
                raise problem(
                    "payload needs exactly one action to match against", ("payload",), at_key=True
                )
            _check(matcher_problems(CALL, self.action[0], self.payload), ("payload",))
        return self
