"""OCPP 1.6 action names and payload checks against the official JSON schemas.

The schemas are the ones the ``ocpp`` library validates every frame with, so a
payload that passes here is one the charger and the CSMS will accept; a typo
in a scenario fails when the file is loaded, not minutes into a run.
"""

from __future__ import annotations

import copy
import decimal
import json
from functools import cache
from typing import Any, Final

from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError
from ocpp.messages import MessageType, get_validator

from chargepoint.payloads import CP_ACTIONS, CSMS_ACTIONS

from . import matchers as m
from .errors import Located, Path, brief, suggest

__all__ = ["CALL", "CP_ACTIONS", "CSMS_ACTIONS", "RESULT", "payload_problems"]

CALL: Final = MessageType.Call
RESULT: Final = MessageType.CallResult


DECIMAL_SCHEMAS: Final = frozenset(
    {
        (CALL, "SetChargingProfile"),
        (CALL, "RemoteStartTransaction"),
        (RESULT, "GetCompositeSchedule"),
    }
)
"""Schemas with ``multipleOf 0.1`` that ocpp validates with ``decimal.Decimal`` floats.  ocpp
caches ONE validator per schema, whatever ``parse_float`` asked for it first: loading these
with floats here would break ocpp's own checks later in the process (Decimal / float)."""


def _validator(kind: int, action: str) -> Draft4Validator:
    if (kind, action) in DECIMAL_SCHEMAS:
        return get_validator(kind, action, "1.6", parse_float=decimal.Decimal)
    return get_validator(kind, action, "1.6")


def _decimals(value: Any) -> Any:
    """``value`` with its floats as Decimal, as the schemas of DECIMAL_SCHEMAS need (15.9 is a
    multiple of 0.1 as a Decimal, not as a float)."""
    return json.loads(json.dumps(value), parse_float=decimal.Decimal)


def schema(kind: int, action: str) -> dict[str, Any]:
    return dict(_validator(kind, action).schema)


def enum_of(kind: int, action: str, field: str) -> tuple[str, ...]:
    """The allowed values of one top-level field, straight from the schema."""
    return tuple(schema(kind, action)["properties"][field]["enum"])


@cache
def _partial_validator(kind: int, action: str) -> Draft4Validator:
    relaxed = copy.deepcopy(schema(kind, action))
    relaxed.pop("required", None)
    return Draft4Validator(relaxed)


def payload_problems(
    kind: int, action: str, payload: dict[str, Any], partial: bool = False
) -> list[Located]:
    """Schema errors of ``payload``, paths relative to it.

    ``partial``: the payload is merged over a default, so top-level fields may be missing.
    """
    validator = _partial_validator(kind, action) if partial else _validator(kind, action)
    if (kind, action) in DECIMAL_SCHEMAS:
        payload = _decimals(payload)
    found: list[Located] = []
    for error in validator.iter_errors(payload):
        found += _translate(error, action)
    return sorted(found, key=lambda p: [str(x) for x in p.path])


_TYPE_NAMES: Final = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
}


def _translate(error: ValidationError, action: str) -> list[Located]:
    path: Path = tuple(error.absolute_path)
    inst, rule, arg = error.instance, error.validator, error.validator_value
    if rule == "additionalProperties" and isinstance(inst, dict):
        known = list(error.schema.get("properties", {}))
        return [
            Located(
                (*path, k),
                f"unknown field {k!r} in {action}{suggest(k, known)} "
                f"(expected {', '.join(known) or 'no fields'})",
                at_key=True,
            )
            for k in inst
            if k not in known
        ]
    if rule == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else error.message
        return [Located(path, f"missing required field {missing!r} in {action}")]
    if rule == "enum":
        return [
            Located(
                path,
                f"{brief(inst)} is not allowed here{suggest(inst, arg)} "
                f"(expected one of {', '.join(map(str, arg))})",
            )
        ]
    if rule == "type":
        return [Located(path, f"expected {_TYPE_NAMES.get(str(arg), arg)}, got {brief(inst)}")]
    if rule == "maxLength":
        return [Located(path, f"{brief(inst)} is longer than {arg} characters")]
    return [Located(path, str(error.message))]


def _deref(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        return dict(target)
    return node


def matcher_problems(kind: int, action: str, matcher: m.Fields) -> list[Located]:
    """Matchers that can never match a schema-valid payload: unknown fields, impossible values."""
    root = schema(kind, action)
    found: list[Located] = []
    _check(matcher, root, root, (), action, found)
    return found


def _check(
    matcher: m.Matcher,
    node: dict[str, Any],
    root: dict[str, Any],
    path: Path,
    action: str,
    found: list[Located],
) -> None:
    node = _deref(node, root)
    want = node.get("type")
    if isinstance(matcher, m.Fields):
        if want not in (None, "object"):
            found.append(Located(path, f"expected {_TYPE_NAMES.get(want, want)}, got a mapping"))
            return
        props = node.get("properties", {})
        for name, sub in matcher.fields:
            if name not in props:
                if node.get("additionalProperties") is False:
                    found.append(
                        Located(
                            (*path, name),
                            f"unknown field {name!r} in {action}"
                            f"{suggest(name, props)} (expected {', '.join(props)})",
                            at_key=True,
                        )
                    )
                continue
            if isinstance(sub, m.Absent) and name in node.get("required", ()):
                found.append(
                    Located(
                        (*path, name), f"{name!r} is required in {action}, so it is never absent"
                    )
                )
            _check(sub, props[name], root, (*path, name), action, found)
    elif isinstance(matcher, m.Items | m.Contains):
        if want not in (None, "array"):
            found.append(Located(path, f"expected {_TYPE_NAMES.get(want, want)}, got a list"))
            return
        item_schema = node.get("items", {})
        if isinstance(matcher, m.Contains):
            _check(matcher.item, item_schema, root, (*path, "$contains"), action, found)
        else:
            for i, sub in enumerate(matcher.items):
                _check(sub, item_schema, root, (*path, i), action, found)
    elif isinstance(matcher, m.Range) and want not in (None, "integer", "number"):
        found.append(
            Located(
                path, f"$min/$max compare numbers, but this field is {_TYPE_NAMES.get(want, want)}"
            )
        )
    elif isinstance(matcher, m.Regex) and want not in (None, "string"):
        found.append(
            Located(
                (*path, "$regex"),
                f"$regex matches strings, but this field is {_TYPE_NAMES.get(want, want)}",
            )
        )
    elif isinstance(matcher, m.Equals | m.OneOf):
        _check_literals(matcher, node, root, path, action, found)


def _check_literals(
    matcher: m.Equals | m.OneOf,
    node: dict[str, Any],
    root: dict[str, Any],
    path: Path,
    action: str,
    found: list[Located],
) -> None:
    if isinstance(matcher, m.OneOf):
        cases = [((*path, "$in", i), v) for i, v in enumerate(matcher.values)]
    else:
        cases = [((*path, "$eq") if matcher.explicit else path, matcher.value)]
    validator = Draft4Validator({**node, "definitions": root.get("definitions", {})})
    for where, value in cases:
        for error in validator.iter_errors(_decimals(value)):
            found += [
                Located((*where, *p.path), p.message, p.at_key) for p in _translate(error, action)
            ]
