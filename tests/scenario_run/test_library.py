"""The bundled library (scenarios/*.yaml) passes over the direct link and every emulated modem.

``pytest scenarios/`` (the plugin) runs the files over their own link; CI's ``pytest`` runs
these, so every scenario is checked over every link this build has.
"""

from __future__ import annotations

from collections.abc import Callable
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


BOOT_ANSWER = 'interval: 120, currentTime: "2030-01-01T00:00:00Z"'


@pytest.mark.parametrize(
    "replacement,failing_kind,detail",
    [
        # without the 2030 time the charger keeps its own clock, as one that ignored it would
        ("interval: 120", "expect_unordered", "timestamp: expected"),
        # with 300 s it heartbeats at its default, as one that ignored the interval would
        (
            'interval: 300, currentTime: "2030-01-01T00:00:00Z"',
            "expect_received",
            "within 2m10s",
        ),
    ],
    ids=["clock-not-adopted", "interval-not-adopted"],
)
async def test_boot_accepted_fails_when_the_boot_answer_is_not_adopted(
    write_scenario: Callable[..., Path], replacement: str, failing_kind: str, detail: str
) -> None:
    text = (LIBRARY[0].parent / "boot_accepted.yaml").read_text()
    assert BOOT_ANSWER in text
    path = write_scenario(text.replace(BOOT_ANSWER, replacement), "boot_accepted.yaml")
    result = await run_scenario(load_scenario(path), RunOptions())
    failed = result.failed_step
    assert failed is not None and failed.kind == failing_kind, render(result)
    assert any(detail in line for line in failed.details), failed.details
