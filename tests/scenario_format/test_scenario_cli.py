"""``cpsim scenario validate`` and ``schema``: exit codes and output lines."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from chargepoint.cli.scenario import scenario

SCENARIOS = Path(__file__).parents[2] / "scenarios"


def test_validate_ok_exits_0() -> None:
    result = CliRunner().invoke(scenario, ["validate", str(SCENARIOS)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""


def test_validate_prints_one_line_per_problem_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("charger: {idd: x}\nsteps:\n  - send: Heartbeet\n")
    good = SCENARIOS / "boot_accepted.yaml"
    result = CliRunner().invoke(scenario, ["validate", str(good), str(bad)])
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        f"{bad}:1:11: charger.idd: unknown key 'idd'; did you mean id? (expected id, connectors, "
        "vendor, model, serial, firmware, feature_profiles, configuration, password, "
        "security_profile, time_scale, start_time)",
        f"{bad}:3:11: steps[0].send: unknown charge-point action 'Heartbeet'; did you mean "
        "Heartbeat?",
    ]
    assert "2 problem(s) in 1 of 2 file(s)" in result.stderr


def test_validate_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(scenario, ["validate", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2
    assert result.stdout.startswith(f"{tmp_path / 'none.yaml'}:1:1: cannot read")


def test_schema_prints_json() -> None:
    result = CliRunner().invoke(scenario, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["$schema"].startswith("https://json-schema.org/")
