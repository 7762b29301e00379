"""``cpsim modem check`` as a technician runs it: progress on stderr, the table or
JSON on stdout, exit 0 / 1 / 2, and plain words for ports that are not modems."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from chargepoint.cli.fieldtest import check
from chargepoint.csms.server import LocalCsms
from modem.diagnostics import CELLULAR
from modem.emulator import DIALECTS, run_emulator

from .conftest import ec200u, invoke, line_server, silent_pty

JSON_ROWS = ["port", *CELLULAR, "DNS", "ping", "TCP", "WebSocket", "BootNotification"]


async def test_json_shape_and_exit_0(csms: LocalCsms) -> None:
    async with ec200u("ok") as emu:
        result = await invoke(
            check,
            [
                "--port",
                emu.port_url,
                "--apn",
                "internet",
                "--csms-url",
                csms.url,
                "--id",
                "CP7",
                "--ping-count",
                "1",
                "--json",
            ],
        )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["command"] == "check"
    assert report["port"] == emu.port_url
    assert report["csms_url"] == csms.url + "/CP7"
    assert report["apn"] == {"apn": "internet", "user": "", "auth": "none"}
    assert [c["name"] for c in report["checks"]] == JSON_ROWS
    for row in report["checks"]:
        assert set(row) == {"name", "status", "figure", "detail", "reason", "data"}
        assert row["status"] in ("pass", "warn", "fail", "skip")
    assert report["verdict"]["status"] == "pass"
    assert report["verdict"]["works"] is True
    assert report["verdict"]["exit_code"] == 0
    assert report["verdict"]["summary"].startswith("the charger will reach its CSMS")
    by_name = {c["name"]: c for c in report["checks"]}
    assert by_name["signal"]["data"] == {"csq": 24, "ber": 99, "dbm": -65}
    assert by_name["LTE quality"]["data"]["sinr_raw"] == 195
    # one progress line per check, as it completes, on stderr only
    progress = [ln for ln in result.stderr.splitlines() if ln.startswith("[")]
    assert [ln.split("] ")[1].split(":")[0] for ln in progress] == JSON_ROWS
    assert progress[0].startswith("[pass] port: Quectel EC200U answers AT in")


async def test_table_and_exit_1_for_denied(csms: LocalCsms) -> None:
    async with ec200u("denied") as emu:
        result = await invoke(
            check,
            [
                "--port",
                emu.port_url,
                "--apn",
                "internet",
                "--csms-url",
                csms.url,
                "--id",
                "CP1",
                "--wait",
                "0",
            ],
        )
    assert result.exit_code == 1
    out = result.stdout
    assert out.startswith(f"cpsim modem check on {emu.port_url} (ec200u)")
    assert "  fail    registration      registration denied (CEREG 3, CGREG 3, CREG 3)" in out
    assert "  skip    BootNotification  skipped: no data session: not registered" in out
    assert out.rstrip().endswith(
        "FAIL: registration denied: the SIM has no data plan for this network "
        "(or is not activated); call the operator"
    )


async def test_warnings_still_exit_0(csms: LocalCsms) -> None:
    async with ec200u("roaming") as emu:
        result = await invoke(check, ["--port", emu.port_url, "--apn", "internet"])
    assert result.exit_code == 0
    assert "WARN: SIM, network and APN work" in result.stdout
    assert "registered roaming on Vodafone.de" in result.stdout


async def test_a_silent_port_is_said_plainly_within_5_s() -> None:
    with silent_pty() as path:
        start = time.monotonic()
        result = await invoke(check, ["--port", path, "--json"])
        took = time.monotonic() - start
    assert result.exit_code == 1
    assert took < 5.0
    report = json.loads(result.stdout)
    port = report["checks"][0]
    assert (port["status"], port["reason"]) == ("fail", "not-a-modem")
    assert "no OK to AT within" in port["detail"] and "nothing answered" in port["detail"]
    assert report["verdict"]["summary"].startswith("no AT modem answers on this port")
    assert {c["detail"] for c in report["checks"][1:]} == {"skipped: no modem answers on the port"}


async def test_a_port_that_prints_nmea_is_named_within_5_s() -> None:
    async def nmea(_: bytes) -> bytes:
        return b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n"

    async with line_server(nmea, banner=b"\x00\xff garbage \xfe\r\n") as url:
        start = time.monotonic()
        result = await invoke(check, ["--port", url])
        took = time.monotonic() - start
    assert result.exit_code == 1
    assert took < 5.0
    assert "it sent '$GPGGA,123519" in result.stdout
    assert "this is not an AT-command port (a console or GPS/NMEA port?)" in result.stdout


async def test_a_port_that_does_not_exist() -> None:
    result = await invoke(check, ["--port", "/dev/ttyNOPE9"])
    assert result.exit_code == 1
    assert "no such port; is the modem plugged in?" in result.stdout


async def esp_fake(line: bytes) -> bytes | None:
    """An ESP-AT module as the reference describes it: no ATI, AT+GMR gives the version."""
    replies = {
        b"AT": b"\r\nOK\r\n",
        b"AT+GMR": b"AT version:3.2.0.0(s-ec2dec2 - ESP32 - Jul 28 2023 07:05:28)\r\n"
        b"SDK version:v5.0.2-dirty\r\ncompile time(6118fc22):Jul 28 2023 09:47:39\r\n"
        b"Bin version:v3.2.0.0(WROOM-32)\r\n\r\nOK\r\n",
    }
    return replies.get(line, b"\r\nERROR\r\n")


async def esp_fake_with_ati(line: bytes) -> bytes | None:
    if line == b"ATI":
        return b"AT version:2.4.0.0(4c6eb5e - ESP32 - May 20 2022 03:12:58)\r\n\r\nOK\r\n"
    return await esp_fake(line)


@pytest.mark.parametrize("fake", [esp_fake, esp_fake_with_ati])
async def test_a_modem_of_another_dialect(fake) -> None:
    async with line_server(fake) as url:
        result = await invoke(check, ["--port", url, "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    module = report["checks"][1]
    assert (module["name"], module["status"], module["reason"]) == (
        "module",
        "fail",
        "wrong-dialect",
    )
    assert "this is an ESP-AT module (AT version:" in module["detail"]
    assert module["detail"].endswith("not a Quectel EC200U: run again with --dialect esp-at")
    assert report["verdict"]["summary"] == module["detail"]
    skipped = {c["detail"] for c in report["checks"][2:]}
    assert (
        len(skipped) == 1
        and skipped.pop() == "skipped: the module on the port is not a Quectel EC200U"
    )


@pytest.mark.skipif("esp-at" not in DIALECTS, reason="the ESP-AT emulator is not there yet")
async def test_the_esp_at_emulator_is_named_too() -> None:
    async with run_emulator("esp-at", baud=None) as emu:
        result = await invoke(check, ["--port", emu.port_url])
    assert result.exit_code == 1
    assert "run again with --dialect esp-at" in result.stdout


async def test_another_vendor_is_not_taken_for_a_quectel() -> None:
    async def simcom(line: bytes) -> bytes | None:
        if line == b"ATI":
            return b"\r\nManufacturer: SIMCOM INCORPORATED\r\nModel: SIMCOM_SIM7600E\r\n\r\nOK\r\n"
        return b"\r\nOK\r\n" if line == b"AT" else b"\r\nERROR\r\n"

    async with line_server(simcom) as url:
        result = await invoke(check, ["--port", url])
    assert result.exit_code == 1
    assert "not a Quectel EC200U; the checks need the Quectel QI command set" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--csms-url", "http://x/ocpp/CP1"], "starts with ws:// or wss://"),
        (["--csms-url", "ws://x:9000"], "has no charge-point id at its end"),
        (["--id", "CP1"], "--id needs --csms-url"),
        (["--apn-user", "u"], "--apn-user/--apn-password need --apn"),
        (["--ssid", "lab"], "--ssid is for --dialect esp-at"),
        (["--dialect", "esp-at", "--apn", "internet"], "APNs are cellular; ESP-AT uses --ssid"),
        (["--csms-url", "ws://x/ocpp/.."], "the charge-point id cannot be '..'"),
        (["--apn", "internet", "--apn-password", 'a"b'], "contains a double quote"),
        (["--dialect", "esp-at", "--ssid", "lab\r\n"], "contains a carriage return"),
    ],
)
async def test_usage_errors(args: list[str], message: str) -> None:
    result = await invoke(check, ["--port", "/dev/ttyNOPE", *args])
    assert result.exit_code == 2
    assert message in result.output


async def test_csms_url_may_carry_the_id(csms: LocalCsms) -> None:
    async with ec200u("ok") as emu:
        result = await invoke(
            check,
            [
                "--port",
                emu.port_url,
                "--apn",
                "internet",
                "--csms-url",
                f"{csms.url}/CP42",
                "--ping-count",
                "0",
            ],
        )
    assert result.exit_code == 0, result.output
    assert "skipped: ping turned off (--ping-count 0)" in result.stdout
    boot = await asyncio.wait_for(
        csms.frames.wait_for(lambda f: f.action == "BootNotification", 5), 5
    )
    assert boot.charge_point == "CP42"
