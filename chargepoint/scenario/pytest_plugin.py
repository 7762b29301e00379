"""pytest plugin: ``pytest scenarios/`` runs every YAML scenario as a test item.

A ``*.yaml``/``*.yml`` file with a top-level ``steps:`` key is a scenario;
other YAML files (CI workflows, compose files) are left alone.  A file that
cannot be loaded is a collection error listing each ``file:line:col``
problem; a failing scenario shows the failed step, its expectation and what
arrived instead, with the whole step log as a report section.  JUnit XML comes
from pytest's own ``--junitxml``.

Options: ``--scenario-link direct|ec200u|esp-at|all`` (repeatable) runs each
scenario over those links, one item each (``name[ec200u]``); a link this build
cannot make is skipped with the reason.  ``--scenario-csms local|URL`` runs
against another CSMS.

Registered by the ``pytest11`` entry point; before that, ``-p
chargepoint.scenario.pytest_plugin``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .errors import ScenarioLoadError
from .loader import load_scenario
from .model import Scenario
from .report import ScenarioResult, header, render, step_line
from .runner import LINK_TYPES, RunError, RunOptions, plan, run_blocking
from .timebase import time_scale_option

_TOP_LEVEL_STEPS = re.compile(r"^steps\s*:", re.MULTILINE)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cpsim-scenarios", "cpsim YAML scenarios")
    group.addoption(
        "--scenario-link",
        action="append",
        default=[],
        dest="scenario_links",
        choices=[*LINK_TYPES, "all"],
        help="run each scenario over this link (repeatable; all: every link)",
    )
    group.addoption(
        "--scenario-csms",
        default=None,
        dest="scenario_csms",
        metavar="local|URL",
        help="run the scenarios against this CSMS instead of the files' own",
    )
    group.addoption(
        "--scenario-time-scale",
        default=None,
        dest="scenario_time_scale",
        metavar="virtual|N",
        help="run the scenarios in virtual time or N times real time instead of as written",
    )


def is_scenario_file(path: Path) -> bool:
    if path.suffix not in (".yaml", ".yml"):
        return False
    try:
        return bool(_TOP_LEVEL_STEPS.search(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError):
        return False


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if is_scenario_file(file_path):
        collector: ScenarioFile = ScenarioFile.from_parent(parent, path=file_path)
        return collector
    return None


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        try:
            scenario = load_scenario(self.path)
        except ScenarioLoadError as exc:
            raise self.CollectError("cannot load the scenario:\n" + str(exc)) from None
        links: list[str] = self.config.getoption("scenario_links") or []
        wanted: list[str | None] = list(LINK_TYPES) if "all" in links else [*dict.fromkeys(links)]
        for link in wanted or [None]:
            name = self.path.stem if link is None else f"{self.path.stem}[{link}]"
            yield ScenarioItem.from_parent(self, name=name, scenario=scenario, link=link)


class ScenarioTimingWarning(UserWarning):
    """The time scale is too coarse for the intervals the scenario checks over this link."""


class ScenarioFailed(Exception):
    def __init__(self, result: ScenarioResult) -> None:
        super().__init__(result.reason)
        self.result = result


class ScenarioNotRun(Exception):
    """The run could not start (not a missing link: that is a skip)."""


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Scenario, link: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.link = link

    def runtest(self) -> None:
        options = RunOptions(
            csms=self.config.getoption("scenario_csms"),
            link=self.link,
            time_scale=time_scale_option(self.config.getoption("scenario_time_scale")),
        )
        try:
            result = run_blocking(self.scenario, plan(self.scenario, options), options)
        except RunError as exc:
            if exc.unavailable:
                pytest.skip(str(exc))
            raise ScenarioNotRun(str(exc)) from None
        self.add_report_section("call", "scenario", render(result))
        for text in result.warnings:
            warnings.warn(ScenarioTimingWarning(f"{self.path.name}: {text}"), stacklevel=1)
        if result.status == "skipped":
            pytest.skip(result.reason)
        if result.status != "passed":
            raise ScenarioFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        error = excinfo.value
        if isinstance(error, ScenarioFailed):
            return failure_text(error.result)
        if isinstance(error, ScenarioNotRun):
            return f"{self.path}: the scenario could not start: {error}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"scenario {self.scenario.title}"


def failure_text(result: ScenarioResult) -> str:
    """The reason first (pytest's short summary shows the first line), then the failed step
    with its expectation and what arrived instead, then which run it was."""
    failed = [s for s in result.steps if s.status != "passed"]
    return "\n".join(
        [result.reason, *(step_line(s, result.time_scale) for s in failed), f"in: {header(result)}"]
    )
