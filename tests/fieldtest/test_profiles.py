"""Every field profile's verdict, through the real EC200U emulator over a pty and a
real local CSMS: what a technician would read, and which checks ran or were skipped."""

from __future__ import annotations

import dataclasses

import pytest

from chargepoint.csms.handlers import CsmsPolicy
from chargepoint.csms.server import Credentials, LocalCsms
from chargepoint.fieldtest import REACH
from modem.diagnostics import CELLULAR, RADIO, Status
from modem.emulator import run_emulator

from .conftest import FAST, ec200u, localhost, rows
from .conftest import run_field_check as check

ALL_ROWS = ["port", *CELLULAR, *REACH]


async def test_ok_profile_reaches_the_csms(csms: LocalCsms) -> None:
    async with ec200u("ok") as emu:
        results, verdict = await check(emu.port_url, localhost(csms))
        assert not any(c.active for c in emu.dialect.state.contexts.values())  # left as found
    assert [r.name for r in results] == ALL_ROWS
    assert all(r.status is Status.PASS for r in results), [r for r in results if not r.ok]
    got = rows(results)
    assert got["signal"].figure == "-65 dBm (CSQ 24, excellent)"
    assert got["LTE quality"].figure == "RSRP -92 dBm, RSRQ -8 dB, SINR 19.0 dB (raw 195)"
    assert got["registration"].data["CEREG"] == 1
    assert got["data"].data["ip"].startswith("10.")
    assert got["DNS"].data["addresses"] == ["127.0.0.1"]
    assert got["BootNotification"].data["request"]["iccid"] == "89860012345678901234"
    assert verdict.status is Status.PASS and verdict.exit_code == 0
    assert verdict.summary.startswith("the charger will reach its CSMS (BootNotification Accepted")
    boot = await csms.frames.wait_for(lambda f: f.action == "BootNotification", 5)
    assert boot.charge_point == "CP001"


@pytest.mark.parametrize(
    ("profile", "status", "reason", "summary"),
    [
        ("no-sim", Status.FAIL, "no-sim", "no SIM card detected: insert the SIM"),
        ("sim-pin", Status.FAIL, "sim-pin", "SIM PIN required: remove the PIN lock in a phone"),
        ("sim-puk", Status.FAIL, "sim-puk", "SIM blocked (PUK required): unblock it with its PUK"),
        (
            "no-signal",
            Status.FAIL,
            "searching",
            "not registered on any network (not registered, searching): no cell heard at all "
            "(AT+CSQ 99): check that the antenna is connected",
        ),
        (
            "denied",
            Status.FAIL,
            "denied",
            "registration denied: the SIM has no data plan for this network",
        ),
        ("roaming", Status.WARN, "warnings", "registered roaming on Vodafone.de: make sure"),
        (
            "weak-signal",
            Status.WARN,
            "warnings",
            "poor LTE link (RSRP -120 dBm, RSRQ -17 dB, SINR -3.0 dB): check the antenna",
        ),
        ("bad-apn", Status.FAIL, "apn-refused", "APN 'internet' refused by the network"),
        (
            "no-dns",
            Status.FAIL,
            "dns",
            "CSMS host does not resolve: check the host name 'localhost'",
        ),
        ("csms-unreachable", Status.FAIL, "tcp-refused", "CSMS unreachable: no TCP connection"),
    ],
)
async def test_profile_verdicts(
    csms: LocalCsms, profile: str, status: Status, reason: str, summary: str
) -> None:
    async with ec200u(profile, good_apns=("iot.op",)) as emu:
        results, verdict = await check(emu.port_url, localhost(csms))
    assert [r.name for r in results] == ALL_ROWS  # same rows whatever happened
    assert (verdict.status, verdict.reason) == (status, reason)
    assert summary in verdict.summary
    assert verdict.exit_code == (1 if status is Status.FAIL else 0)
    for name in RADIO:  # the radio is still measured when the SIM or the network fails
        assert rows(results)[name].status is not Status.SKIP


async def test_bad_apn_profile_accepts_the_good_apn(csms: LocalCsms) -> None:
    async with ec200u("bad-apn", good_apns=("iot.op",)) as emu:
        results, verdict = await check(emu.port_url, csms.url, apn="iot.op")
    assert verdict.status is Status.PASS, verdict
    assert "APN 'iot.op'" in rows(results)["data"].figure


async def test_skipped_checks_name_the_reason(csms: LocalCsms) -> None:
    async with ec200u("sim-pin") as emu:
        results, _ = await check(emu.port_url, csms.url)
    got = rows(results)
    assert got["SIM"].status is Status.FAIL
    assert got["registration"].status is Status.FAIL  # still run: it shows the consequence
    assert got["data"].status is Status.SKIP
    assert got["data"].detail == "skipped: no usable SIM (SIM PIN)"
    for name in REACH:
        assert got[name].detail == "skipped: no data session: no usable SIM (SIM PIN)"

    async with ec200u("no-dns") as emu:
        results, _ = await check(emu.port_url, localhost(csms))
    got = rows(results)
    assert got["data"].status is Status.PASS
    for name in ("ping", "TCP", "WebSocket", "BootNotification"):
        assert got[name].detail == "skipped: the CSMS host localhost does not resolve"


async def test_denied_rows(csms: LocalCsms) -> None:
    async with ec200u("denied") as emu:
        results, _ = await check(emu.port_url, csms.url)
    got = rows(results)
    assert got["registration"].figure == "registration denied (CEREG 3, CGREG 3, CREG 3)"
    assert got["serving cell"].data["state"] == "LIMSRV"
    assert got["network"].status is Status.WARN
    assert got["data"].detail == "skipped: not registered on a network (registration denied)"


async def test_weak_signal_rows(csms: LocalCsms) -> None:
    async with ec200u("weak-signal") as emu:
        results, _ = await check(emu.port_url, csms.url)
    got = rows(results)
    # RSSI (CSQ) looks fair at the edge of a loaded cell: RSRP and SINR tell the truth
    assert (got["signal"].status, got["signal"].data["dbm"]) == (Status.PASS, -83)
    quality = got["LTE quality"]
    assert quality.status is Status.WARN
    assert (quality.data["rsrp"], quality.data["sinr_raw"], quality.data["sinr_db"]) == (
        -120,
        85,
        -3.0,
    )
    assert got["BootNotification"].status is Status.PASS


async def test_no_csms_url_stops_after_the_data_session() -> None:
    async with ec200u("ok") as emu:
        results, verdict = await check(emu.port_url, None, apn=None)
    assert [r.name for r in results] == ["port", *CELLULAR]
    # no --apn: whatever the modem holds (empty after boot: the network's default)
    assert "as configured in the modem" in rows(results)["data"].figure
    assert verdict.status is Status.PASS
    assert "the CSMS itself was not tested" in verdict.summary


async def test_basic_auth(tmp_path) -> None:
    async with (
        LocalCsms(port=0, credentials=Credentials(shared="s3cret")) as csms,
        ec200u("ok") as emu,
    ):
        results, verdict = await check(emu.port_url, csms.url, password="wrong")
        assert (verdict.reason, rows(results)["WebSocket"].data["http_status"]) == ("http-401", 401)
        assert (
            "refused the credentials (HTTP 401): check the charge-point id 'CP001'"
            in verdict.summary
        )
        assert rows(results)["BootNotification"].detail == "skipped: the WebSocket upgrade failed"
        results, verdict = await check(emu.port_url, csms.url, password="s3cret")
        assert verdict.status is Status.PASS
        assert "Basic auth as CP001" in rows(results)["WebSocket"].figure


@pytest.mark.parametrize(
    ("boot_status", "status", "summary"),
    [
        ("Pending", Status.WARN, "the CSMS answered Pending: accept charge point 'CP9'"),
        (
            "Rejected",
            Status.FAIL,
            "the CSMS rejected BootNotification: register charge point 'CP9'",
        ),
    ],
)
async def test_boot_answers(boot_status: str, status: Status, summary: str) -> None:
    policy = CsmsPolicy(boot_status=boot_status)
    async with LocalCsms(port=0, policy=policy) as csms, ec200u("ok") as emu:
        results, verdict = await check(emu.port_url, f"{csms.url}/CP9", cp_id=None)
    assert verdict.status is status
    assert summary in verdict.summary
    assert rows(results)["BootNotification"].data["response"]["status"] == boot_status


async def test_wss_is_not_proven(csms: LocalCsms) -> None:
    """wss:// without --ca-file: TCP is tested, the TLS row says what it needs; not a
    pass, exit 1 (tests/ec200u_tls/test_field_check.py proves TLS with a CA file)."""
    async with ec200u("ok") as emu:
        results, verdict = await check(emu.port_url, csms.url.replace("ws://", "wss://"))
    got = rows(results)
    assert got["TCP"].status is Status.PASS
    why = "no --ca-file to verify the CSMS certificate with"
    assert (got["TLS"].status, got["TLS"].reason) == (Status.SKIP, "skipped")
    for name in ("WebSocket", "BootNotification"):
        assert (got[name].status, got[name].detail) == (Status.SKIP, f"skipped: {why}")
    assert (verdict.status, verdict.reason, verdict.exit_code) == (Status.FAIL, "incomplete", 1)
    assert verdict.summary == f"not proven: TLS could not run ({why})"


async def test_radio_rows_agree_with_registration_after_a_reboot() -> None:
    """Right after power-on the module searches for a few seconds; the radio rows are
    read once registration has settled, so they describe the same network."""
    slow_attach = dataclasses.replace(FAST, register=1.5)
    async with run_emulator("ec200u", baud=None, timing=slow_attach) as emu:
        emu.faults.reboot()
        results, verdict = await check(emu.port_url, None, wait=10.0)
    got = rows(results)
    assert got["registration"].figure.startswith("registered, home network")
    assert got["registration"].data["waited_s"] > 0  # it did have to wait
    assert got["network"].figure == "FDD LTE, PLMN 46000, LTE BAND 3, channel 1650"
    assert (got["serving cell"].status, got["serving cell"].data["state"]) == (
        Status.PASS,
        "NOCONN",
    )
    assert [r.name for r in results] == ["port", *CELLULAR]  # the table order is kept
    assert verdict.status is Status.PASS
