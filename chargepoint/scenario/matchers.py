"""Matchers: how a scenario says what a payload field must look like.

A scenario names only the fields it cares about, so a mapping matches a
*subset* of the payload's fields.  A literal matches by equality; a few
``$``-prefixed forms say more (``$`` because no OCPP 1.6 field or value starts
with it, so a matcher can never be mistaken for data):

==========================  ==================================================
``status: Charging``        equal (``1`` never equals ``true``)
``idTag: $any``             anything, or absent: documents a field without checking it
``transactionId: $present`` the field is there, whatever its value
``parentIdTag: $absent``    the field is not there
``{$regex: '^TAG-\\d+$'}``  a string matched with ``re.search``
``{$min: 0, $max: 7400}``   a number within bounds (either bound may be left out)
``{$in: [A, B]}``           equal to one of the values
``{$contains: M}``          a list with at least one element matching ``M``
``{$eq: V}``                exactly ``V``: a whole object, a list, or a string starting with ``$``
``{$measurands: {...}}``    MeterValues' ``meterValue``: one element whose readings, as
                            numbers, match, e.g. ``{Power.Active.Import: {$max: 3700}}``
``[M1, M2]``                a list of exactly these elements, in this order
==========================  ==================================================

The runner calls :meth:`Matcher.mismatches` to say what arrived instead.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Final

from .errors import ProblemList, brief, flow, problem, suggest


class _Missing:
    """The value of a field the payload does not have."""

    def __repr__(self) -> str:
        return "<absent>"


MISSING: Final = _Missing()


@dataclass(frozen=True)
class Mismatch:
    path: str
    expected: str
    actual: Any

    def __str__(self) -> str:
        got = "nothing (field absent)" if self.actual is MISSING else brief(self.actual, 60)
        return f"{self.path or 'payload'}: expected {self.expected}, got {got}"


class Matcher(ABC):
    @abstractmethod
    def mismatches(self, actual: Any, path: str = "") -> list[Mismatch]:
        """Why ``actual`` does not match; empty when it does.  ``actual`` may be MISSING."""

    def matches(self, actual: Any) -> bool:
        return not self.mismatches(actual)

    @abstractmethod
    def to_data(self) -> Any:
        """The YAML form, for reports and ``model_dump``."""

    def describe(self) -> str:
        return flow(self.to_data())


@dataclass(frozen=True)
class AnyValue(Matcher):
    def mismatches(self, actual: Any, path: str = "") -> list[Mismatch]:
        return []

    def to_data(self) -> Any:
        return "$any"


@dataclass(frozen=True)
class Present(Matcher):
    def mismatches(self, actual: Any, path: str = "") -> list[Mismatch]:
        return [Mismatch(path, "a value", actual)] if actual is MISSING else []

    def to_data(self) -> Any:
        return "$present"


@dataclass(frozen=True)
class Absent(Matcher):
    def mismatches(self, actual: Any, path: str = "") -> list[Mismatch]:
        return [] if actual is MISSING else [Mismatch(path, "no such field", actual)]

    def to_data(self) -> Any:
        return "$absent"


@dataclass(frozen=True)
class Equals(Matcher):
    value: Any
    explicit: bool = False
    """Written as ``{$eq: ...}``: the author wants whole-value equality."""

    def mismatches(self, actual: Any, path: str = "") -> list[Mismatch]:
        return [] if equal(self.value, actual) else [Mismatch(path, brief(self.value), actual)]

    def to_data(self) -> Any:
        return {"$eq": self.value} if self.explicit else self.value


@dataclass(frozen=True)
class Regex(Matcher):
    pattern: str

    def mismatches(self, actual: Any, path: str = "") -> list[Mismatch]:
        if isinstance(actual, str) and re.search(self.pattern, actual):
            return []
        return [Mismatch(path, f"a string matching /{self.pattern}/", actual)]

    def to_data(self) -> Any:
        return {"$regex": self.pattern}


@dataclass(frozen=True)
class Range(Matcher):
    min: float | None = None
    max: float | None = None

    def mismatches(self, actual: Any, path: str = "") -> list[Mismatch]:
        number = isinstance(actual, int | float) and not isinstance(actual, bool)
        if (
            number
            and (self.min is None or actual >= self.min)
            and (self.max is None or actual <= self.max)
        ):
            return []
        return [Mismatch(path, self._text(), actual)]

    def _text(self) -> str:
        if self.min is not None and self.max is not None:
            return f"a number from {self.min:g} to {self.max:g}"
        if self.min is not None:
            return f"a number >= {self.min:g}"
        return f"a number <= {self.max:g}"

    def to_data(self) -> Any:
        return {k: v for k, v in (("$min", self.min), ("$max", self.max)) if v is not None}


@dataclass(frozen=True)
class OneOf(Matcher):
    values: tuple[Any, ...]

    def mismatches(self, actual: Any, path: str = "") -> list[Mismatch]:
        if any(equal(v, actual) for v in self.values):
            return []
        return [Mismatch(path, "one of " + ", ".join(brief(v) for v in self.values), actual)]

    def to_data(self) -> Any:
        return {"$in": list(self.values)}


@dataclass(frozen=True)
class Contains(Matcher):
    item: Matcher

    def mismatches(self, actual: Any, path: str = "") -> list[Mismatch]:
        if isinstance(actual, list) and any(self.item.matches(a) for a in actual):
            return []
        return [Mismatch(path, f"a list containing {self.item.describe()}", actual)]

    def to_data(self) -> Any:
        return {"$contains": self.item.to_data()}


@dataclass(frozen=True)
class Items(Matcher):
    items: tuple[Matcher, ...]

    def mismatches(self, actual: Any, path: str = "") -> list[Mismatch]:
        if not isinstance(actual, list) or len(actual) != len(self.items):
            return [Mismatch(path, f"a list of {len(self.items)} element(s)", actual)]
        out: list[Mismatch] = []
        for i, (m, a) in enumerate(zip(self.items, actual, strict=True)):
            out += m.mismatches(a, f"{path}[{i}]")
        return out

    def to_data(self) -> Any:
        return [m.to_data() for m in self.items]


@dataclass(frozen=True)
class Measurands(Matcher):
    """A MeterValues ``meterValue`` list (or one MeterValue) with an element whose readings
    match: each key names a measurand, ``Current.Import@L1`` one phase of it; its values are
    read as numbers (OCPP sends them as strings).  Without a phase, every value of the
    measurand must match (``Current.Import: {$max: 6}``: on every phase)."""

    wanted: tuple[tuple[str, Matcher], ...]

    def mismatches(self, actual: Any, path: str = "") -> list[Mismatch]:
        elements = actual if isinstance(actual, list) else [actual]
        first: list[Mismatch] | None = None
        for i, element in enumerate(elements):
            where = f"{path}[{i}]" if isinstance(actual, list) else path
            found = _readings(element)
            out: list[Mismatch] = []
            for key, matcher in self.wanted:
                values = found.get(key) or [MISSING]
                for value in values:
                    out += matcher.mismatches(value, f"{where}.{key}")
            if not out:
                return []
            first = first if first is not None else out
        return first or [Mismatch(path, f"meter values with {self.describe()}", actual)]

    def to_data(self) -> Any:
        return {"$measurands": {key: m.to_data() for key, m in self.wanted}}


def _number(text: Any) -> Any:
    """An OCPP decimal string as a float; anything else as it is."""
    if isinstance(text, str) and re.fullmatch(r"-?\d+(\.\d+)?", text.strip()):
        return float(text)
    return text


def _readings(meter_value: Any) -> dict[str, list[Any]]:
    """``measurand`` (all its values) and ``measurand@phase`` -> the values of one
    MeterValue, as numbers where they are numbers (the measurand defaults to the energy
    register, §7.31)."""
    found: dict[str, list[Any]] = {}
    sampled = meter_value.get("sampledValue") if isinstance(meter_value, dict) else None
    for item in sampled if isinstance(sampled, list) else []:
        if not isinstance(item, dict):
            continue
        measurand = item.get("measurand", "Energy.Active.Import.Register")
        value = _number(item.get("value"))
        found.setdefault(str(measurand), []).append(value)
        if "phase" in item:
            found.setdefault(f"{measurand}@{item['phase']}", []).append(value)
    return found


@dataclass(frozen=True)
class Fields(Matcher):
    """The fields named must match; fields not named are ignored."""

    fields: tuple[tuple[str, Matcher], ...] = ()

    def mismatches(self, actual: Any, path: str = "") -> list[Mismatch]:
        if not isinstance(actual, dict):
            return [Mismatch(path, "an object", actual)]
        out: list[Mismatch] = []
        for name, m in self.fields:
            out += m.mismatches(actual.get(name, MISSING), f"{path}.{name}" if path else name)
        return out

    def to_data(self) -> Any:
        return {name: m.to_data() for name, m in self.fields}


def equal(expected: Any, actual: Any) -> bool:
    """Equality as JSON means it: ``true`` is not ``1``; ``1`` is ``1.0``."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(equal(v, actual[k]) for k, v in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(equal(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return bool(expected == actual)


WORDS: Final = {"$any": AnyValue(), "$present": Present(), "$absent": Absent()}
OPERATORS: Final = ("$regex", "$min", "$max", "$in", "$contains", "$eq", "$measurands")


def parse(data: Any, problems: ProblemList, path: tuple[str | int, ...] = ()) -> Matcher:
    """Build a matcher from its YAML form; problems are added (path below ``data``), not raised."""
    if isinstance(data, str) and data.startswith("$"):
        if data in WORDS:
            return WORDS[data]
        problems.add(
            path,
            f"unknown matcher {data!r}{suggest(data, WORDS)} (expected one of "
            f"{', '.join(WORDS)}; write {{$eq: {data!r}}} for the literal string)",
        )
        return AnyValue()
    if isinstance(data, list):
        return Items(tuple(parse(d, problems, (*path, i)) for i, d in enumerate(data)))
    if isinstance(data, dict):
        if any(isinstance(k, str) and k.startswith("$") for k in data):
            return _operator(data, problems, path)
        bad = [k for k in data if not isinstance(k, str)]
        for k in bad:
            problems.add((*path, k), f"field names are strings, got {brief(k)}", at_key=True)
        return Fields(
            tuple(
                (k, parse(v, problems, (*path, k))) for k, v in data.items() if isinstance(k, str)
            )
        )
    return Equals(data)


def _operator(data: dict[Any, Any], problems: ProblemList, path: tuple[str | int, ...]) -> Matcher:
    keys = list(data)
    unknown = [k for k in keys if k not in OPERATORS]
    if unknown:
        k = unknown[0]
        if isinstance(k, str) and k.startswith("$"):
            message = (
                f"unknown matcher {k!r}{suggest(k, OPERATORS)} "
                f"(expected one of {', '.join(OPERATORS)})"
            )
        else:
            message = f"field {brief(k)} mixed with a $ matcher in one mapping"
        problems.add((*path, k), message, at_key=True)
        return AnyValue()
    if len(keys) > 1 and set(keys) != {"$min", "$max"}:
        problems.add(
            (*path, keys[1]),
            f"one matcher per mapping, got {', '.join(keys)} (only $min and $max go together)",
            at_key=True,
        )
        return AnyValue()
    key, value = keys[0], data[keys[0]]
    if key == "$regex":
        return _regex(value, problems, (*path, key))
    if key in ("$min", "$max"):
        return _range(data, problems, path)
    if key == "$in":
        if not isinstance(value, list) or not value:
            problems.add((*path, key), f"$in takes a non-empty list of values, got {brief(value)}")
            return AnyValue()
        return OneOf(tuple(value))
    if key == "$contains":
        return Contains(parse(value, problems, (*path, key)))
    if key == "$measurands":
        return _measurands(value, problems, (*path, key))
    return Equals(value, explicit=True)


def _regex(value: Any, problems: ProblemList, path: tuple[str | int, ...]) -> Matcher:
    if not isinstance(value, str):
        problems.add(path, f"$regex takes a string, got {brief(value)}")
        return AnyValue()
    try:
        re.compile(value)
    except re.error as exc:
        problems.add(path, f"bad regular expression {value!r}: {exc}")
        return AnyValue()
    return Regex(value)


def _measurands(value: Any, problems: ProblemList, path: tuple[str | int, ...]) -> Matcher:
    from .ocpp_schema import CALL, schema  # it imports this module: not at the top

    sampled = schema(CALL, "MeterValues")["properties"]["meterValue"]["items"]["properties"]
    fields = sampled["sampledValue"]["items"]["properties"]
    measurands, phases = fields["measurand"]["enum"], fields["phase"]["enum"]
    if not isinstance(value, dict) or not value:
        problems.add(
            path, f"$measurands takes a mapping of measurands to matchers, got {brief(value)}"
        )
        return AnyValue()
    wanted: list[tuple[str, Matcher]] = []
    for key, item in value.items():
        name, at, phase = str(key).partition("@")
        if name not in measurands:
            problems.add(
                (*path, key),
                f"unknown measurand {brief(name)}{suggest(name, measurands)}",
                at_key=True,
            )
        elif at and phase not in phases:
            problems.add(
                (*path, key),
                f"unknown phase {brief(phase)}{suggest(phase, phases)} "
                f"(expected one of {', '.join(phases)})",
                at_key=True,
            )
        else:
            wanted.append((str(key), parse(item, problems, (*path, key))))
    return Measurands(tuple(wanted))


def _range(data: dict[Any, Any], problems: ProblemList, path: tuple[str | int, ...]) -> Matcher:
    bounds: dict[str, float] = {}
    for key in ("$min", "$max"):
        value = data.get(key)
        if value is None and key not in data:
            continue
        if not isinstance(value, int | float) or isinstance(value, bool):
            problems.add((*path, key), f"{key} takes a number, got {brief(value)}")
            return AnyValue()
        bounds[key] = value
    if len(bounds) == 2 and bounds["$min"] > bounds["$max"]:
        problems.add(path, f"$min {bounds['$min']:g} is above $max {bounds['$max']:g}")
        return AnyValue()
    return Range(bounds.get("$min"), bounds.get("$max"))


def parse_value(data: Any) -> Matcher:
    """One matcher from its YAML form; raises the problems for the loader to locate."""
    if isinstance(data, Matcher):
        return data
    problems = ProblemList()
    matcher = parse(data, problems)
    problems.raise_if_any()
    return matcher


def parse_fields(data: Any) -> Fields:
    """A payload matcher: a mapping of field names to matchers; ``null`` matches any payload."""
    if data is None:
        return Fields()
    matcher = parse_value(data) if isinstance(data, dict | Fields) else None
    if not isinstance(matcher, Fields):
        raise problem(f"expected a mapping of payload fields to matchers, got {brief(data)}")
    return matcher


def _op(key: str, value: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {key: value},
        "required": [key],
        "additionalProperties": False,
        "description": description,
    }


VALUE_SCHEMA: Final[dict[str, Any]] = {
    "anyOf": [
        {
            "enum": list(WORDS),
            "description": "$any: anything; $present: the field is there; "
            "$absent: the field is not there",
        },
        {"type": ["string", "number", "boolean", "null"], "description": "equal to this value"},
        {"type": "array", "description": "a list of exactly these elements (each a matcher)"},
        _op("$regex", {"type": "string"}, "a string matching this regular expression (re.search)"),
        {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {"$min": {"type": "number"}, "$max": {"type": "number"}},
            "description": "a number within these bounds (inclusive)",
        },
        _op("$in", {"type": "array", "minItems": 1}, "equal to one of these values"),
        _op("$contains", {}, "a list with at least one element matching this matcher"),
        _op("$eq", {}, "exactly this value (a whole object, a list, or a string starting with $)"),
        _op(
            "$measurands",
            {"type": "object", "minProperties": 1},
            "MeterValues' meterValue: an element whose readings match, as numbers; keys are "
            "measurands (Power.Active.Import) or measurand@phase (Current.Import@L1)",
        ),
        {"type": "object", "description": "a nested object: the fields named must match"},
    ]
}
"""JSON Schema of one matcher, for editors; nested matchers are left open (``{}``)."""

PAYLOAD_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "additionalProperties": VALUE_SCHEMA,
    "description": "payload fields the message must have (others are ignored), each a matcher",
}
