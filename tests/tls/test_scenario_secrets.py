"""The bundled profile-2 scenario through the emulated EC200U's TLS: its output and every
report file hold neither the AuthorizationKey (plain or in its Basic-auth base64 form)
nor any private key."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml
from click.testing import CliRunner

SCENARIO = Path(__file__).parents[2] / "scenarios" / "security_profile_2.yaml"


def test_a_profile_2_scenario_leaves_no_secret_in_its_output_or_report(tmp_path: Path) -> None:
    from chargepoint.cli import main

    charger = yaml.safe_load(SCENARIO.read_text())["charger"]
    key, cp_id = charger["password"], charger["id"]
    report = tmp_path / "report"
    args = ["scenario", "run", str(SCENARIO), "--link", "ec200u", "--report", str(report)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    basic = base64.b64encode(f"{cp_id}:{key}".encode()).decode()
    outputs = {"output": result.output}
    outputs |= {str(p): p.read_text(errors="replace") for p in report.rglob("*") if p.is_file()}
    assert len(outputs) >= 3
    for where, text in outputs.items():
        for secret in (key, basic, "PRIVATE KEY"):
            assert secret not in text, f"{secret[:6]}... in {where}"
