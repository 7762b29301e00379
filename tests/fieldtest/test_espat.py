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


def wifi_check_args(emu: Emulator, csms_url: str) -> list[str]:
    return [
        "--port",
        emu.port_url,
        "--dialect",
        "esp-at",
        "--ssid",
        "lab",
        "--wifi-password",
        "pw",
        "--csms-url",
        csms_url,
        "--id",
        "CPW",
        "--json",
    ]


async def test_wifi_path_reaches_the_csms(csms: LocalCsms) -> None:
    async with esp() as emu:
        result = await invoke(check, wifi_check_args(emu, csms.url))
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
    assert (rows["IP"]["status"], rows["IP"]["figure"]) == (
        "pass",
        "192.168.4.23, gateway 192.168.4.1",
    )
    assert rows["ping"]["status"] == "pass"
    assert rows["ping"]["figure"].startswith("1 reply in ")
    assert rows["BootNotification"]["status"] == "pass"
    assert report["verdict"]["summary"].startswith("the charger will reach its CSMS")
    assert report["ssid"] == "lab"


async def test_a_host_name_is_resolved_by_the_module(csms: LocalCsms) -> None:
    """AT+CIPDOMAIN and AT+PING by name: ``localhost`` resolves as through the AP's DNS."""
    url = csms.url.replace("127.0.0.1", "localhost")
    assert "localhost" in url
    async with esp() as emu:
        result = await invoke(check, wifi_check_args(emu, url))
    assert result.exit_code == 0, result.output
    rows = by_name(result.stdout)
    assert rows["DNS"]["status"] == "pass"
    assert rows["DNS"]["figure"].startswith("localhost -> 127.0.0.1 in ")
    assert rows["DNS"]["data"]["addresses"] == ["127.0.0.1"]
    assert rows["ping"]["status"] == "pass"
    assert rows["BootNotification"]["status"] == "pass"


async def test_a_host_that_does_not_resolve_fails_dns() -> None:
    async with esp() as emu:
        result = await invoke(check, wifi_check_args(emu, "ws://csms.example.invalid/ocpp"))
    assert result.exit_code == 1
    rows = by_name(result.stdout)
    assert (rows["IP"]["status"], rows["DNS"]["status"]) == ("pass", "fail")
    assert rows["DNS"]["figure"] == "csms.example.invalid does not resolve"
    assert rows["WebSocket"]["status"] == "skip"


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


@pytest.mark.parametrize(
    ("failure", "reason", "summary"),
    [
        (1, "wifi-timeout", "FAIL: the access point 'lab' did not answer in time"),
        (4, "wifi-refused", "FAIL: the access point 'lab' refused the charger"),
    ],
)
async def test_ap_timeout_and_refusal(failure: int, reason: str, summary: str) -> None:
    async with run_emulator(
        "esp-at", baud=None, timing=FAST, wifi_ssid="lab", wifi_failure=failure
    ) as emu:
        args = ["--port", emu.port_url, "--dialect", "esp-at", "--ssid", "lab"]
        result = await invoke(check, [*args, "--wifi-password", "pw"])
        as_json = await invoke(check, [*args, "--wifi-password", "pw", "--json"])
    assert result.exit_code == 1
    assert summary in result.stdout
    wifi = by_name(as_json.stdout)["Wi-Fi"]
    assert (wifi["status"], wifi["reason"], wifi["data"]["code"]) == ("fail", reason, failure)


async def test_websocket_refused_over_wifi() -> None:
    async with LocalCsms(port=0, credentials=Credentials(shared="right")) as csms, esp() as emu:
        result = await invoke(check, [*wifi_check_args(emu, csms.url), "--password", "wrong"])
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
