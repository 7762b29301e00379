"""OCPP-J 1.6 frames: parse what the CSMS sent, check payloads against the schemas,
and write frames.  Pure functions; ocpp supplies the schemas (``get_validator``).

Bounded before use: a frame longer than :data:`MAX_FRAME` characters or nested
deeper than the JSON parser can take is refused with a named error, never a
RecursionError.
"""

from __future__ import annotations

import decimal
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any, Final

from jsonschema.exceptions import ValidationError as SchemaError
from ocpp.messages import get_validator

from chargepoint import ocppvalidate

MAX_FRAME: Final = 1 << 20
"""Characters; OCPP 1.6 has no larger message (a full SendLocalList is far below)."""
MAX_ID: Final = 36
"""OCPP-J §4.1.4: the message id is at most 36 characters."""
MAX_DEPTH: Final = 32
"""Nesting of arrays and objects; the deepest OCPP 1.6 message (SetChargingProfile) needs 7."""

# The id of a frame the JSON parser could not take (too deep, a number too long), read
# from its start so the CSMS still gets an answer: [2,"<id>", ...
_LEADING_ID = re.compile(r'\s*\[\s*[234]\s*,\s*"([^"\\]{1,200})"')

CALL, CALLRESULT, CALLERROR = 2, 3, 4

# Schemas with decimals of one fraction digit need Decimal parsing (ocpp does the same).
_DECIMAL_CALLS: Final = {"SetChargingProfile", "RemoteStartTransaction"}
_DECIMAL_RESULTS: Final = {"GetCompositeSchedule"}


class FrameError(ValueError):
    """Not a valid OCPP-J frame; ``unique_id`` when one could be read (then it is answered
    with a CALLERROR ``code``)."""

    def __init__(
        self, message: str, unique_id: str | None = None, code: str = "FormationViolation"
    ) -> None:
        super().__init__(message)
        self.unique_id = unique_id
        self.code = code


@dataclass(frozen=True)
class Frame:
    kind: int
    unique_id: str
    action: str = ""
    payload: Any = None
    error_code: str = ""
    error_description: str = ""


def parse(text: str) -> Frame:
    """One frame from the CSMS, or :class:`FrameError` saying what is wrong with it."""
    if len(text) > MAX_FRAME:
        raise FrameError(f"frame of {len(text)} characters (at most {MAX_FRAME})", _id(text))
    try:
        data = json.loads(text)
    except RecursionError:
        raise FrameError(f"JSON nested deeper than {MAX_DEPTH}", _id(text)) from None
    except ValueError as exc:  # bad JSON, or an integer of more than 4,300 digits
        raise FrameError(f"not JSON: {str(exc)[:100]}", _id(text)) from None
    if _too_deep(data):
        raise FrameError(f"JSON nested deeper than {MAX_DEPTH}", _id(text))
    if not isinstance(data, list) or len(data) < 3:
        raise FrameError("not an OCPP-J message ([type, id, ...])")
    kind, unique_id = data[0], data[1]
    if isinstance(unique_id, str) and len(unique_id) > MAX_ID:
        # readable, so answered (with the id as sent): the CSMS learns what it did wrong
        raise FrameError(f"message id of {len(unique_id)} characters (at most {MAX_ID})", unique_id)
    if not isinstance(unique_id, str) or not unique_id:
        raise FrameError(f"message id must be a string of 1 to {MAX_ID} characters")
    if kind not in (CALL, CALLRESULT, CALLERROR) or isinstance(kind, bool):
        raise FrameError(f"unknown message type {str(kind)[:20]}", unique_id, "ProtocolError")
    if kind == CALL:
        if len(data) != 4 or not isinstance(data[2], str) or not isinstance(data[3], dict):
            raise FrameError("CALL must be [2, id, action, {payload}]", unique_id)
        return Frame(CALL, unique_id, data[2], data[3])
    if kind == CALLRESULT:
        if len(data) != 3 or not isinstance(data[2], dict):
            raise FrameError("CALLRESULT must be [3, id, {payload}]", unique_id)
        return Frame(CALLRESULT, unique_id, payload=data[2])
    if len(data) != 5 or not isinstance(data[2], str) or not isinstance(data[3], str):
        raise FrameError("CALLERROR must be [4, id, code, description, {details}]", unique_id)
    return Frame(CALLERROR, unique_id, error_code=data[2], error_description=data[3][:200])


def _id(text: str) -> str | None:
    match = _LEADING_ID.match(text[:300])
    return match.group(1) if match else None


def _too_deep(data: Any) -> bool:
    """Deeper than MAX_DEPTH, checked without recursion."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            value = list(value.values())
        elif not isinstance(value, list):
            continue
        if depth > MAX_DEPTH:
            return True
        stack.extend((item, depth + 1) for item in value if isinstance(item, list | dict))
    return False


def schema_error(kind: int, action: str, payload: dict[str, Any]) -> tuple[str, str] | None:
    """The OCPP-J 1.6 error code (§4.2.3 spellings) and a description, or None when valid.

    The compiled check answers for a valid payload; jsonschema names the rule an invalid
    one broke (see :mod:`chargepoint.ocppvalidate`)."""
    try:
        if ocppvalidate.passes(kind, action, payload):
            return None
    except ocppvalidate.NoSchemaError:
        return ("NotImplemented", f"no schema for {action}")
    decimals = (kind == CALL and action in _DECIMAL_CALLS) or (
        kind == CALLRESULT and action in _DECIMAL_RESULTS
    )
    try:
        if decimals:
            validator = get_validator(kind, action, "1.6", parse_float=decimal.Decimal)
            payload = json.loads(json.dumps(payload), parse_float=decimal.Decimal)
        else:
            validator = get_validator(kind, action, "1.6")
    except OSError:
        return ("NotImplemented", f"no schema for {action}")
    try:
        validator.validate(payload)
    except (ArithmeticError, TypeError):
        # Decimal's multipleOf check on 1e300, Infinity or NaN (Python's JSON reads them).
        return ("PropertyConstraintViolation", f"a number out of range in {action}")
    except SchemaError as exc:
        path = "/".join(str(p) for p in exc.absolute_path) or "payload"
        code = {
            "type": "TypeConstraintViolation",
            "maxLength": "TypeConstraintViolation",
            "required": "ProtocolError",
            "additionalProperties": "FormationViolation",
        }.get(str(exc.validator), "PropertyConstraintViolation")
        return (code, f"{path}: {exc.message}"[:200])
    return None


def call(unique_id: str, action: str, payload: dict[str, Any]) -> str:
    return json.dumps([CALL, unique_id, action, payload], separators=(",", ":"))


def call_result(unique_id: str, payload: dict[str, Any]) -> str:
    return json.dumps([CALLRESULT, unique_id, payload], separators=(",", ":"))


def call_error(unique_id: str, code: str, description: str = "") -> str:
    return json.dumps([CALLERROR, unique_id, code, description, {}], separators=(",", ":"))


def new_id() -> str:
    """A message id: unique across restarts, 36 characters (OCPP-J §4.1.4's maximum)."""
    return str(uuid.uuid4())
