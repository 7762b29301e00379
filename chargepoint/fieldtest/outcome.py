"""The verdict over all layers' checks, and how a report is shown: a table for a
person, the same content as JSON for a script, and one progress line per check."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modem.diagnostics import FIXES, WARNINGS, CheckResult, Status, Verdict, verdict

from . import ocpp_checks

ALL_FIXES = {**FIXES, **ocpp_checks.FIXES}
ALL_WARNINGS = {**WARNINGS, **ocpp_checks.WARNINGS}

LABELS = {Status.PASS: "PASS", Status.WARN: "WARN", Status.FAIL: "FAIL"}


def _find(results: Sequence[CheckResult], name: str) -> CheckResult | None:
    return next((r for r in results if r.name == name), None)


def success_text(results: Sequence[CheckResult]) -> str:
    """What was proven, from the furthest check that passed."""
    boot = _find(results, "BootNotification")
    if boot is not None and boot.ok:
        return f"the charger will reach its CSMS (BootNotification {boot.figure})"
    tcp = _find(results, "TCP")
    if tcp is not None and tcp.ok:
        return f"the CSMS host accepts TCP ({tcp.figure})"
    untested = " (no --csms-url given: the CSMS itself was not tested)"
    data = _find(results, "data")
    if data is not None and data.ok:
        return f"SIM, network and APN work: {data.figure}" + untested
    wifi = _find(results, "Wi-Fi")
    if wifi is not None and wifi.ok:
        return f"the Wi-Fi works: {wifi.figure}" + untested
    return "all checks passed"


def judge(results: Sequence[CheckResult]) -> Verdict:
    return verdict(results, success=success_text(results), fixes=ALL_FIXES, warnings=ALL_WARNINGS)


def verdict_line(result: Verdict) -> str:
    return f"{LABELS.get(result.status, 'FAIL')}: {result.summary}"


def progress_line(result: CheckResult) -> str:
    """``[pass] SIM: READY, ICCID ...``; a skip gives its reason, a warning or failure
    its figure and what it means."""
    if result.status is Status.SKIP or not result.figure:
        text = result.detail
    elif result.status in (Status.WARN, Status.FAIL) and result.detail:
        text = f"{result.figure}: {result.detail}"
    else:
        text = result.figure
    return f"[{result.status}] {result.name}: {text}"


def table(results: Sequence[CheckResult], title: str) -> str:
    """Fixed columns; details of non-passing rows on an indented line below."""
    width = max([len(r.name) for r in results] + [5])
    lines = [title, "", f"  {'STATUS':<6}  {'CHECK':<{width}}  RESULT"]
    indent = " " * (2 + 6 + 2 + width + 2)
    for r in results:
        figure = r.figure if r.status is not Status.SKIP else r.detail
        lines.append(f"  {str(r.status):<6}  {r.name:<{width}}  {figure}".rstrip())
        if r.detail and r.status in (Status.WARN, Status.FAIL):
            lines.append(indent + r.detail)
    return "\n".join(lines)


def as_json(results: Sequence[CheckResult], result: Verdict, **context: Any) -> dict[str, Any]:
    return {
        **context,
        "checks": [r.as_json() for r in results],
        "verdict": result.as_json(),
    }
