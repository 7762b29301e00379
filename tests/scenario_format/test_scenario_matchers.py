"""Matcher semantics: what the runner will use to decide whether a message matches."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic_core import PydanticCustomError

from chargepoint.scenario import matchers as m
from chargepoint.scenario.errors import ProblemList


def parse(data: Any) -> m.Matcher:
    problems = ProblemList()
    matcher = m.parse(data, problems)
    assert problems.items == []
    return matcher


@pytest.mark.parametrize(
    ("matcher", "value", "ok"),
    [
        (1, 1, True),
        (1, 1.0, True),
        (1, True, False),  # JSON: true is not 1
        (True, 1, False),
        ("Charging", "Charging", True),
        ("$any", m.MISSING, True),
        ("$any", None, True),
        ("$present", None, True),
        ("$present", m.MISSING, False),
        ("$absent", m.MISSING, True),
        ("$absent", 0, False),
        ({"$regex": "^TAG-\\d+$"}, "TAG-12", True),
        ({"$regex": "^TAG"}, 12, False),
        ({"$min": 0, "$max": 10}, 10, True),
        ({"$min": 0, "$max": 10}, 10.5, False),
        ({"$min": 0}, True, False),
        ({"$max": 0}, -3, True),
        ({"$in": ["A", "B"]}, "B", True),
        ({"$in": ["A", "B"]}, "C", False),
        ({"$eq": "$any"}, "$any", True),
        ({"$eq": {"a": 1}}, {"a": 1, "b": 2}, False),  # $eq: whole value
        ({"a": 1}, {"a": 1, "b": 2}, True),  # mapping: the fields named
        ([1, "$any"], [1, "x"], True),
        ([1], [1, 2], False),
        (
            {"$contains": {"measurand": "Voltage"}},
            [{"measurand": "SoC"}, {"measurand": "Voltage"}],
            True,
        ),
        ({"$contains": 3}, [1, 2], False),
    ],
)
def test_match(matcher: Any, value: Any, ok: bool) -> None:
    assert parse(matcher).matches(value) is ok


def test_mismatches_say_what_arrived_instead() -> None:
    fields = m.parse_fields(
        {
            "connectorId": 1,
            "status": "Charging",
            "meterValue": {"$contains": {"sampledValue": "$present"}},
        }
    )
    found = fields.mismatches({"connectorId": 1, "status": "Preparing"})
    assert [str(x) for x in found] == [
        "status: expected 'Charging', got 'Preparing'",
        "meterValue: expected a list containing {sampledValue: $present}, got nothing "
        "(field absent)",
    ]


def test_round_trip_to_yaml_form() -> None:
    data = {
        "a": {"$min": 1},
        "b": ["$present", {"$regex": "x"}],
        "c": {"$in": [1, 2]},
        "d": {"$eq": "$x"},
        "e": {"f": {"$contains": 3}},
        "g": "$absent",
    }
    assert m.parse_fields(data).to_data() == data


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"a": {"$regex": "x", "$in": [1]}},
            "a.$in: one matcher per mapping, got $regex, $in (only $min and $max go together)",
        ),
        ({"a": {"$min": 5, "$max": 1}}, "a: $min 5 is above $max 1"),
        ({"a": {"$min": "5"}}, "a.$min: $min takes a number, got '5'"),
        ({"a": {"$in": []}}, "a.$in: $in takes a non-empty list of values, got []"),
        ({"a": {"$regex": "x", "b": 1}}, "a.b: field 'b' mixed with a $ matcher in one mapping"),
        ("status", "expected a mapping of payload fields to matchers, got 'status'"),
    ],
)
def test_bad_matchers(data: Any, message: str) -> None:
    with pytest.raises(PydanticCustomError) as caught:
        m.parse_fields(data)
    assert caught.value.message() == message
