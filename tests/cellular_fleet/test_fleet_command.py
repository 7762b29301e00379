"""``cpsim fleet --link ec200u|esp-at --profile P --transactions ATG-SPEC`` as a user runs it."""

from __future__ import annotations

import asyncio
import sys

import pytest
from click.testing import CliRunner

from chargepoint.csms.server import LocalCsms

CPSIM = [sys.executable, "-m", "chargepoint"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profile", "lte-good"], "--profile: a cellular link profile; add --link ec200u"),
        (["--link", "ec200u", "--profile", "5g"], "--profile: unknown profile '5g'"),
        (["--transactions", "rate=2/h,duration=forever"], "'duration=forever': 'forever' is"),
        (["--link", "esp-at", "--link-option", "baud=9"], "--link-option baud='9'"),
    ],
)
def test_bad_cellular_options_are_usage_errors(args: list[str], message: str) -> None:
    from chargepoint.cli import main

    result = CliRunner().invoke(main, ["fleet", "-n", "5", "--url", "ws://h/o", *args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


async def test_a_cellular_fleet_with_sessions_from_the_command_line() -> None:
    async with LocalCsms(port=0) as csms:
        process = await asyncio.create_subprocess_exec(
            *CPSIM, "fleet", "--quiet", "-n", "12", "--url", csms.url, "--link", "ec200u",
            "--profile", "lte-good", "--transactions", "rate=300/h,duration=1m..2m,seed=3",
            "--duration", "12s",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), 90)
        text = (out + err).decode()
        assert process.returncode == 0, text
        boots = {f.charge_point for f in csms.frames.calls(None, "BootNotification")}
        starts = csms.frames.calls(None, "StartTransaction")
    assert len(boots) == 12
    assert starts  # 12 chargers x 300/h: ~40 arrivals within the run
    assert "transactions: " in text and " EVs arrived" in text
    assert "Traceback" not in text
