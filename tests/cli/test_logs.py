"""``--log-format json``: every stderr line is one JSON object naming the charger."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

from chargepoint.csms.server import LocalCsms

from .conftest import CPSIM


async def test_json_log_lines_carry_the_charger_id(csms: LocalCsms, tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        *CPSIM,
        *("run", "--id", "CP9", "--url", csms.url, "--state-dir", str(tmp_path)),
        *("--log-format", "json", "--password", "0123456789abcdef0123456789abcdef"),
        stderr=asyncio.subprocess.PIPE,
    )
    await csms.frames.wait_for(
        lambda f: f.action == "StatusNotification" and f.charge_point == "CP9", 20
    )
    proc.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    lines = [json.loads(line) for line in err.decode().splitlines()]
    assert any(line["message"].startswith("connected to ws://") for line in lines)
    assert any("BootNotification" in line["message"] for line in lines)
    for line in lines:
        assert line["charge_point_id"] == "CP9"
        assert set(line) >= {"time", "level", "logger", "message"}
    assert "0123456789abcdef0123456789abcdef" not in err.decode()
