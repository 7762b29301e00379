"""Verdicts over Wi-Fi speak of the access point, never of an APN (ESP-AT emulator)."""

from __future__ import annotations

import pytest

from chargepoint.cli.fieldtest import check
from modem.emulator import DIALECTS, run_emulator

from .conftest import FAST, invoke

pytest.importorskip("modem.espat")
pytestmark = pytest.mark.skipif("esp-at" not in DIALECTS, reason="no ESP-AT emulator")


async def test_dns_failure_over_wifi_points_at_the_access_point() -> None:
    async with run_emulator(
        "esp-at", baud=None, timing=FAST, wifi_ssid="lab", wifi_password="pw"
    ) as emu:
        wifi = ["--dialect", "esp-at", "--ssid", "lab", "--wifi-password", "pw"]
        url = "ws://csms.example.invalid/ocpp/C"
        result = await invoke(check, ["--port", emu.port_url, *wifi, "--csms-url", url])
    assert result.exit_code == 1
    verdict = result.stdout.rstrip().splitlines()[-1]
    assert verdict == (
        "FAIL: CSMS host does not resolve over Wi-Fi: check the host name "
        "'csms.example.invalid' in the URL, and the access point's DHCP/DNS settings "
        "(the DNS server it hands out)"
    )
    assert "APN" not in result.stdout
