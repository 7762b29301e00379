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
        # the feature profiles (issue 12)
        "smart_charging_cuts_power",
        "smart_charging_recurring_daily",
        "smart_charging_composite",
        "local_list_offline",
        "reservation_expires",
        "firmware_update_retry",
        "firmware_corrupt_image",
        "diagnostics_upload",
        # the security extension (issue 13)
        "security_certificates",
        "security_profile_2",
        "security_profile_raise",
        "certificate_renewal",
    }


@pytest.mark.parametrize("time_scale", [None, "virtual"], ids=["as-written", "virtual"])
@pytest.mark.parametrize("link", LINK_TYPES)
@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
async def test_library_scenario_passes(path: Path, link: str, time_scale: str | None) -> None:
    try:
        result = await run_scenario(
            load_scenario(path), RunOptions(link=link, time_scale=time_scale)
        )
    except RunError as exc:
        if exc.unavailable:
            pytest.skip(str(exc))
        raise
    assert result.status == "passed", render(result)
    # the library's time scales are fine enough for what it checks over every link
    assert not result.warnings, render(result)


BOOT_ANSWER = 'interval: 120, currentTime: "2030-01-01T00:00:00Z"'

MUTANTS = {
    # Each library check must be able to fail: the file is changed so that the charger acts
    # as one breaking the rule would (the station itself cannot be made to misbehave), and
    # the run must fail at that check.  id: (file, text, replacement, failing step, detail)
    "boot-clock-not-adopted": (
        # without the 2030 time the charger keeps its own clock
        "boot_accepted",
        BOOT_ANSWER,
        "interval: 120",
        "expect_unordered",
        "timestamp: expected",
    ),
    "boot-interval-not-adopted": (
        # with 300 s the charger heartbeats at its default, as if it ignored the interval
        "boot_accepted",
        BOOT_ANSWER,
        'interval: 300, currentTime: "2030-01-01T00:00:00Z"',
        "expect_received",
        "within 2m10s",
    ),
    "trigger-reports-every-connector": (
        # a StatusNotification trigger without connectorId reports 0, 1 and 2
        "trigger_message",
        "payload: {requestedMessage: StatusNotification, connectorId: 2}",
        "payload: {requestedMessage: StatusNotification}",
        "expect_never",
        "expected no StatusNotification for 30s",
    ),
    "rejected-reboots-early": (
        # a charger that boots again after 100 s, before the 120 s interval is over
        "boot_rejected",
        "{status: Rejected, interval: 120}",
        "{status: Rejected, interval: 100}",
        "expect_never",
        "expected no message at all for 10s, but the CSMS received (sent at -",
    ),
    "rejected-answers-calls": (
        # Pending is not silent: the charger answers the CSMS's call
        "boot_rejected",
        "{status: Rejected, interval: 120}",
        "{status: Pending, interval: 120}",
        "csms",
        "expected no answer to GetConfiguration within 20s",
    ),
    "pending-sends-unasked": (
        # an Accepted charger reports its connectors, which a Pending one must not
        "boot_pending_trigger",
        "{status: Pending, interval: 120}",
        "{status: Accepted, interval: 120}",
        "expect_never",
        "expected no message at all for 1m50s, but the CSMS received",
    ),
}


@pytest.mark.parametrize("mutant", MUTANTS)
async def test_library_checks_fail_on_a_charger_breaking_the_rule(
    write_scenario: Callable[..., Path], mutant: str
) -> None:
    name, text, replacement, failing_kind, detail = MUTANTS[mutant]
    original = (LIBRARY[0].parent / f"{name}.yaml").read_text()
    assert text in original
    path = write_scenario(original.replace(text, replacement), f"{name}.yaml")
    result = await run_scenario(load_scenario(path), RunOptions())
    failed = result.failed_step
    assert failed is not None and failed.kind == failing_kind, render(result)
    assert any(detail in line for line in failed.details), failed.details
