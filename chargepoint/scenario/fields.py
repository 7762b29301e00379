"""Building blocks of the scenario model: the strict base model and the hand-friendly types.

Scenarios are written by hand, so the model accepts short forms (``- wait: 5``,
``- send: Heartbeat``, ``within: 2h``) and answers mistakes with a suggestion,
while editors still get a JSON Schema that knows both forms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, Final

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainSerializer,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import (
    CoreSchema,
    ErrorDetails,
    InitErrorDetails,
    PydanticCustomError,
    core_schema,
)

from . import matchers
from .errors import PROBLEMS, Located, brief, problem, problems_error, suggest
from .ocpp_schema import CP_ACTIONS, CSMS_ACTIONS


class Model(BaseModel):
    """Strict and immutable: an unknown key is an error with a suggestion, never ignored.

    ``extra="forbid"`` alone would say only "Extra inputs are not permitted"; the
    check below names the keys that *are* allowed, and its error points at the key.
    The rest of the mapping is still checked, so a typo in one key does not hide the
    mistakes in the others: every problem of a file is reported in one go.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    @model_validator(mode="before")
    @classmethod
    def _unknown_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        known = [f.alias or name for name, f in cls.model_fields.items()]
        known_set = set(known)
        unknown = [k for k in data if k not in known_set]
        if not unknown:
            return data
        errors: list[InitErrorDetails] = [
            {
                "type": problems_error(
                    [
                        Located(
                            (k,),
                            f"unknown key {brief(k)}{suggest(k, known)} "
                            f"(expected {', '.join(known)})",
                            at_key=True,
                        )
                        for k in unknown
                    ]
                ),
                "loc": (),
                "input": data,
            }
        ]
        try:
            unknown_set = set(unknown)
            cls.model_validate({k: v for k, v in data.items() if k not in unknown_set})
        except ValidationError as exc:
            errors += [_again(error) for error in exc.errors()]
        # pydantic merges a ValidationError raised here into the outer one, under this loc
        raise ValidationError.from_exception_data(cls.__name__, errors)


def _again(error: ErrorDetails) -> InitErrorDetails:
    """An error pydantic reported, in the form that raises it again."""
    ctx = error.get("ctx")
    if error["type"] == PROBLEMS and ctx is not None:
        return {
            "type": PydanticCustomError(PROBLEMS, "{text}", ctx),
            "loc": error["loc"],
            "input": error["input"],
        }
    again: InitErrorDetails = {"type": error["type"], "loc": error["loc"], "input": error["input"]}
    if ctx is not None:
        again["ctx"] = ctx
    return again


@dataclass(frozen=True)
class Shorthand:
    """Lets a bare scalar stand for a mapping with one key: ``plug_in: 2`` is ``{connector: 2}``.

    Put it on the field that holds the model; ``scalar`` is the bare value's type,
    so the JSON Schema offers both forms.
    """

    key: str
    scalar: Any

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_before_validator_function(self._expand, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        short = (
            self.scalar if isinstance(self.scalar, dict) else TypeAdapter(self.scalar).json_schema()
        )
        return {"anyOf": [short, handler(schema)]}

    def _expand(self, value: Any) -> Any:
        if isinstance(value, dict | BaseModel) or value is None:
            return value
        return {self.key: value}


@dataclass(frozen=True)
class OneOf:
    """A string from a fixed list; a near miss gets "did you mean", the schema an ``enum``.

    ``elsewhere`` maps names that are valid in another place to a hint saying
    where, because sending ``Reset`` from the charger is a mix-up, not a typo.
    """

    choices: tuple[str, ...]
    what: str
    elsewhere: tuple[tuple[str, str], ...] = ()

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(self._check)

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "enum": list(self.choices)}

    def _check(self, value: Any) -> str:
        if isinstance(value, str) and value in self.choices:
            return value
        hint = dict(self.elsewhere).get(value) if isinstance(value, str) else None
        if hint:
            raise problem(f"{value} {hint}")
        raise problem(f"unknown {self.what} {brief(value)}{suggest(value, self.choices)}")


CPAction = Annotated[
    str,
    OneOf(
        CP_ACTIONS,
        "charge-point action",
        tuple(
            (
                a,
                "is sent by the CSMS, not by the charger "
                "(use `csms: {call: ...}` or `expect_call`)",
            )
            for a in CSMS_ACTIONS
            if a not in CP_ACTIONS
        ),
    ),
]
CsmsAction = Annotated[
    str,
    OneOf(
        CSMS_ACTIONS,
        "CSMS action",
        tuple(
            (a, "is sent by the charger, not by the CSMS (use `send` or `expect_received`)")
            for a in CP_ACTIONS
            if a not in CSMS_ACTIONS
        ),
    ),
]

CALL_ERROR_CODES: Final = (
    "NotImplemented",
    "NotSupported",
    "InternalError",
    "ProtocolError",
    "SecurityError",
    "FormationViolation",
    "PropertyConstraintViolation",
    "OccurenceConstraintViolation",
    "TypeConstraintViolation",
    "GenericError",
    # spelled as the ocpp library sends them, which differs from OCPP-J 1.6 §4.2.3
    "FormatViolation",
    "OccurrenceConstraintViolation",
)
CallErrorCode = Annotated[str, OneOf(CALL_ERROR_CODES, "CALLERROR code")]

_UNITS: Final = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")


def _duration(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            raise problem(f"a duration cannot be negative, got {value:g}")
        return float(value)
    if isinstance(value, str):
        text = value.replace(" ", "")
        parts = _DURATION.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            return sum(float(n) * _UNITS[u] for n, u in parts)
    raise problem(
        f"expected a duration in seconds (30, 0.5) or with units (90s, 15m, 2h, "
        f"1h30m), got {brief(value)}"
    )


Duration = Annotated[
    float,
    PlainValidator(_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": r"^(\d+(\.\d+)?\s*(ms|s|m|h|d)\s*)+$"},
            ],
            "description": "seconds, or a number with units: 90s, 15m, 2h, 1h30m "
            "(charger time: compressed when the time scale is not 1)",
        }
    ),
]
"""Seconds of charger time (the scenario's clock, sped up by its ``time_scale``)."""

ConnectorId = Annotated[int, Field(ge=1, le=99)]
"""A connector; 0 (the whole charger) is not allowed here."""

ConnectorOrCharger = Annotated[int, Field(ge=0, le=99)]
"""A connector, or 0 for the whole charger."""

PayloadMatcher = Annotated[
    matchers.Fields,
    PlainValidator(matchers.parse_fields),
    PlainSerializer(lambda f: f.to_data()),
    WithJsonSchema(matchers.PAYLOAD_SCHEMA),
]
"""Payload fields to match (see :mod:`.matchers`)."""


def _payload(value: Any) -> Any:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise problem(f"expected a mapping of payload fields, got {brief(value)}")
    return value


Payload = Annotated[dict[str, Any], BeforeValidator(_payload)]
"""An OCPP payload as it goes on the wire (camelCase keys), checked against the 1.6 schema."""


def _config_value(value: Any) -> str:
    """OCPP carries every configuration value as a string; YAML authors write 60 or true."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise problem(f"expected a string, number or true/false, got {brief(value)}")


ConfigValue = Annotated[
    str, PlainValidator(_config_value), WithJsonSchema({"type": ["string", "number", "boolean"]})
]
