"""The compiled OCPP 1.6 checks say what ocpp's jsonschema checks say, for every schema.

Payloads are drawn from each schema (valid ones), then some are broken at a random place
(a wrong type, a missing or an unknown field, a string too long, a value outside its enum,
a limit that is not a multiple of 0.1); both validators must agree on every one.  The
three schemas ocpp checks on Decimals are left to jsonschema, and still answered right.
"""

from __future__ import annotations

import decimal
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ocpp.messages import get_validator

from chargepoint import ocppvalidate
from chargepoint.core import ocppj

DECIMAL_SCHEMAS = {
    (2, "SetChargingProfile"),
    (2, "RemoteStartTransaction"),
    (3, "GetCompositeSchedule"),
}

SCHEMAS = sorted(
    (3, name.removesuffix("Response")) if name.endswith("Response") else (2, name)
    for name in ocppvalidate.schema_names()
)


def jsonschema_says_valid(kind: int, action: str, payload: Any) -> bool | None:
    """ocpp's own check (messages._validate_payload): Decimal floats for three schemas.
    None: it cannot tell (its Decimal multipleOf raises on 1e300, Infinity or NaN)."""
    if (kind, action) in DECIMAL_SCHEMAS:
        validator = get_validator(kind, action, "1.6", parse_float=decimal.Decimal)
        payload = json.loads(json.dumps(payload), parse_float=decimal.Decimal)
    else:
        validator = get_validator(kind, action, "1.6")
    try:
        return validator.is_valid(payload)
    except (ArithmeticError, TypeError):  # Decimal's multipleOf on a huge number
        return None


def _deref(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = root
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


NUMBERS = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    st.integers(-10000, 10000).map(lambda n: n / 10),  # one fraction digit, as a float
    st.sampled_from([1e300, -0.0, 15.9, 15.95, 0.30000000000000004]),
)


def payloads(node: dict[str, Any], root: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values valid for ``node`` (mostly: a number may miss a multipleOf)."""
    node = _deref(node, root)
    if "enum" in node:
        return st.sampled_from(node["enum"])
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        props = node.get("properties", {})
        required = set(node.get("required", ()))
        fixed = {k: payloads(v, root, depth + 1) for k, v in props.items() if k in required}
        optional = {k: payloads(v, root, depth + 1) for k, v in props.items() if k not in required}
        return st.fixed_dictionaries(fixed, optional=optional)
    if kind == "array":
        return st.lists(
            payloads(node.get("items", {}), root, depth + 1),
            min_size=node.get("minItems", 0),
            max_size=max(node.get("minItems", 0), 2),
        )
    if kind == "string":
        if node.get("format") == "date-time":
            return st.sampled_from(
                ["2026-12-07T12:00:00.000Z", "2026-12-07T12:00:00Z", "yesterday"]
            )
        return st.text(max_size=node.get("maxLength", 30))
    if kind == "integer":
        return st.integers(-(2**40), 2**40)
    if kind == "number":
        return NUMBERS
    if kind == "boolean":
        return st.booleans()
    return st.none() | st.integers() | st.text(max_size=5)


WRONG = st.sampled_from(
    [None, True, False, 0, 1, -1, 1.0, 2.5, "", "x" * 600, [], [1], {}, {"a": 1}]
)


@st.composite
def broken(draw: st.DrawFn, value: Any) -> Any:
    """``value`` with one thing changed somewhere in it (or left alone)."""
    how = draw(st.sampled_from(["keep", "replace", "drop", "add", "longer", "deeper"]))
    if how == "keep":
        return value
    if isinstance(value, dict) and value and how != "replace":
        key = draw(st.sampled_from(sorted(value)))
        changed = dict(value)
        if how == "drop":
            del changed[key]
        elif how == "add":
            changed[draw(st.sampled_from(["extra", "connectorid", key + "X"]))] = 1
        elif how == "longer" and isinstance(value[key], str):
            changed[key] = value[key] + "x" * draw(st.integers(1, 600))
        else:
            changed[key] = draw(broken(value[key]))
        return changed
    if isinstance(value, list) and value and how == "deeper":
        index = draw(st.integers(0, len(value) - 1))
        return [*value[:index], draw(broken(value[index])), *value[index + 1 :]]
    return draw(WRONG)


@st.composite
def cases(draw: st.DrawFn) -> tuple[int, str, Any]:
    kind, action = draw(st.sampled_from(SCHEMAS))
    # not ocpp's get_validator(): it caches ONE validator per schema, Decimal or not
    root = ocppvalidate.load_schema(kind, action)
    payload = draw(payloads(root, root))
    return kind, action, draw(broken(payload))


OUT_OF_RANGE = {
    action: ("PropertyConstraintViolation", f"a number out of range in {action}")
    for _, action in DECIMAL_SCHEMAS
}


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(cases())
def test_the_compiled_check_agrees_with_jsonschema(case: tuple[int, str, Any]) -> None:
    kind, action, payload = case
    expected = jsonschema_says_valid(kind, action, payload)
    if expected is None:  # jsonschema raised (Decimal arithmetic): a CALLERROR all the same
        assert ocppj.schema_error(kind, action, payload) == OUT_OF_RANGE[action]
        return
    if (kind, action) in DECIMAL_SCHEMAS:
        assert not ocppvalidate.passes(kind, action, payload)  # jsonschema's to check
    else:
        # valid: waved through (no slow path); invalid: never
        assert ocppvalidate.passes(kind, action, payload) == expected, (kind, action, payload)
    assert (ocppj.schema_error(kind, action, payload) is None) == expected


@pytest.mark.parametrize(("kind", "action"), SCHEMAS)
def test_every_schema_compiles_and_judges_an_empty_payload_as_jsonschema(
    kind: int, action: str
) -> None:
    expected = jsonschema_says_valid(kind, action, {})
    assert ocppvalidate.passes(kind, action, {}) == (
        expected and (kind, action) not in DECIMAL_SCHEMAS
    )


def test_an_invalid_payload_keeps_ocpps_error_code() -> None:
    bad_type = {"connectorId": "1", "errorCode": "NoError", "status": "Available"}
    assert ocppj.schema_error(2, "StatusNotification", bad_type) == (
        "TypeConstraintViolation",
        "connectorId: '1' is not of type 'integer'",
    )
    unknown = {"chargePointVendor": "v", "chargePointModel": "m", "colour": "red"}
    assert ocppj.schema_error(2, "BootNotification", unknown)[0] == "FormationViolation"
    assert ocppj.schema_error(2, "Heartbeat", {"x": 1})[0] == "FormationViolation"
    assert ocppj.schema_error(2, "BootNotification", {"chargePointVendor": "v"})[0] == (
        "ProtocolError"
    )


def test_an_action_without_a_schema_is_not_implemented() -> None:
    assert ocppj.schema_error(2, "../../etc/passwd", {}) == (
        "NotImplemented",
        "no schema for ../../etc/passwd",
    )
    with pytest.raises(ocppvalidate.NoSchemaError):
        ocppvalidate.passes(2, "TransactionEvent", {})


def test_a_limit_out_of_decimals_range_is_a_callerror_not_a_crash() -> None:
    period = {"startPeriod": 0, "limit": float("inf")}
    schedule = {"chargingRateUnit": "A", "chargingSchedulePeriod": [period]}
    profile = {
        "chargingProfileId": 1,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": schedule,
    }
    payload = {"connectorId": 1, "csChargingProfiles": profile}
    for limit in (float("inf"), float("nan"), 1e300):
        period["limit"] = limit
        assert ocppj.schema_error(2, "SetChargingProfile", payload) == (
            "PropertyConstraintViolation",
            "a number out of range in SetChargingProfile",
        )
    period["limit"] = 15.9  # a multiple of 0.1 as a Decimal, not as a float
    assert ocppj.schema_error(2, "SetChargingProfile", payload) is None
