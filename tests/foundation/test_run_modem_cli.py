"""``cpsim run --modem ...`` as a user runs it: a process on the emulator's port, then Ctrl+C."""

from __future__ import annotations

import asyncio
import base64
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from chargepoint.csms.server import Credentials, LocalCsms
from modem.emulator import run_emulator

CPSIM = [sys.executable, "-m", "chargepoint"]
KEY = "0123456789abcdef0123456789abcdef"  # AuthorizationKey: 16 bytes as 32 hex digits
SSID, WIFI_PASSWORD, APN_PASSWORD = "depot-wifi", "wifi-s3cret", "apn-s3cret"

MODEM_ARGS = {
    "ec200u": [
        *("--apn", "internet", "--apn-user", "u", "--apn-password", APN_PASSWORD),
        *("--apn-auth", "CHAP"),
    ],
    "esp-at": ["--wifi-ssid", SSID, "--wifi-password", WIFI_PASSWORD],
}


@pytest.mark.parametrize("dialect", sorted(MODEM_ARGS))
async def test_run_through_the_emulated_modem_boots_and_exits_0(
    dialect: str, csms: LocalCsms, tmp_path: Path
) -> None:
    cp_id = f"CP-{dialect.upper()}"
    at_log = tmp_path / "at.log"
    async with run_emulator(
        dialect, baud=115200, wifi_ssid=SSID, wifi_password=WIFI_PASSWORD
    ) as emu:
        proc = await asyncio.create_subprocess_exec(
            *CPSIM,
            "run",
            "--id",
            cp_id,
            "--url",
            csms.url,
            "--password",
            KEY,
            "--state-dir",
            str(tmp_path / "state"),
            "--modem",
            dialect,
            "--port",
            emu.port_url,
            "--at-log",
            str(at_log),
            *MODEM_ARGS[dialect],
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            boot = await csms.frames.wait_for(
                lambda f: f.action == "BootNotification" and f.charge_point == cp_id, 60
            )
            await csms.frames.wait_for(
                lambda f: f.action == "StatusNotification" and f.charge_point == cp_id, 30
            )
        finally:
            proc.send_signal(signal.SIGINT)
            _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err
    if dialect == "ec200u":  # the SIM's identity travels in BootNotification
        assert boot.payload["iccid"] and boot.payload["imsi"]
        assert 'AT+QICSGP=1,1,"internet","u","***",2' in at_log.read_text()  # CHAP
    trace = at_log.read_text()
    assert "AT+" in trace
    basic = base64.b64encode(f"{cp_id}:{KEY}".encode()).decode()
    for secret in (WIFI_PASSWORD, APN_PASSWORD, KEY, basic):
        assert secret not in trace


def test_run_esp_at_refuses_a_url_over_the_command_limit(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            *CPSIM,
            "run",
            "--id",
            "CP001",
            "--url",
            "ws://csms.example.com/" + "x" * 300,
            "--modem",
            "esp-at",
            "--port",
            "/dev/ttyNOPE",
            "--wifi-ssid",
            SSID,
            "--state-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, done.stderr
    assert "256" in done.stderr
    assert "Traceback" not in done.stderr


def test_run_ec200u_refuses_a_url_its_profile_cannot_use_at_once(tmp_path: Path) -> None:
    """ws:// with security profile 2 (EVerest's parse_and_validate): a usage error naming
    --url, before the port opens, instead of retrying forever."""
    done = subprocess.run(
        [
            *CPSIM,
            "run",
            "--id",
            "CP001",
            "--url",
            "ws://csms.example.com/ocpp",
            "--security-profile",
            "2",
            "--modem",
            "ec200u",
            "--port",
            "/dev/ttyNOPE",
            "--apn",
            "internet",
            "--state-dir",
            str(tmp_path / "state"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2, done.stderr
    assert "Invalid value for '--url': security profile 2 runs over TLS" in done.stderr
    assert "ttyNOPE9" not in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize(
    ("modem", "needs"), [("ec200u", "--port and --apn"), ("esp-at", "--port and --wifi-ssid")]
)
def test_run_modem_without_its_settings_is_a_usage_error(
    modem: str, needs: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [*CPSIM, "run", "--id", "CP1", "--url", "ws://127.0.0.1:1/ocpp", "--modem", modem],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert needs in done.stderr


async def test_run_uses_a_csms_password_outside_the_whitepaper_form_with_a_warning(
    tmp_path: Path,
) -> None:
    """Real CSMSs hand out passwords like this one: the charger must still connect."""
    password = "Depot-2024!pass"
    async with LocalCsms(port=0, credentials=Credentials(shared=password)) as csms:
        proc = await asyncio.create_subprocess_exec(
            *CPSIM,
            "run",
            "--id",
            "CP-PW",
            "--url",
            csms.url,
            "--password",
            password,
            "--state-dir",
            str(tmp_path),
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await csms.frames.wait_for(
                lambda f: f.action == "BootNotification" and f.charge_point == "CP-PW", 30
            )
        finally:
            proc.send_signal(signal.SIGINT)
            _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0, err.decode()
    assert b"--password used as given, but AuthorizationKey must be" in err
    assert password.encode() not in err
