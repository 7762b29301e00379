"""``cpsim scenario run``: exit codes 0/1/2, the step lines, --junit and --report."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner, Result

from chargepoint.cli.scenario import scenario
from chargepoint.scenario.config import EspAtLinkConfig
from chargepoint.scenario.linkfactory import unavailable_reason

PASSING = """\
    name: passes
    charger: {id: CP-PASS, time_scale: 60}
    steps:
      - expect_received: BootNotification
      - expect_received: {action: StatusNotification, payload: {connectorId: 1, status: Available}}
    """

FAILING = """\
    name: fails
    charger: {id: CP-FAIL, time_scale: 60}
    steps:
      - wait: {until: boot_accepted}
      - expect_received:
          action: StatusNotification
          payload: {connectorId: 1, status: Charging}
          within: 30s
    """

BROKEN = """\
    charger: {id: CP-BROKEN}
    steps:
      - expect_recieved: Heartbeat
    """


def run(*args: str) -> Result:
    return CliRunner().invoke(scenario, ["run", *args])


def test_passing_file_exits_0_with_a_line_per_step(write_scenario: Callable[..., Path]) -> None:
    path = write_scenario(PASSING)
    result = run(str(path))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"passes ({path}) - direct link, CSMS local, time x60")
    assert [line.split()[0] for line in lines[1:3]] == ["✓", "✓"]
    # each expectation says when (charger time from the step's start) the charger sent it
    assert "  expect_received BootNotification  (sent at +" in lines[1]
    assert (
        "  expect_received StatusNotification {connectorId: 1, status: Available}  (sent at "
        in lines[2]
    )
    assert lines[3].startswith("PASSED passes in ")
    assert lines[-1].startswith("1 passed, 0 failed in ")


def test_failing_expectation_exits_1_and_shows_what_came_instead(
    write_scenario: Callable[..., Path],
) -> None:
    path = write_scenario(FAILING)
    result = run(str(path))
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert (
        "✗" in out
        and "expect_received StatusNotification {connectorId: 1, status: Charging} within 30s"
        in out
    )
    assert f"at {path}:5" in out
    assert "no StatusNotification {connectorId: 1, status: Charging} within 30s" in out
    assert "closest StatusNotification that arrived:" in out
    assert "status: expected 'Charging', got 'Available'" in out
    assert "FAILED fails" in out and "0 passed, 1 failed" in out


def test_broken_file_exits_2_and_runs_nothing(write_scenario: Callable[..., Path]) -> None:
    good, bad = write_scenario(PASSING, "good.yaml"), write_scenario(BROKEN, "bad.yaml")
    result = run(str(good), str(bad))
    assert result.exit_code == 2
    assert result.stdout.startswith(
        f"{bad}:3:5: steps[0].expect_recieved: unknown step "
        "'expect_recieved'; did you mean expect_received?"
    )
    assert "nothing was run" in result.stderr
    assert "PASSED" not in result.stdout


def test_a_run_that_cannot_start_exits_2(write_scenario: Callable[..., Path]) -> None:
    steered = write_scenario("steps:\n  - csms: {call: Reset, payload: {type: Soft}}\n")
    result = run(str(steered), "--csms", "ws://127.0.0.1:9/ocpp")
    assert result.exit_code == 2
    assert f"{steered}:2:5: csms steps steer the local CSMS" in result.stdout
    assert "1 error" in result.stdout


def test_a_link_this_build_lacks_exits_2_with_the_reason(
    write_scenario: Callable[..., Path],
) -> None:
    reason = unavailable_reason(EspAtLinkConfig(type="esp-at"))
    if reason is None:  # the ESP-AT link has landed: any link would do, there is none missing
        return
    result = run(str(write_scenario(PASSING)), "--link", "esp-at")
    assert result.exit_code == 2
    assert reason in result.stdout


def test_bad_csms_option_is_a_usage_error(write_scenario: Callable[..., Path]) -> None:
    result = run(str(write_scenario(PASSING)), "--csms", "http://example.org")
    assert result.exit_code == 2
    assert "expected `local` or a ws:// or wss:// URL" in result.stderr


def test_junit_and_report(write_scenario: Callable[..., Path], tmp_path: Path) -> None:
    good, bad = write_scenario(PASSING, "good.yaml"), write_scenario(FAILING, "bad.yaml")
    junit, report = tmp_path / "out" / "junit.xml", tmp_path / "report"
    result = run(str(good), str(bad), "--junit", str(junit), "--report", str(report))
    assert result.exit_code == 1

    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("2", "1", "0")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert set(cases) == {"passes", "fails"}
    assert cases["passes"].find("failure") is None
    failure = cases["fails"].find("failure")
    assert failure is not None and failure.text is not None
    assert "step 2 expect_received" in (failure.get("message") or "")
    assert "status: expected 'Charging', got 'Available'" in failure.text

    data = json.loads((report / "bad.json").read_text())
    assert data["status"] == "failed" and data["title"] == "fails"
    assert [s["status"] for s in data["steps"]] == ["passed", "failed"]
    assert data["steps"][1]["where"] == f"{bad}:5"
    frames = [json.loads(line) for line in (report / data["frames_file"]).read_text().splitlines()]
    boots = [f for f in frames if f["message"][:1] == [2] and f["message"][2] == "BootNotification"]
    assert len(boots) == 1 and boots[0]["direction"] == "received"
    assert all(f["charger_time"] for f in frames)
    timeline = [
        json.loads(line) for line in (report / data["timeline_file"]).read_text().splitlines()
    ]
    sent_boot = [e for e in timeline if e["kind"] == "sent" and e["action"] == "BootNotification"]
    assert [e["uniqueId"] for e in sent_boot] == [boots[0]["message"][1]]
    assert any(e["kind"] == "session" and e["state"] == "Accepted" for e in timeline)
    assert json.loads((report / "good.json").read_text())["status"] == "passed"


def test_a_charger_that_never_connects_is_a_run_that_could_not_start(
    write_scenario: Callable[..., Path],
) -> None:
    path = write_scenario("timeout: 1\nsteps:\n  - expect_received: BootNotification\n")
    result = run(str(path), "--csms", "ws://127.0.0.1:9/ocpp")
    assert result.exit_code == 2, result.output
    assert "ERROR scenario" in result.stdout
    assert "the charger never connected: ws://127.0.0.1:9/ocpp/CP001:" in result.stdout


def test_a_skipped_scenario_is_shown_and_exits_2_unless_allowed(
    write_scenario: Callable[..., Path],
) -> None:
    """A scenario this setup cannot check (a PDP fault over the direct link) did not pass."""
    good = write_scenario(PASSING.replace("CP-PASS", "CP-SKIP-OK"), "good.yaml")
    pdp = write_scenario(
        "link: ec200u\nsteps:\n  - link_fault: pdp_deactivate\n  - expect_received: Heartbeat\n",
        "pdp.yaml",
    )
    result = run(str(good), str(pdp), "--link", "direct")
    assert result.exit_code == 2, result.output
    assert "SKIPPED pdp" in result.stdout
    assert "pdp_deactivate needs link ec200u; this run uses direct" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("1 passed, 0 failed, 1 skipped in ")
    assert "1 scenario(s) skipped, so not checked: exit 2 (--allow-skips" in result.stderr

    allowed = run(str(good), str(pdp), "--link", "direct", "--allow-skips")
    assert allowed.exit_code == 0, allowed.output
    assert "SKIPPED pdp" in allowed.stdout


def test_the_summary_line_says_what_arrived_and_strings_stay_strings(
    write_scenario: Callable[..., Path],
) -> None:
    path = write_scenario("""\
        name: never
        charger: {id: CP-NEVER-LINE, time_scale: 60}
        steps:
          - expect_never: Heartbeat
          - wait: {until: boot_accepted}
          - csms:
              call: ChangeConfiguration
              payload: {key: HeartbeatInterval, value: "15"}
              result: {status: Accepted}
          - wait: 1m
        """)
    result = run(str(path))
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    # the value is the string "15", as OCPP sends it, not the number 15
    assert any(
        "csms call ChangeConfiguration {key: HeartbeatInterval, value: '15'}" in line
        for line in lines
    ), result.stdout
    footer = next(line for line in lines if line.startswith("FAILED never"))
    # not cut at "received:": the message that broke the expectation is on the same line
    assert footer.endswith(
        f"step 1 expect_never ({path}:4): expected no Heartbeat, but the CSMS received: "
        f"#{footer.rsplit('#', 1)[1].split()[0]} Heartbeat {{}}"
    ), footer


def test_a_csms_url_with_a_query_is_a_usage_error(write_scenario: Callable[..., Path]) -> None:
    result = run(str(write_scenario(PASSING)), "--csms", "ws://127.0.0.1:9/ocpp?x=1")
    assert result.exit_code == 2
    assert "no ?query or #fragment" in result.stderr
