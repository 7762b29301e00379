"""``cpsim report PATH``: one self-contained HTML page from a run's logs.

Sources (:mod:`.sources`): a scenario report dir, a ``cpsim run`` state dir with its
frame log and AT trace, a fleet report dir (:mod:`.fleet`), or one log file.  Parsing
(:mod:`.parse`) is bounded (:mod:`.reading`); charts are plotly figures (:mod:`.charts`,
why plotly is said there); the sequence diagram is hand-made HTML (:mod:`.sequence`);
:mod:`.page` puts it together with plotly.js inline, so the page needs no network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .fleet import FleetDigest, is_fleet_dir, read_fleet
from .page import render_page
from .reading import ReportInputError
from .records import ChargerRun
from .sources import find_charger_logs, read_charger_run

__all__ = ["ReportContent", "ReportInputError", "build_report", "read_report"]


@dataclass
class ReportContent:
    title: str
    runs: list[ChargerRun] = field(default_factory=list)
    fleet: FleetDigest | None = None
    notes: list[str] = field(default_factory=list)

    def html(self) -> str:
        return render_page(self.title, self.runs, self.fleet, self.notes)


def read_report(
    path: Path, frames: Path | None = None, at_trace: Path | None = None
) -> ReportContent:
    """What ``path`` (and the extra logs) hold; :class:`ReportInputError` when nothing."""
    if not path.exists():
        raise ReportInputError(f"{path}: no such file or directory")
    content = ReportContent(f"cpsim report: {path.resolve().name}")
    if is_fleet_dir(path):
        content.fleet = read_fleet(path)
    else:
        logs, notes = find_charger_logs(path, frames, at_trace)
        content.notes.extend(notes)
        content.runs = [read_charger_run(entry) for entry in logs]
    fleet = content.fleet
    if fleet is not None and not (fleet.summary or fleet.samples or fleet.events):
        raise ReportInputError(
            f"{path}: nothing to report: the fleet report holds no summary, sample or "
            "event" + "".join(f"; {n}" for n in fleet.notes)
        )
    if content.fleet is None and not content.runs:
        raise ReportInputError(
            f"{path}: nothing to report: no scenario result (<name>.json), timeline "
            "(timeline.jsonl), frame log (cpsim csms --log), AT trace (--at-log) or fleet "
            "report (summary.json, events.jsonl) found"
        )
    if content.runs and all(
        not r.messages and not r.statuses and not r.meters and not r.setup_at_lines
        for r in content.runs
    ):
        raise ReportInputError(
            f"{path}: nothing to report: the logs found hold no message, state or meter "
            "value: " + "; ".join(n for r in content.runs for n in r.notes or r.sources)
        )
    return content


def build_report(path: Path, frames: Path | None = None, at_trace: Path | None = None) -> str:
    """The page's HTML for ``path``."""
    return read_report(path, frames, at_trace).html()
