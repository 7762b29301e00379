"""The bundled library (scenarios/*.yaml) passes over the direct link and every emulated modem.

``pytest scenarios/`` (the plugin) runs the files over their own link; CI's ``pytest`` runs
these, so every scenario is checked over every link this build has.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chargepoint.scenario import load_scenario
from chargepoint.scenario.report import render
from chargepoint.scenario.runner import LINK_TYPES, RunError, RunOptions, run_scenario

LIBRARY = sorted((Path(__file__).parents[2] / "scenarios").glob("*.yaml"))


def test_the_library_covers_the_issue() -> None:
    assert {p.stem for p in LIBRARY} >= {
        "boot_accepted",
        "boot_pending_trigger",
        "boot_rejected",
        "status_notifications",
        "trigger_message",
        "remote_start_stop",
        "local_start_authorize",
        "heartbeat_interval",
        "get_configuration",
        "reset",
        "change_availability",
    }


@pytest.mark.parametrize("link", LINK_TYPES)
@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
async def test_library_scenario_passes(path: Path, link: str) -> None:
    try:
        result = await run_scenario(load_scenario(path), RunOptions(link=link))
    except RunError as exc:
        if exc.unavailable:
            pytest.skip(str(exc))
        raise
    assert result.status == "passed", render(result)
    # the library's time scales are fine enough for what it checks over every link
    assert not result.warnings, render(result)
