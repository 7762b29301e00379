"""A modem unplugged while DNS or ping waits for its URCs: the run ends at once with
"the modem link was lost", instead of a DNS or ping row blaming the CSMS host
after the URC timeout (30 s for DNS, about 40 s for ping).

The emulator really stops: its pty closes under the driver, as when the USB
cable is pulled."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from chargepoint.csms.server import LocalCsms
from chargepoint.fieldtest import (
    REACH,
    CheckOptions,
    CsmsTarget,
    PortOptions,
    ReachOptions,
    ScanOptions,
    judge,
    run_check,
    run_scan,
)
from modem.diagnostics import ApnSettings, Report, Status
from modem.emulator import run_emulator

from .conftest import FAST, STEP, answered_in_log

# Long enough that only the port loss can end the waits within STEP.
SLOW_DNS = dataclasses.replace(FAST, dns_fail=120.0)
SLOW_PING = ReachOptions(ping_count=3, ping_timeout=30, connect_timeout=10)


@pytest.mark.parametrize(
    ("profile", "command", "during"),
    [("no-dns", "AT+QIDNSGIP=", "DNS"), ("csms-unreachable", "AT+QPING=", "ping")],
)
async def test_modem_lost_while_waiting_for_urcs(
    csms: LocalCsms, tmp_path: Path, profile: str, command: str, during: str
) -> None:
    at_log = tmp_path / "at.log"
    target = CsmsTarget.parse(csms.url.replace("127.0.0.1", "localhost"), "CP1")
    report = Report()
    async with run_emulator("ec200u", baud=None, profile=profile, timing=SLOW_DNS) as emu:
        options = CheckOptions(
            PortOptions(emu.port_url, at_log=at_log),
            ApnSettings("internet"),
            target,
            registration_wait=1.0,
            reach=SLOW_PING,
        )
        task = asyncio.create_task(run_check(options, report))
        await answered_in_log(at_log, command)  # OK came: the check now waits for URCs
        await emu.aclose()  # the modem goes away
        await asyncio.wait_for(task, STEP)

    rows = {r.name: r for r in report.results}
    assert rows["data"].status is Status.PASS
    link = rows["modem link"]
    assert (link.status, link.reason) == (Status.FAIL, "port-lost")
    assert link.figure == f"lost during {during}"
    index = [r.name for r in report.results].index("modem link")
    for row in report.results[index + 1 :]:  # nothing after it blames the CSMS
        assert row.name in REACH
        assert (row.status, row.detail) == (Status.SKIP, "skipped: the modem link was lost")
    verdict = judge(report.results)
    assert (verdict.reason, verdict.exit_code) == ("port-lost", 1)
    assert verdict.summary.startswith(f"the modem link was lost during {during} (")
    assert verdict.summary.endswith("check the USB cable and the power supply")


async def test_apn_scan_names_the_apn_it_was_trying(csms: LocalCsms, tmp_path: Path) -> None:
    at_log = tmp_path / "at.log"
    target = CsmsTarget.parse(csms.url.replace("127.0.0.1", "localhost"), "CP1")
    report = Report()
    async with run_emulator("ec200u", baud=None, profile="no-dns", timing=SLOW_DNS) as emu:
        options = ScanOptions(
            PortOptions(emu.port_url, at_log=at_log),
            (ApnSettings("internet"),),
            target,
            registration_wait=1.0,
        )
        task = asyncio.create_task(run_scan(options, report, lambda _: None))
        await answered_in_log(at_log, "AT+QIDNSGIP=")
        await emu.aclose()
        outcome = await asyncio.wait_for(task, STEP)
    link = outcome.prerequisites[-1]
    assert (link.name, link.figure) == ("modem link", "lost during APN 'internet'")
    assert outcome.verdict.summary.startswith("the modem link was lost during APN 'internet' (")
    assert outcome.verdict.exit_code == 1
