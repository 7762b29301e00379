"""The verdict over all layers' checks, and how a report is shown: a table for a
person, the same content as JSON for a script, and one progress line per check."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table
from rich.text import Text

from modem.diagnostics import FIXES, WARNINGS, CheckResult, Status, Verdict, verdict

from . import ocpp_checks, tls

ALL_FIXES = {**FIXES, **ocpp_checks.FIXES, **tls.FIXES}
ALL_WARNINGS = {**WARNINGS, **ocpp_checks.WARNINGS, **tls.WARNINGS}

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


SHOWN_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)}
"""A modem's control characters (an escape sequence in a figure) shown, not obeyed."""


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns laid out by rich, as plain text (no colour, no box, no wrapping): two
    spaces before the first column and between columns, the same in a terminal, a pipe
    or a CI log.  ``headers`` ending in ``>`` are right-aligned."""
    grid = Table(box=None, pad_edge=False, padding=(0, 1), show_edge=False)
    for header in headers:
        right = header.endswith(">")
        grid.add_column(header.rstrip(">"), justify="right" if right else "left", no_wrap=True)
    for row in rows:
        grid.add_row(*(Text(cell.translate(SHOWN_CONTROLS)) for cell in row))  # no markup
    out = io.StringIO()
    Console(file=out, width=10_000, color_system=None, highlight=False).print(grid)
    return "\n".join(f"  {line}".rstrip() for line in out.getvalue().splitlines())


def table(results: Sequence[CheckResult], title: str) -> str:
    """One row per check; details of non-passing rows on a line below, under RESULT."""
    rows: list[tuple[str, str, str]] = []
    for r in results:
        figure = r.figure if r.status is not Status.SKIP else r.detail
        rows.append((str(r.status), r.name, figure))
        if r.detail and r.status in (Status.WARN, Status.FAIL):
            rows.append(("", "", r.detail))
    return f"{title}\n\n" + plain_table(("STATUS", "CHECK", "RESULT"), rows)


def as_json(results: Sequence[CheckResult], result: Verdict, **context: Any) -> dict[str, Any]:
    return {
        **context,
        "checks": [r.as_json() for r in results],
        "verdict": result.as_json(),
    }


class StepLines:
    """``[n/N]`` progress as one line per step started and per step done: what a log, a
    pipe or a CI job keeps."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self.write = write

    def __enter__(self) -> StepLines:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    def trying(self, number: int, total: int, text: str) -> None:
        self.write(f"[{number}/{total}] {text}...")

    def tried(self, number: int, total: int, text: str) -> None:
        self.write(f"[{number}/{total}] {text}")


class StepBar(StepLines):
    """On a terminal: rich's progress bar (spinner, the step being tried, n/N) under the
    finished steps' lines, which stay; the bar goes when the run ends."""

    def __init__(self, console: Console, total: int) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
            transient=True,
        )
        self.task = self.progress.add_task("", total=total)
        super().__init__(lambda text: self.progress.console.print(Text(text), soft_wrap=True))

    def __enter__(self) -> StepBar:
        self.progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.progress.stop()

    def trying(self, number: int, total: int, text: str) -> None:
        self.progress.update(self.task, description=f"{text}...")

    def tried(self, number: int, total: int, text: str) -> None:
        super().tried(number, total, text)
        self.progress.advance(self.task)


def step_progress(total: int, write: Callable[[str], None]) -> StepLines:
    """A bar when stderr is a terminal, else plain lines through ``write``."""
    console = Console(stderr=True, highlight=False)
    return StepBar(console, total) if console.is_terminal else StepLines(write)
