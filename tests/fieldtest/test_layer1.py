"""``modem.diagnostics`` on its own: checks as plain async functions, and the verdict."""

from __future__ import annotations

import asyncio

from modem.at import ATCommandError, ATTimeout, Error
from modem.diagnostics import CheckResult, Status, registration_check, verdict
from modem.diagnostics.cellular import judge_registration
from modem.diagnostics.common import guarded
from modem.diagnostics.decode import parse_reg
from modem.quectel import QuectelModem

from .conftest import ec200u


async def test_registration_waits_while_searching() -> None:
    async with ec200u("ok") as emu:
        modem = await QuectelModem.open(emu.port_url)
        try:
            emu.dialect.set_registration(2)  # type: ignore[attr-defined]
            loop = asyncio.get_running_loop()
            loop.call_later(0.4, emu.dialect.set_registration, 1)  # type: ignore[attr-defined]
            notes: list[str] = []
            result = await registration_check(modem.driver, wait=5, poll=0.1, note=notes.append)
            assert result.status is Status.PASS
            assert notes and notes[0].startswith("registration: not registered, searching")

            emu.dialect.set_registration(2)  # type: ignore[attr-defined]
            result = await registration_check(modem.driver, wait=0.3, poll=0.1)
            assert (result.status, result.reason) == (Status.FAIL, "searching")
        finally:
            await modem.aclose()


def test_packet_registration_decides_not_creg() -> None:
    lte_only = [parse_reg("+CEREG", "0,1"), parse_reg("+CGREG", "0,0"), parse_reg("+CREG", "0,0")]
    assert judge_registration(lte_only).status is Status.PASS
    calls_only = judge_registration([parse_reg("+CEREG", "0,0"), parse_reg("+CREG", "0,1")])
    assert calls_only.reason == "not-registered"
    assert calls_only.detail.startswith("registered for calls (CREG) but not for packet data")
    sms_only = [parse_reg("+CEREG", "0,6")]
    assert judge_registration(sms_only).reason == "sms-only"
    assert judge_registration([]).reason == "not-registered"


def test_no_network_verdict_points_at_the_antenna_when_the_signal_is_weak() -> None:
    weak = CheckResult("signal", Status.WARN, "-109 dBm (CSQ 2, very weak)", reason="weak-signal")
    searching = judge_registration([parse_reg("+CEREG", "0,2")])
    result = verdict([weak, searching], success="-")
    assert result.summary == (
        "not registered on any network (not registered, searching): the signal is "
        "-109 dBm (CSQ 2, very weak): check the antenna or move it"
    )
    strong = CheckResult("signal", Status.PASS, "-60 dBm")
    assert "that the SIM is activated" in verdict([strong, searching], success="-").summary


def test_first_failure_is_the_cause_and_unknown_reasons_still_read() -> None:
    results = [
        CheckResult("SIM", Status.FAIL, "ABSENT", reason="no-sim"),
        CheckResult("registration", Status.FAIL, "x", reason="not-registered"),
    ]
    assert verdict(results, success="-").reason == "no-sim"
    odd = [CheckResult("thing", Status.FAIL, "42", "went wrong", reason="new-code")]
    assert verdict(odd, success="-").summary == "thing: 42: went wrong"
    assert verdict([CheckResult("a", Status.PASS)], success="fine").summary == "fine"


async def test_guarded_turns_odd_answers_into_rows() -> None:
    async def refused() -> CheckResult:
        raise ATCommandError('AT+QENG="servingcell"', Error("ERROR"))

    async def silent() -> CheckResult:
        raise ATTimeout("AT+QCSQ", 5, "/dev/ttyUSB2")

    async def garbled() -> CheckResult:
        raise ValueError("+QCSQ: has no <sysmode>")

    assert (await guarded("serving cell", refused)).status is Status.SKIP
    assert (await guarded("LTE quality", silent)).reason == "timeout"
    assert (await guarded("LTE quality", garbled)).reason == "malformed"


def test_nothing_failed_but_something_was_held_back_is_not_a_pass() -> None:
    from modem.diagnostics import skipped

    results = [
        CheckResult("SIM", Status.SKIP, "not answered", "AT+CPIN? -> ERROR", reason="unsupported"),
        skipped("data", "no usable SIM (not answered)"),
    ]
    result = verdict(results, success="fine")
    assert (result.status, result.reason, result.exit_code) == (Status.FAIL, "incomplete", 1)
    assert result.summary == "not proven: data could not run (no usable SIM (not answered))"
    turned_off = CheckResult("ping", Status.SKIP, detail="skipped: off", reason="turned-off")
    assert verdict([turned_off], success="fine").status is Status.PASS
