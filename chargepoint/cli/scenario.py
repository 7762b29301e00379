"""``cpsim scenario``: check scenario files and print their JSON Schema.

``validate`` prints one ``file:line:col: message`` line per problem, the
format editors and CI annotate, and exits 2 on any, like ``run`` will when a
file cannot be loaded.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from chargepoint.scenario import check_files, json_schema, scenario_files

LOAD_ERROR = 2


@click.group()
def scenario() -> None:
    """YAML scenarios: a charger, its link, a CSMS, and the steps that must happen."""


@scenario.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(files: tuple[Path, ...]) -> None:
    """Check scenario FILES (or directories of them) without running them.

    Exit 0 when every file loads, 2 when any has a problem.
    """
    problems = check_files(files)
    for problem in problems:
        click.echo(str(problem))
    count = len(scenario_files(files))
    if problems:
        bad = len({p.where.file for p in problems})
        click.echo(f"{len(problems)} problem(s) in {bad} of {count} file(s)", err=True)
        sys.exit(LOAD_ERROR)
    click.echo(f"{count} file(s) OK", err=True)


@scenario.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editor completion and checking)."""
    click.echo(json.dumps(json_schema(), indent=2))


@scenario.command(context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(args: tuple[str, ...]) -> None:
    """Not yet available: the runner comes with the charger station and the local CSMS."""
    click.echo("cpsim scenario run: not yet available; `cpsim scenario validate` checks files",
               err=True)
    sys.exit(LOAD_ERROR)
