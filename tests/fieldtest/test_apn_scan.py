"""``cpsim modem apn-scan``: each APN in turn, progress while it works, deactivation
between tries, which APNs give an IP and reach the CSMS."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chargepoint.cli.fieldtest import apn_scan, check
from chargepoint.csms.server import LocalCsms
from chargepoint.fieldtest import parse_apn_file
from modem.diagnostics import ApnSettings

from .conftest import ec200u, invoke


async def test_progress_table_and_the_apn_that_works(csms: LocalCsms, tmp_path: Path) -> None:
    apns = tmp_path / "apns.csv"
    apns.write_text("# from the operator's sheet\n\niot.op,user1,pw,chap\nwrong.apn\n")
    at_log = tmp_path / "at.log"
    async with ec200u("bad-apn", good_apns=("iot.op",)) as emu:
        result = await invoke(
            apn_scan,
            [
                "--port",
                emu.port_url,
                "--apn",
                "internet",
                "--apn-file",
                str(apns),
                "--csms-url",
                csms.url,
                "--id",
                "CP1",
                "--at-log",
                str(at_log),
            ],
        )
        assert not any(c.active for c in emu.dialect.state.contexts.values())
    assert result.exit_code == 0, result.output
    progress = [ln for ln in result.stderr.splitlines() if re.match(r"\[\d/3\]", ln)]
    assert progress[0] == "[1/3] APN 'internet': activating..."
    assert progress[1] == (
        "[1/3] APN 'internet' refused by the network: check the APN with the operator"
    )
    assert progress[2] == "[2/3] APN 'iot.op' (user 'user1', CHAP): activating..."
    assert re.fullmatch(
        r"\[2/3\] APN 'iot.op' \(user 'user1', CHAP\) works: IP 10\.\S+ in [\d.]+ s, "
        r"CSMS reached \(TCP \d+ ms, WebSocket \d+ ms\)",
        progress[3],
    )
    assert progress[4:] == [
        "[3/3] APN 'wrong.apn': activating...",
        "[3/3] APN 'wrong.apn' refused by the network: check the APN with the operator",
    ]
    out = result.stdout
    assert re.search(r"'iot.op' \(user 'user1', CHAP\)\s+10\.\S+\s+[\d.]+ s\s+TCP \d+ ms", out)
    assert out.rstrip().endswith(
        "PASS: 1 of 3 APNs give an IP address and reach the CSMS: 'iot.op' (user 'user1', CHAP)"
    )
    # deactivated between tries: a QIDEACT after the working APN, before the next QICSGP
    trace = at_log.read_text()
    sent = re.findall(r">> (AT\+QI(?:CSGP|ACT|DEACT)=\S*)", trace)
    working = sent.index('AT+QICSGP=1,1,"iot.op","user1","***",2')
    assert "AT+QIDEACT=1" in sent[working:]
    assert sent.index("AT+QIDEACT=1", working) < sent.index('AT+QICSGP=1,1,"wrong.apn","","",0')
    assert "pw" not in trace.replace("pwd", "")  # the APN password stays masked


async def test_json_and_exit_1_when_none_works(tmp_path: Path) -> None:
    async with ec200u("bad-apn", good_apns=("iot.op",)) as emu:
        result = await invoke(
            apn_scan, ["--port", emu.port_url, "--apn", "a.one", "--apn", "b.two", "--json"]
        )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["command"] == "apn-scan"
    assert [c["name"] for c in report["checks"]][:3] == ["port", "module", "SIM"]
    assert [a["apn"] for a in report["apns"]] == ["a.one", "b.two"]
    first = report["apns"][0]
    assert set(first) == {"apn", "user", "auth", "works", "ip", "activation_s", "summary", "checks"}
    assert (first["works"], first["ip"]) == (False, None)
    assert first["activation_s"] > 0
    assert first["checks"][0]["reason"] == "apn-refused"
    assert report["verdict"]["exit_code"] == 1
    assert report["verdict"]["summary"] == (
        "none of the 2 APNs was accepted by the network: ask the operator for this SIM's "
        "APN (and user/password)"
    )


async def test_without_csms_url_an_ip_is_enough() -> None:
    async with ec200u("ok") as emu:
        result = await invoke(apn_scan, ["--port", emu.port_url, "--apn", "internet"])
    assert result.exit_code == 0
    assert "1 of 1 APNs give an IP address (CSMS not tested)" in result.stdout
    assert "not tested" in result.stdout


async def test_a_locked_sim_stops_before_any_apn() -> None:
    async with ec200u("sim-pin") as emu:
        result = await invoke(apn_scan, ["--port", emu.port_url, "--apn", "internet"])
    assert result.exit_code == 1
    assert "[1/1]" not in result.stderr  # nothing was tried
    assert re.search(
        r"'internet'\s+-\s+-\s+not tested\s+skipped: no usable SIM \(SIM PIN\)", result.stdout
    )
    assert "FAIL: SIM PIN required" in result.stdout


async def test_apns_skipped_after_a_registration_failure_are_listed() -> None:
    async with ec200u("denied") as emu:
        args = ["--port", emu.port_url, "--apn", "a.one", "--apn", "b.two", "--wait", "0"]
        result = await invoke(apn_scan, [*args, "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert [(a["apn"], a["works"], a["activation_s"]) for a in report["apns"]] == [
        ("a.one", False, None),
        ("b.two", False, None),
    ]
    why = "not registered on a network (registration denied)"
    assert {a["summary"] for a in report["apns"]} == {f"skipped: {why}"}
    assert report["apns"][0]["checks"][0]["detail"] == f"skipped: {why}"
    assert report["verdict"]["summary"].startswith("registration denied")


async def test_csms_unreachable_through_every_apn(csms: LocalCsms) -> None:
    async with ec200u("csms-unreachable") as emu:
        result = await invoke(
            apn_scan,
            ["--port", emu.port_url, "--apn", "internet", "--csms-url", csms.url, "--id", "C"],
        )
    assert result.exit_code == 1
    assert "TCP failed" in result.stdout
    assert "FAIL: APN 'internet' does not work: CSMS unreachable" in result.stdout


async def test_apns_failing_the_same_way_share_one_sentence(csms: LocalCsms) -> None:
    url = csms.url.replace("127.0.0.1", "localhost") + "/CP1"
    async with ec200u("no-dns") as emu:
        args = ["--port", emu.port_url, "--apn", "a.one", "--apn", "b.two", "--csms-url", url]
        result = await invoke(apn_scan, args)
    assert result.exit_code == 1
    verdict = result.stdout.rstrip().splitlines()[-1]
    assert verdict == (
        "FAIL: none of the 2 APNs works, each for the same reason: CSMS host does not "
        "resolve: check the host name 'localhost' in the URL, or ask the operator whether "
        "this APN gives DNS"
    )


async def test_the_pass_line_tells_credential_sets_apart(tmp_path: Path) -> None:
    apns = tmp_path / "apns.csv"
    apns.write_text("iot.op,user1,pw\niot.op\n")
    async with ec200u("bad-apn", good_apns=("iot.op",)) as emu:
        result = await invoke(apn_scan, ["--port", emu.port_url, "--apn-file", str(apns)])
    assert result.exit_code == 0, result.output
    assert result.stdout.rstrip().endswith(
        "PASS: 2 of 2 APNs give an IP address (CSMS not tested): "
        "'iot.op' (user 'user1', PAP), 'iot.op'"
    )


async def test_wss_through_an_apn_is_not_proven(csms: LocalCsms) -> None:
    url = csms.url.replace("ws://", "wss://") + "/CP1"
    async with ec200u("ok") as emu:
        result = await invoke(
            apn_scan, ["--port", emu.port_url, "--apn", "internet", "--csms-url", url]
        )
    assert result.exit_code == 1
    assert re.search(r"'internet'\s+10\.\S+\s+[\d.]+ s\s+TCP \d+ ms, WS not run", result.stdout)
    assert result.stdout.rstrip().endswith(
        "FAIL: APN 'internet': not proven: TLS could not run (no --ca-file to verify the "
        "CSMS certificate with)"
    )


async def test_usage() -> None:
    result = await invoke(apn_scan, ["--port", "/dev/ttyNOPE"])
    assert result.exit_code == 2
    assert "give at least one --apn or an --apn-file" in result.output
    result = await invoke(apn_scan, ["--port", "/dev/ttyNOPE", "--apn", "x", "--dialect", "esp-at"])
    assert result.exit_code == 2


def test_apn_file(tmp_path: Path) -> None:
    path = tmp_path / "apns.csv"
    path.write_text('internet\n# comment\n"iot.op",u,"p,w"\nm2m,u2,p2,CHAP\nplain,,,none\n')
    assert parse_apn_file(path) == [
        ApnSettings("internet"),
        ApnSettings("iot.op", "u", "p,w", 1),  # a user without an auth type: PAP
        ApnSettings("m2m", "u2", "p2", 2),
        ApnSettings("plain", "", "", 0),
    ]
    path.write_text("x,u,p,kerberos\n")
    with pytest.raises(ValueError, match=r"apns.csv:1: auth type 'kerberos'"):
        parse_apn_file(path)
    path.write_text('internet\n"m2m.op,x"\n')
    with pytest.raises(ValueError, match=r"apns.csv:2: APN 'm2m.op,x' contains ','"):
        parse_apn_file(path)


@pytest.mark.parametrize("apn", ["m2m.op,x", 'iot"op', "iot op"])
async def test_an_apn_name_with_a_comma_or_quote_is_a_usage_error(apn: str) -> None:
    for command in (apn_scan, check):
        result = await invoke(command, ["--port", "/dev/ttyNOPE", "--apn", apn])
        assert result.exit_code == 2
        assert f"APN {apn!r} contains" in result.output
        assert "an APN is letters, digits, '-' and '.'" in result.output
