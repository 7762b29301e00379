"""``cpsim scenario``: check scenario files, print their JSON Schema, and run them.

``validate`` prints one ``file:line:col: message`` line per problem, the
format editors and CI annotate, and exits 2 on any.  ``run`` loads every file
first (any problem: the same lines, exit 2, nothing runs), then runs them one
after another, printing a line per step as it finishes.  Exit status: 0 all
passed, 1 a scenario failed, 2 a file could not be loaded, a run could not
start, or a scenario was skipped.

A skipped scenario (this build or machine cannot check it: a link it lacks, a
link fault the link cannot have) was not checked, so it does not pass a run
silently: it is shown as ``SKIPPED`` with the reason and exits 2 unless
``--allow-skips`` is given (then 0, when nothing failed).  Under pytest a skip
stays a pytest skip.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import click

from chargepoint import logs
from chargepoint.scenario import (
    Scenario,
    check_files,
    json_schema,
    load_files,
    scenario_files,
)
from chargepoint.scenario.report import (
    ScenarioResult,
    footer,
    header,
    step_line,
    summary,
    warning_lines,
    write_junit,
    write_report,
)
from chargepoint.scenario.runner import (
    LINK_TYPES,
    RunError,
    RunOptions,
    error_result,
    new_result,
    plan,
    run_blocking,
)
from chargepoint.scenario.timebase import time_scale_option
from chargepoint.transport.handshake import check_base_url

from .common import interrupted, log_level_option

PASSED, FAILED, LOAD_ERROR = 0, 1, 2


@click.group()
def scenario() -> None:
    """YAML scenarios: a charger, its link, a CSMS, and the steps that must happen."""


def _time_scale_option(value: str | None) -> float | str | None:
    try:
        return time_scale_option(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--time-scale") from None


@scenario.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(files: tuple[Path, ...]) -> None:
    """Check scenario FILES (or directories of them) without running them.

    Exit 0 when every file loads, 2 when any has a problem.
    """
    count = len(scenario_files(files))
    if count == 0:
        _no_files(files)
    problems = check_files(files)
    for problem in problems:
        click.echo(str(problem))
    if problems:
        bad = len({p.where.file for p in problems})
        click.echo(f"{len(problems)} problem(s) in {bad} of {count} file(s)", err=True)
        sys.exit(LOAD_ERROR)
    click.echo(f"{count} file(s) OK", err=True)


@scenario.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editor completion and checking)."""
    click.echo(json.dumps(json_schema(), indent=2))


def _csms_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None or value == "local":
        return value
    if not value.startswith(("ws://", "wss://")):
        raise click.BadParameter("expected `local` or a ws:// or wss:// URL")
    try:
        return check_base_url(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@scenario.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--csms",
    "csms_url",
    metavar="local|URL",
    callback=_csms_option,
    help="Run against the local CSMS or this ws:// URL instead of the file's csms.",
)
@click.option(
    "--link",
    "link_type",
    type=click.Choice(LINK_TYPES),
    help="Run over this link instead of the file's (a modem on its emulator).",
)
@click.option(
    "--time-scale",
    metavar="virtual|N",
    callback=lambda ctx, param, value: _time_scale_option(value),
    help="Run in virtual time (jumps over idle time; needs the local CSMS) or N times "
    "real time, instead of the files' charger.time_scale.",
)
@click.option(
    "--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write JUnit XML here."
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write <name>.json, <name>.frames.jsonl and <name>.timeline.jsonl per scenario here.",
)
@click.option(
    "--allow-skips",
    is_flag=True,
    help="Exit 0 even if a scenario was skipped (it cannot be checked on this setup).",
)
@log_level_option(
    "CRITICAL",
    help="Log level of the charger and the CSMS on stderr (WARNING or INFO to see "
    "their own log; the step lines are on stdout).",
)
def run(
    files: tuple[Path, ...],
    csms_url: str | None,
    link_type: str | None,
    time_scale: float | str | None,
    junit: Path | None,
    report_dir: Path | None,
    allow_skips: bool,
    log_level: str,
) -> None:
    """Run scenario FILES (or directories of them), one line per step.

    Exit 0 when all passed, 1 when a scenario failed, 2 when a file could not
    be loaded, a run could not start, or a scenario was skipped (a link or link
    fault this setup lacks; --allow-skips accepts skips).
    """
    paths = scenario_files(files)
    if not paths:
        _no_files(files)
    scenarios, problems = load_files(paths)
    if problems:
        for problem in problems:
            click.echo(str(problem))
        click.echo(f"{len(problems)} problem(s): nothing was run", err=True)
        sys.exit(LOAD_ERROR)
    logs.setup(log_level, ocpp_messages=False)
    options = RunOptions(csms=csms_url, link=link_type, time_scale=time_scale)
    results, was_interrupted = _run_all(scenarios, options, ConnectErrors.install(log_level))
    if report_dir is not None:
        for stem, result in zip(_stems(scenarios), results, strict=True):
            write_report(result, report_dir, stem)
    if junit is not None:
        write_junit(results, junit)
    click.echo(summary(results))
    if was_interrupted:
        interrupted()
    skipped = sum(r.status == "skipped" for r in results)
    if skipped and not allow_skips:
        click.echo(
            f"{skipped} scenario(s) skipped, so not checked: exit {LOAD_ERROR} "
            "(--allow-skips accepts them)",
            err=True,
        )
    sys.exit(exit_status(results, allow_skips))


class ConnectErrors(logging.Handler):
    """Shows the charger's "cannot connect" at once, one line per distinct reason and
    scenario, even at the default log level: against a CSMS that cannot be reached
    the steps would otherwise print nothing until their timeouts."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if not text.startswith("cannot connect"):
            return
        reason = text.partition("; retrying in ")[0]
        if reason not in self.seen:
            self.seen.add(reason)
            click.echo(f"  ! {reason} (the charger keeps retrying)")

    @classmethod
    def install(cls, log_level: str) -> ConnectErrors | None:
        """Only where the log itself would not show it (a level above ERROR)."""
        if logging.getLevelName(log_level.upper()) <= logging.ERROR:
            return None
        handler = cls()
        runner_log = logging.getLogger("cpsim.runner")
        runner_log.setLevel(logging.ERROR)
        runner_log.propagate = False
        runner_log.addHandler(handler)
        return handler


def _no_files(files: Sequence[Path]) -> NoReturn:
    """A mistyped path or an empty directory must not pass CI as "0 file(s) OK"."""
    raise click.UsageError(f"no scenario files (*.yaml, *.yml) in {', '.join(map(str, files))}")


def _run_all(
    scenarios: Sequence[Scenario], options: RunOptions, connect_errors: ConnectErrors | None = None
) -> tuple[list[ScenarioResult], bool]:
    """The results, and whether Ctrl+C cut the run short (the scenario it interrupted is
    an error, the ones after it are not listed: they did not run)."""
    results = []
    for scenario in scenarios:
        planned = None
        if connect_errors is not None:
            connect_errors.seen.clear()
        try:
            planned = plan(scenario, options)
            shown = "virtual" if planned.virtual else planned.scale
            options.on_step = lambda step, scale=shown: click.echo(step_line(step, scale))
            click.echo(header(new_result(scenario, planned)))
            result = run_blocking(scenario, planned, options)
        except RunError as exc:
            result = error_result(scenario, exc, planned)
        except KeyboardInterrupt:
            result = error_result(scenario, RunError("interrupted (Ctrl+C)"), planned)
            click.echo(footer(result) + "\n")
            results.append(result)
            return results, True
        for line in warning_lines(result):
            click.echo(line)
        click.echo(footer(result) + "\n")
        results.append(result)
    return results, False


def exit_status(results: Sequence[ScenarioResult], allow_skips: bool = False) -> int:
    """2 for a run that could not start or (unless allowed) a skip, else 1 for a failure."""
    if any(r.status == "error" for r in results):
        return LOAD_ERROR
    if not allow_skips and any(r.status == "skipped" for r in results):
        return LOAD_ERROR
    return FAILED if any(r.status == "failed" for r in results) else PASSED


def _stems(scenarios: Sequence[Scenario]) -> list[str]:
    """Report file names: the scenario file's stem, made unique."""
    seen: dict[str, int] = {}
    stems = []
    for scenario in scenarios:
        stem = Path(scenario.file or "scenario").stem
        seen[stem] = seen.get(stem, 0) + 1
        stems.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return stems
