"""``cpsim run --feature-profiles``: a profile name that OCPP 1.6 does not have is a usage
error naming the valid ones, before anything is opened."""

from __future__ import annotations

from click.testing import CliRunner

from chargepoint.cli import main


def test_an_unknown_profile_is_a_usage_error() -> None:
    result = CliRunner().invoke(
        main,
        [
            "run",
            "--id",
            "CP1",
            "--url",
            "ws://127.0.0.1:1/ocpp",
            "--feature-profiles",
            "Core,Smart",
        ],
    )
    assert result.exit_code == 2
    assert "Invalid value for --feature-profiles: unknown feature profile 'Smart'" in result.output
    assert "SmartCharging" in result.output
