"""``cpsim run`` and ``cpsim modem apn-scan`` against the real emulator: a modem of the
other dialect is named at once, and an APN given twice is tried once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

from modem.emulator import run_emulator

from .conftest import CPSIM, closed_port, cpsim_in_thread, last_line

URL = f"ws://127.0.0.1:{closed_port()}/ocpp"


async def test_run_names_the_dialect_it_finds(tmp_path: Path) -> None:
    base = ["run", "--id", "CP1", "--url", URL, "--state-dir", str(tmp_path / "st")]
    async with run_emulator("ec200u", baud=None) as emu:
        wifi = ["--modem", "esp-at", "--port", emu.port_url, "--wifi-ssid", "home"]
        result = await cpsim_in_thread(*base, *wifi)
    assert result.exit_code == 2
    assert last_line(result).startswith(f"cpsim run: {emu.port_url} is a Quectel EC200U")
    assert last_line(result).endswith(", not esp-at: run again with --modem ec200u")
    assert "CWMODE" not in result.stderr  # no Wi-Fi bring-up tried on a cellular modem

    async with run_emulator("esp-at", baud=None) as emu:
        cellular = ["--modem", "ec200u", "--port", emu.port_url, "--apn", "internet"]
        result = await cpsim_in_thread(*base, *cellular)
    assert result.exit_code == 2
    assert last_line(result).startswith(f"cpsim run: {emu.port_url} is an ESP-AT module")
    assert last_line(result).endswith(", not ec200u: run again with --modem esp-at")


async def test_apn_scan_tries_a_repeated_apn_once_and_merges_the_same_failure() -> None:
    async with run_emulator("ec200u", baud=None, profile="bad-apn", good_apns=("iot.op",)) as emu:
        apns = ["--apn", "a.op", "--apn", "iot.op", "--apn", "b.op", "--apn", "a.op"]
        args = ["--port", emu.port_url, "--wait", "1", *apns, "--csms-url", URL, "--id", "CP1"]
        result = await cpsim_in_thread("modem", "apn-scan", *args)
    assert result.exit_code == 1
    assert "APN 'a.op' is given more than once: tried once" in result.stderr
    assert result.stderr.count("activating...") == 3
    verdict = result.stdout.rstrip().splitlines()[-1]
    assert verdict.startswith(
        "FAIL: none of the 3 APNs works: 'a.op', 'b.op': the APN refused by the network"
    )
    assert "; 'iot.op': CSMS unreachable" in verdict


async def test_a_wrong_wifi_password_is_one_line_naming_it(tmp_path: Path) -> None:
    async with run_emulator("esp-at", baud=None, wifi_ssid="home", wifi_password="right") as emu:
        proc = await asyncio.create_subprocess_exec(
            *CPSIM,
            *("run", "--id", "CP1", "--url", URL, "--state-dir", str(tmp_path)),
            *("--modem", "esp-at", "--port", emu.port_url, "--wifi-ssid", "home"),
            *("--wifi-password", "n0t-this-one", "--log-level", "INFO"),
            stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stderr is not None
        seen: list[str] = []
        async with asyncio.timeout(30):
            while not seen or "cannot connect" not in seen[-1]:
                seen.append((await proc.stderr.readline()).decode())
        proc.send_signal(signal.SIGINT)
        await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    *before, last = seen
    assert 'Wi-Fi "home": wrong password: check the Wi-Fi password (+CWJAP:2); retrying' in last
    assert not [line for line in before if "CWJAP" in line or "unsolicited" in line], before
    assert "n0t-this-one" not in "".join(seen)


async def test_apn_scan_on_a_terminal_shows_a_bar_and_keeps_the_result_lines() -> None:
    master, slave = os.openpty()
    try:
        async with run_emulator("ec200u", baud=None, profile="bad-apn") as emu:
            proc = await asyncio.create_subprocess_exec(
                *CPSIM,
                *("modem", "apn-scan", "--port", emu.port_url, "--wait", "1"),
                *("--apn", "a.op", "--apn", "b.op"),
                stdout=asyncio.subprocess.PIPE,
                stderr=slave,
                env={**os.environ, "TERM": "xterm", "COLUMNS": "120"},
            )
            await asyncio.wait_for(proc.communicate(), 60)
        os.close(slave)
        slave = -1
        shown = b""
        with contextlib.suppress(OSError):  # EIO once everything written was read
            while chunk := os.read(master, 65536):
                shown += chunk
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    text = shown.decode(errors="replace")
    assert proc.returncode == 1
    assert "[1/2] APN 'a.op' refused by the network" in text
    assert "[2/2] APN 'b.op' refused by the network" in text
    assert "\x1b[" in text  # drawn and removed with terminal control sequences
    assert "[1/2] APN 'a.op': activating..." not in text  # the bar says it, not a line
