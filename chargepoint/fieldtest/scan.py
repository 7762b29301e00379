"""``cpsim modem apn-scan`` as a function: one modem, many APNs, one after another.

The SIM and the network are checked once first (no APN can work without
them); then each APN is configured, activated, optionally used to reach the
CSMS (DNS, TCP, for wss:// the module's TLS handshake verified against
``--ca-file``, WebSocket upgrade: enough to prove the path, without sending
a BootNotification per APN) and deactivated again before the next one.
EC200U only: APNs are cellular.
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modem.at import ATError, ATPortError
from modem.diagnostics import (
    AUTH_CODES,
    CELLULAR,
    ApnSettings,
    CellularPlan,
    CheckResult,
    Report,
    Status,
    Verdict,
    apn_name_problem,
    auth_code,
    data_blocker,
    data_check,
    run_cellular,
    skipped,
    verdict,
)
from modem.quectel import ModemIdentity, QuectelModem

from .check import (
    PortOptions,
    ReachOptions,
    lost,
    no_data_session,
    open_quectel,
    reach,
    release,
    why_stopped,
    with_tls,
)
from .outcome import ALL_FIXES, ALL_WARNINGS, StepLines, judge, plain_table, table
from .target import CsmsTarget

PREREQUISITES = ("port", *(name for name in CELLULAR if name != "data"))
SCAN_REACH = ReachOptions(steps=("DNS", "TCP", "WebSocket"))


def distinct(apns: Sequence[ApnSettings]) -> tuple[list[ApnSettings], list[ApnSettings]]:
    """The APNs to try, each once in the order first given, and the repeats dropped."""
    seen: set[ApnSettings] = set()
    tried: list[ApnSettings] = []
    repeats: list[ApnSettings] = []
    for apn in apns:
        (repeats if apn in seen else tried).append(apn)
        seen.add(apn)
    return tried, repeats


def parse_apn_file(path: Path) -> list[ApnSettings]:
    """Lines ``apn[,user[,password[,none|pap|chap|0|1|2]]]``; blank lines and ``#`` comments
    skipped.  A user without an auth type means PAP."""
    found: list[ApnSettings] = []
    with path.open(newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle), 1):
            cells = [c.strip() for c in row]
            if not cells or not cells[0] or cells[0].startswith("#"):
                continue
            apn, user, password, auth = (cells + ["", "", ""])[:4]
            problem = apn_name_problem(apn)
            if problem is not None:
                raise ValueError(f"{path}:{number}: {problem}")
            if auth.lower() in AUTH_CODES or not auth:
                code = auth_code(user, auth)
            elif auth in ("0", "1", "2"):
                code = int(auth)
            else:
                raise ValueError(f"{path}:{number}: auth type {auth!r} is not none, pap or chap")
            found.append(ApnSettings(apn, user, password, code))
    return found


@dataclass(frozen=True)
class ScanOptions:
    port: PortOptions
    apns: tuple[ApnSettings, ...]
    csms: CsmsTarget | None = None
    registration_wait: float = 30.0
    reach: ReachOptions = field(default_factory=lambda: SCAN_REACH)


@dataclass(frozen=True)
class ApnTry:
    apn: ApnSettings
    checks: list[CheckResult]
    verdict: Verdict

    @property
    def works(self) -> bool:
        return self.verdict.status in (Status.PASS, Status.WARN)  # SKIP: never tried

    def get(self, name: str) -> CheckResult | None:
        return next((r for r in self.checks if r.name == name), None)

    def as_json(self) -> dict[str, Any]:
        data = self.get("data")
        return {
            **self.apn.as_json(),
            "works": self.works,
            "ip": data.data.get("ip") if data else None,
            "activation_s": data.data.get("seconds") if data else None,
            "summary": self.verdict.summary,
            "checks": [r.as_json() for r in self.checks],
        }


@dataclass(frozen=True)
class ScanOutcome:
    prerequisites: list[CheckResult]
    tries: list[ApnTry]
    verdict: Verdict
    csms_tested: bool = False


def _ms(checks: Sequence[CheckResult], name: str) -> object:
    row = next((r for r in checks if r.name == name), None)
    return None if row is None else row.data.get("ms")


def _try_success(apn: ApnSettings, checks: Sequence[CheckResult], tested: bool) -> str:
    data = next(r for r in checks if r.name == "data")
    text = f"{apn.label()} works: IP {data.data.get('ip')} in {data.data.get('seconds')} s"
    if not tested:
        return f"{text} (CSMS not tested)"
    tcp, ws = _ms(checks, "TCP"), _ms(checks, "WebSocket")
    tls = "" if _ms(checks, "TLS") is None else f", TLS verified in {_ms(checks, 'TLS')} ms"
    return f"{text}, CSMS reached (TCP {tcp} ms{tls}, WebSocket {ws} ms)"


async def try_apn(
    modem: QuectelModem, apn: ApnSettings, options: ScanOptions, ident: ModemIdentity | None
) -> ApnTry:
    """Activate ``apn``, reach the CSMS through it, deactivate again."""
    report = Report()
    data = report.add(await data_check(modem, apn))
    try:
        if options.csms is not None:
            if data.ok:
                await reach(modem, options.csms, ident, report, options.reach)
            else:
                report.skip(with_tls(options.reach.steps, options.csms), no_data_session(data))
    finally:
        with contextlib.suppress(ATError):
            if await modem.address() is not None:
                await modem.deactivate()
    result = verdict(
        report.results,
        success=_try_success(apn, report.results, options.csms is not None) if data.ok else "",
        fixes=ALL_FIXES,
        warnings=ALL_WARNINGS,
    )
    return ApnTry(apn, report.results, result)


def not_tried(apn: ApnSettings, why: str) -> ApnTry:
    """An APN the scan could not try, listed with the reason (a SIM or network failure)."""
    return ApnTry(apn, [skipped("data", why)], Verdict(Status.SKIP, f"skipped: {why}", "skipped"))


def overall(tries: Sequence[ApnTry], csms: CsmsTarget | None) -> Verdict:
    """One line over all tries; APNs that failed with the same sentence share it."""
    working = [t for t in tries if t.works]
    total = len(tries)
    if working:
        names = ", ".join(t.apn.describe() for t in working)
        what = "an IP address and reach the CSMS" if csms else "an IP address (CSMS not tested)"
        return Verdict(Status.PASS, f"{len(working)} of {total} APNs give {what}: {names}")
    if {t.verdict.reason for t in tries} <= {"apn-refused", "no-apn"}:
        return Verdict(
            Status.FAIL,
            f"none of the {total} APNs was accepted by the network: ask the operator for "
            "this SIM's APN (and user/password)",
            "apn-refused",
        )
    groups: dict[str, list[ApnTry]] = {}
    for attempt in tries:  # the same failure, whichever APN it names, shares one line
        same = attempt.verdict.summary.replace(attempt.apn.label(), "the APN")
        groups.setdefault(same, []).append(attempt)
    unproven = all(t.verdict.reason == "incomplete" for t in tries)  # wss://: TCP only
    if total == 1:
        verb = ":" if unproven else " does not work:"
        text = f"{tries[0].apn.label()}{verb} {tries[0].verdict.summary}"
    elif len(groups) == 1:
        text = f"none of the {total} APNs works, each for the same reason: {next(iter(groups))}"
    else:
        text = f"none of the {total} APNs works: " + "; ".join(
            f"{', '.join(t.apn.describe() for t in group)}: "
            + (group[0].verdict.summary if len(group) == 1 else same)
            for same, group in groups.items()
        )
    return Verdict(Status.FAIL, text, "incomplete" if unproven else "none-works")


async def run_scan(
    options: ScanOptions, report: Report, steps: StepLines | Callable[[str], None]
) -> ScanOutcome:
    """Prerequisites into ``report``, then each APN; ``steps`` shows the ``[n/N]``
    progress (a function given instead gets it as lines)."""
    if not isinstance(steps, StepLines):
        steps = StepLines(steps)
    tries: list[ApnTry] = []
    try:
        modem = await open_quectel(options.port, report)
    except ATPortError as exc:
        lost(report, exc, PREREQUISITES)
        return ScanOutcome(report.results, tries, judge(report.results))
    if modem is None:
        report.skip(PREREQUISITES, why_stopped(report))
        return ScanOutcome(report.results, tries, judge(report.results))
    trying: str | None = None  # the APN being tried, for a lost port
    try:
        plan = CellularPlan(registration_wait=options.registration_wait, activate=False)
        ident = await run_cellular(modem, plan, report)
        if report.failed:
            why = data_blocker(report) or "an earlier check failed"
            tries = [not_tried(apn, why) for apn in options.apns]
            return ScanOutcome(report.results, tries, judge(report.results))
        total = len(options.apns)
        for number, apn in enumerate(options.apns, 1):
            trying = apn.label()
            steps.trying(number, total, f"{trying}: activating")
            attempt = await try_apn(modem, apn, options, ident)
            tries.append(attempt)
            steps.tried(number, total, attempt.verdict.summary)
    except ATPortError as exc:
        lost(report, exc, PREREQUISITES, trying)
        return ScanOutcome(report.results, tries, judge(report.results))
    finally:
        await release(modem)
    tested = options.csms is not None
    return ScanOutcome(report.results, tries, overall(tries, options.csms), tested)


def _csms_cell(attempt: ApnTry, tested: bool) -> str:
    if not tested:
        return "not tested"
    ws = attempt.get("WebSocket")
    if ws is not None and ws.status is Status.PASS:
        tls = _ms(attempt.checks, "TLS")
        over = "" if tls is None else f", TLS {tls} ms"
        return f"TCP {_ms(attempt.checks, 'TCP')} ms{over}, WS {ws.data.get('ms')} ms"
    failed = next((r for r in attempt.checks[1:] if r.status is Status.FAIL), None)
    if failed is not None:
        return f"{failed.name} failed"
    tcp = attempt.get("TCP")
    if tcp is not None and tcp.status is Status.PASS:  # wss://: the upgrade was not run
        return f"TCP {_ms(attempt.checks, 'TCP')} ms, WS not run"
    return "-"


def scan_table(outcome: ScanOutcome, title: str) -> str:
    lines = [table(outcome.prerequisites, title)]
    if not outcome.tries:
        return "\n".join(lines)
    rows = []
    for attempt in outcome.tries:
        data = attempt.get("data")
        ip = str((data.data.get("ip") if data else None) or "-")
        seconds = data.data.get("seconds") if data else None
        took = "-" if seconds is None else f"{seconds} s"
        result = "works" if attempt.works else attempt.verdict.summary
        csms_cell = _csms_cell(attempt, outcome.csms_tested)
        rows.append((attempt.apn.describe(), ip, took, csms_cell, result))
    lines += ["", plain_table(("APN", "IP", "TIME>", "CSMS", "RESULT"), rows)]
    return "\n".join(lines)


def scan_json(outcome: ScanOutcome, **context: Any) -> dict[str, Any]:
    return {
        **context,
        "checks": [r.as_json() for r in outcome.prerequisites],
        "apns": [t.as_json() for t in outcome.tries],
        "verdict": outcome.verdict.as_json(),
    }
