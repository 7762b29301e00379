"""Fixtures for running scenarios: write one to a file, run it, look at what the CSMS received."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chargepoint.scenario import load_scenario
from chargepoint.scenario.report import ScenarioResult
from chargepoint.scenario.runner import RunOptions, run_scenario


@pytest.fixture
def write_scenario(tmp_path: Path) -> Callable[..., Path]:
    def write(text: str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture
def run_text(write_scenario: Callable[..., Path]) -> Callable[..., Any]:
    """Run a scenario given as YAML text; returns its ScenarioResult."""

    async def run(text: str, **options: Any) -> ScenarioResult:
        scenario = load_scenario(write_scenario(text))
        return await run_scenario(scenario, RunOptions(**options))

    return run
