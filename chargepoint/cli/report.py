"""``cpsim report PATH``: one self-contained HTML page from a run's logs."""

from __future__ import annotations

from pathlib import Path

import click

from .common import CouldNotStart, file_problem

REPORT_NAME = "report.html"


def _default_output(path: Path) -> Path:
    return path / REPORT_NAME if path.is_dir() else path.with_name(path.name + ".html")


@click.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"The page to write [default: PATH/{REPORT_NAME}, or FILE.html beside a file].",
)
@click.option(
    "--frames",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The CSMS's frame log (cpsim csms --log FILE) of a cpsim run state dir.",
)
@click.option(
    "--at-log",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The AT trace (cpsim run --at-log FILE) of a cpsim run state dir.",
)
def report(path: Path, output: Path | None, frames: Path | None, at_log: Path | None) -> None:
    """Turn a run's logs into one HTML page that needs no network to view.

    PATH is a scenario report dir (cpsim scenario run --report DIR), a cpsim run state
    dir (timeline.jsonl, with the frame log and AT trace found beside it or given), a
    fleet report dir (cpsim fleet --report DIR) or one of those logs.  The page shows
    the charger <-> CSMS messages as a sequence diagram with the AT commands beneath,
    connector states, power / energy / SoC against the charging limit and round-trip
    latency; for a fleet, the boot curve, connected chargers, message rate and latency
    percentiles.  Exit 0 when written, 2 when there is nothing to report or the page
    cannot be written.
    """
    from chargepoint.report import ReportInputError, read_report

    target = output or _default_output(path)
    problem = file_problem(target)
    if problem is not None:
        raise CouldNotStart(f"cannot write the report: {problem}")
    try:
        content = read_report(path, frames, at_log)
    except ReportInputError as exc:
        raise CouldNotStart(str(exc)) from exc
    page = content.html()
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise CouldNotStart(f"cannot write the report: {target}: {exc.strerror}") from exc
    notes = content.notes + [n for r in content.runs for n in r.notes]
    if content.fleet is not None:
        notes += content.fleet.notes
    for note in notes:
        click.echo(f"left out: {note}", err=True)
    what = (
        "a fleet"
        if content.fleet is not None
        else f"{len(content.runs)} run(s), "
        f"{sum(r.messages_total for r in content.runs)} OCPP messages"
    )
    click.echo(f"wrote {target} ({len(page.encode()) // 1024} KiB): {what}")
