"""The example scenarios load, and the JSON Schema editors use agrees with the loader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from ruamel.yaml import YAML

from chargepoint.scenario import STEP_KINDS, json_schema, load_scenario

SCENARIOS = Path(__file__).parents[2] / "scenarios"
EXAMPLES = sorted(SCENARIOS.glob("*.yaml"))


def test_there_are_examples() -> None:
    assert {p.name for p in EXAMPLES} >= {
        "boot_accepted.yaml",
        "boot_pending_trigger.yaml",
        "remote_start_stop.yaml",
    }


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_loads(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.steps
    assert all(step.where is not None and step.where.file == str(path) for step in scenario.steps)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_is_valid_by_the_json_schema(path: Path) -> None:
    data = YAML(typ="safe").load(path.read_text())
    errors = [e.message for e in Draft202012Validator(json_schema()).iter_errors(data)]
    assert errors == []


def test_schema_is_valid_json_schema_and_names_every_step() -> None:
    schema = json.loads(json.dumps(json_schema()))
    Draft202012Validator.check_schema(schema)
    refs = schema["properties"]["steps"]["items"]["oneOf"]
    step_refs = [ref["$ref"].rsplit("/", 1)[-1] for ref in refs]
    kinds = {next(iter(schema["$defs"][name]["required"])) for name in step_refs}
    assert kinds == set(STEP_KINDS)


def test_schema_rejects_what_the_loader_rejects() -> None:
    validator = Draft202012Validator(json_schema())
    assert not validator.is_valid({"steps": [{"sned": "Heartbeat"}]})
    assert not validator.is_valid({"steps": [{"send": "Heartbeat", "wait": 5}]})
    assert not validator.is_valid({"charger": {"idd": "x"}, "steps": [{"wait": 1}]})
    assert not validator.is_valid({"steps": [{"send": "Reset"}]})
    assert validator.is_valid(
        {
            "steps": [
                {"send": "Heartbeat"},
                {"wait": "1h30m"},
                {"plug_in": 1},
                {"expect_never": ["Heartbeat"]},
            ]
        }
    )


def test_committed_schema_is_up_to_date() -> None:
    """scenarios/schema.json is what editors load (see the modeline in each example)."""
    committed = json.loads((SCENARIOS / "schema.json").read_text())
    assert committed == json_schema(), "regenerate: cpsim scenario schema > scenarios/schema.json"
