"""OCPP 1.6 payload checks at the speed of a fleet: the ocpp package's schemas, compiled.

The ``ocpp`` package validates with jsonschema's ``Draft4Validator``, which walks the
schema for every message: 33 µs for a BootNotification, 121 µs for a MeterValues.
``fastjsonschema`` turns each draft-04 schema into a Python function once (per action
and direction, per process, at its first use): 1.2 and 4.4 µs.  So a payload is checked
here first; only one that fails (rare: a broken peer) goes through jsonschema again,
which alone says which rule it broke, so every error code and description stays
exactly what ``ocpp`` gives (``tests/core/test_ocppvalidate.py`` runs both over valid
and invalid payloads of every 1.6 action).

Same semantics as ocpp's check: no ``format`` checks (ocpp's validator has no format
checker), integers are ints and not bools (draft-04).  The three schemas with
``multipleOf 0.1`` (charging-schedule limits, :data:`DECIMAL_SCHEMAS`) are left to
jsonschema: ocpp checks them on Decimals, whose arithmetic refuses a limit of 1e300
that a float division would pass; they are rare (never in a boot storm).  A compiled
check that raises anything but its own error proves nothing, and jsonschema decides.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any, Final

import fastjsonschema

CALL: Final = 2
CALLRESULT: Final = 3

DRAFT_04: Final = "http://json-schema.org/draft-04/schema#"

DECIMAL_SCHEMAS: Final = frozenset(
    {"SetChargingProfile", "RemoteStartTransaction", "GetCompositeScheduleResponse"}
)
"""ocpp checks these with ``decimal.Decimal`` floats (``multipleOf 0.1``): jsonschema's."""


class NoSchemaError(LookupError):
    """OCPP 1.6 has no schema for this action (a misspelt or a 2.0.1 action)."""


@cache
def schema_names() -> frozenset[str]:
    """The schema files ocpp ships, by name: an action from a peer is looked up here,
    never joined into a path."""
    folder = resources.files("ocpp.v16").joinpath("schemas")
    return frozenset(
        entry.name.removesuffix(".json")
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    )


def schema_name(kind: int, action: str) -> str:
    """``BootNotification`` for a CALL, ``BootNotificationResponse`` for its CALLRESULT."""
    return action + "Response" if kind == CALLRESULT else action


def load_schema(kind: int, action: str) -> dict[str, Any]:
    """A fresh copy of the schema as ocpp ships it (floats as floats); NoSchemaError."""
    return _read(_known(schema_name(kind, action)))


def _known(name: str) -> str:
    if name not in schema_names():
        raise NoSchemaError(f"OCPP 1.6 has no schema {name!r}")
    return name


def _read(name: str) -> dict[str, Any]:
    folder = resources.files("ocpp.v16").joinpath("schemas")
    schema: dict[str, Any] = json.loads(folder.joinpath(f"{name}.json").read_text("utf-8-sig"))
    return schema


@cache
def _compiled(name: str) -> Callable[[Any], Any]:
    schema = _read(name)
    # ocpp checks every 1.6 schema as draft-04 whatever it declares; fastjsonschema
    # would pick its generator from "$schema".
    schema["$schema"] = DRAFT_04
    return fastjsonschema.compile(schema, use_default=False, use_formats=False)


def passes(kind: int, action: str, payload: Any) -> bool:
    """True: the payload is valid (as ocpp's jsonschema check would say).  False: it is
    invalid, or this check cannot tell (a :data:`DECIMAL_SCHEMAS` one); ask jsonschema,
    which also names the rule broken.  :class:`NoSchemaError`: OCPP 1.6 has no schema.

    Each schema is compiled at its first use, once per process."""
    name = _known(schema_name(kind, action))
    if name in DECIMAL_SCHEMAS:
        return False
    try:
        _compiled(name)(payload)
    except Exception:  # JsonSchemaValueException, or an overflow: jsonschema decides
        return False
    return True
