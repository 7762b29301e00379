"""``cpsim modem check --dialect esp-at``: the Wi-Fi equivalents, through the ESP-AT
emulator (access point found and joined, signal, IP, DNS, CSMS reachability)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

import pytest

from chargepoint.cli.fieldtest import check
from chargepoint.csms.server import Credentials, LocalCsms
from modem.emulator import DIALECTS, Emulator, run_emulator

from .conftest import FAST, ec200u, invoke

pytest.importorskip("modem.espat")
pytestmark = pytest.mark.skipif("esp-at" not in DIALECTS, reason="no ESP-AT emulator")


@contextlib.asynccontextmanager
async def esp() -> AsyncIterator[Emulator]:
    async with run_emulator(
        "esp-at", baud=None, timing=FAST, wifi_ssid="lab", wifi_password="pw"
    ) as emu:
        yield emu


def by_name(stdout: str) -> dict[str, dict[str, object]]:
    return {row["name"]: row for row in json.loads(stdout)["checks"]}


async def test_wifi_path_reaches_the_csms(csms: LocalCsms) -> None:
    async with esp() as emu:
        result = await invoke(
            check,
            [
                "--port",
                emu.port_url,
                "--dialect",
                "esp-at",
                "--ssid",
                "lab",
                "--wifi-password",
                "pw",
                "--csms-url",
                csms.url,
                "--id",
                "CPW",
                "--json",
            ],
        )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [c["name"] for c in report["checks"]] == [
        "port",
        "module",
        "Wi-Fi",
        "Wi-Fi signal",
        "IP",
        "DNS",
        "ping",
        "WebSocket",
        "BootNotification",
    ]
    rows = by_name(result.stdout)
    assert rows["module"]["figure"].startswith("AT version 4.")
    assert rows["Wi-Fi"]["figure"].startswith("joined 'lab' in")
    assert rows["Wi-Fi signal"]["data"] == {"rssi": -52, "channel": 6, "bssid": "24:0a:c4:00:c0:de"}
    assert rows["DNS"]["reason"] == "not-needed"  # an IP address in the URL
    assert rows["BootNotification"]["status"] == "pass"
    assert report["verdict"]["summary"].startswith("the charger will reach its CSMS")
    assert report["ssid"] == "lab"


@pytest.mark.parametrize(
    ("args", "summary"),
    [
        (["--ssid", "lab", "--wifi-password", "nope"], "FAIL: wrong Wi-Fi password for 'lab'"),
        (["--ssid", "Lab", "--wifi-password", "pw"], "FAIL: Wi-Fi network 'Lab' not found"),
        ([], "FAIL: the module is on no Wi-Fi network: give --ssid and --wifi-password"),
    ],
)
async def test_wifi_failures(args: list[str], summary: str) -> None:
    async with esp() as emu:
        result = await invoke(check, ["--port", emu.port_url, "--dialect", "esp-at", *args])
    assert result.exit_code == 1
    assert summary in result.stdout
    assert "skip    IP            skipped: not on a Wi-Fi network" in result.stdout


async def test_websocket_refused_over_wifi() -> None:
    async with LocalCsms(port=0, credentials=Credentials(shared="right")) as csms, esp() as emu:
        result = await invoke(
            check,
            [
                "--port",
                emu.port_url,
                "--dialect",
                "esp-at",
                "--ssid",
                "lab",
                "--wifi-password",
                "pw",
                "--csms-url",
                csms.url,
                "--id",
                "CPW",
                "--password",
                "wrong",
                "--json",
            ],
        )
    assert result.exit_code == 1
    rows = by_name(result.stdout)
    assert (rows["WebSocket"]["status"], rows["WebSocket"]["reason"]) == ("fail", "ws-esp")
    assert rows["BootNotification"]["detail"] == "skipped: the WebSocket was not opened"
    summary = json.loads(result.stdout)["verdict"]["summary"]
    assert summary.startswith("the CSMS was not reached over Wi-Fi: AT+WSOPEN -> ERROR")


async def test_a_quectel_on_the_esp_path_is_named() -> None:
    async with ec200u("ok") as emu:
        result = await invoke(check, ["--port", emu.port_url, "--dialect", "esp-at"])
    assert result.exit_code == 1
    assert (
        "FAIL: this is a Quectel EC200U, not an ESP-AT module: run again with --dialect ec200u"
        in result.stdout
    )
