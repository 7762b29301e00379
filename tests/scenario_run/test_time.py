"""The time scale (a speed-up), timing checks in charger time, and waits that always end: a
step's timeout, the scenario's time_limit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from chargepoint.cli.scenario import scenario
from chargepoint.scenario import load_scenario
from chargepoint.scenario.config import Ec200uLinkConfig
from chargepoint.scenario.linkfactory import unavailable_reason
from chargepoint.scenario.report import ScenarioResult, render, step_line
from chargepoint.scenario.runner import RunError, RunOptions, plan
from chargepoint.scenario.timebase import TimeBase, timing_warnings

from .frames import answer_to, received


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_two_hours_of_heartbeats_in_virtual_time(run_text: Callable[..., Any]) -> None:
    """``virtual``: the loop jumps over idle time; every heartbeat lands on its grid."""
    result = await run_text("""\
        charger: {id: CP-VIRTUAL, time_scale: virtual, start_time: "2030-01-01T00:00:00Z"}
        csms:
          answers:
            - {answer: BootNotification, result: {status: Accepted, interval: 600}}
        steps:
          - wait: {until: boot_accepted}
          - wait: 2h
        """)
    assert result.status == "passed", result.reason
    assert result.time_scale == "virtual"
    # The CSMS runs on the scenario's clock: its answers carry charger time.
    boot_time = when(
        answer_to(result, received(result, "BootNotification")[0])["message"][2]["currentTime"]
    )
    assert boot_time == when("2030-01-01T00:00:00Z")
    beats = [
        when(answer_to(result, hb)["message"][2]["currentTime"])
        for hb in received(result, "Heartbeat")
    ]
    assert [(b - boot_time).total_seconds() for b in beats] == [600.0 * k for k in range(1, 13)]
    statuses = [when(f["message"][3]["timestamp"]) for f in received(result, "StatusNotification")]
    assert statuses and all(t == boot_time for t in statuses)


async def test_a_number_is_a_real_time_speed_up(run_text: Callable[..., Any]) -> None:
    result = await run_text("""\
        charger: {time_scale: 3600, start_time: "2030-01-01T00:00:00Z"}
        csms:
          answers:
            - {answer: BootNotification, result: {status: Accepted, interval: 600}}
        steps:
          - wait: {until: boot_accepted}
          - wait: 1h
        """)
    assert result.status == "passed", result.reason
    assert result.time_scale == 3600
    assert 5 <= len(received(result, "Heartbeat")) <= 6


async def test_waiting_for_what_never_comes_fails_at_the_default_timeout(
    run_text: Callable[..., Any],
) -> None:
    async with asyncio.timeout(30):  # bounded: the scenario must end by itself long before
        result = await run_text("""\
            charger: {time_scale: 60}
            steps:
              - wait: {until: boot_accepted}
              - expect_received: DataTransfer
              - expect_received: Heartbeat
            """)
    assert result.status == "failed"
    assert [s.status for s in result.steps] == ["passed", "failed"]
    failed = result.steps[1]
    assert failed.details[0] == "no DataTransfer within 30s (waited 0.50s real)"
    assert failed.details[1].startswith("no DataTransfer arrived; the charger sent: ")
    assert failed.charger_seconds >= 30


async def test_a_step_timeout_at_real_time(run_text: Callable[..., Any]) -> None:
    async with asyncio.timeout(30):
        result = await run_text("""\
            timeout: 1
            steps:
              - wait: {until: transaction_started}
            """)
    assert result.status == "failed"
    assert result.steps[0].details == ["transaction_started did not happen within 1s"]
    assert result.steps[0].real_seconds >= 1


async def test_time_limit_ends_a_long_run(run_text: Callable[..., Any]) -> None:
    async with asyncio.timeout(30):
        result = await run_text("""\
            time_limit: 1
            steps:
              - wait: {until: boot_accepted}
              - wait: 1h
              - expect_received: Heartbeat
            """)
    assert result.status == "failed"
    assert [s.status for s in result.steps] == ["passed", "failed"]
    assert result.steps[1].details == [
        "the scenario's time_limit (1.00s real time) ran out during this step"
    ]


def test_time_base_waits_never_shrink_below_the_links_allowance() -> None:
    fast = TimeBase(3600, allowance=0.5)
    assert fast.real(7200) == 2.0
    assert fast.window(30) == 0.5  # 30 s at 3600x would be 8 ms
    assert fast.window(0.1) == 0.1  # but a step asking for less gets less
    assert fast.window(7200) == 2.0
    assert TimeBase(1).window(30) == 30
    assert TimeBase(30).tolerance == 1.5  # the event loop's jitter, in charger time
    virtual = TimeBase(1, allowance=0.5, virtual=True)
    assert virtual.tolerance == 0  # no jitter: timing checks are exact
    assert virtual.window(30) == 30.5  # a message sent at the limit still has time to arrive


WRONG_INTERVAL = """\
    charger: {id: CP-HB45, time_scale: 30}
    steps:
      - wait: {until: boot_accepted}
      - csms:
          call: ChangeConfiguration
          payload: {key: HeartbeatInterval, value: "45"}
          result: {status: Accepted}
      # the scenario claims 25 s; the charger heartbeats every 45 s
      - expect_received: {action: Heartbeat, within: 25s}
    """


@pytest.mark.parametrize("link", ["ec200u", "esp-at"])
async def test_within_is_judged_where_the_charger_sent_not_stretched_by_the_modem(
    run_text: Callable[..., Any], link: str
) -> None:
    """Over a modem a waiting step gets 5 s real (150 s at x30) for the message to arrive,
    but the verdict is when the charger sent it: 45 s after the step began, not within 25 s."""
    result = await run_on(run_text, WRONG_INTERVAL, link)
    assert result.status == "failed", render(result)
    step = result.steps[-1]
    assert step.details[0].startswith(
        "Heartbeat arrived, but not within 25s: the charger sent it 4"
    ), step.details
    assert step.sent_after is not None and 40 <= step.sent_after <= 50
    assert "(sent at +4" in step_line(step, result.time_scale)


@pytest.mark.parametrize("link", ["direct", "ec200u", "esp-at"])
async def test_expect_never_over_each_link_says_when_the_charger_sent_it(
    run_text: Callable[..., Any], link: str
) -> None:
    result = await run_on(
        run_text,
        """\
        charger: {id: CP-HB-NEVER, time_scale: 30}
        csms: {answers: [{answer: BootNotification, result: {status: Accepted, interval: 15}}]}
        steps:
          - expect_received: Heartbeat
          - expect_never: {action: Heartbeat, during: 12s}
          - expect_never: {action: Heartbeat, during: 8s}  # the next one comes at +3 s
        """,
        link,
    )
    assert result.status == "failed", render(result)
    assert [s.status for s in result.steps] == ["passed", "passed", "failed"]
    assert (
        result.steps[-1]
        .details[0]
        .startswith("expected no Heartbeat for 8s, but the CSMS received (sent at +")
    )


async def run_on(run_text: Callable[..., Any], text: str, link: str) -> ScenarioResult:
    try:
        result: ScenarioResult = await run_text(text, link=link)
    except RunError as exc:
        if exc.unavailable:
            pytest.skip(str(exc))
        raise
    return result


def test_timing_warnings_when_the_scale_makes_latency_or_jitter_large() -> None:
    assert timing_warnings(TimeBase(30), 0.035, (10, "f.yaml:9")) == []  # 1 s and 1.5 s of 10
    assert timing_warnings(TimeBase(30), 0.035, None) == []  # nothing timed
    slow, coarse = timing_warnings(TimeBase(3600), 0.035, (60, "f.yaml:9"))
    assert slow.startswith("at x3600 the link's round trip (35 ms real) is 126.0s of charger time")
    assert "(60s at f.yaml:9)" in slow
    assert coarse.startswith("at x3600 timing checks are only accurate to 180.0s")


def test_a_run_warns_when_its_scale_is_too_coarse_for_its_checks(
    write_scenario: Callable[..., Any],
) -> None:
    path = write_scenario("""\
        charger: {id: CP-COARSE, time_scale: 3600}
        link: ec200u
        steps:
          - expect_received: BootNotification
          - expect_never: {action: DataTransfer, during: 60s}
        """)
    if unavailable_reason(Ec200uLinkConfig(type="ec200u")):
        pytest.skip("no ec200u link in this build")
    result = CliRunner().invoke(scenario, ["run", str(path)])
    assert result.exit_code == 0, result.output  # a warning, not a failure
    warnings = [line for line in result.stdout.splitlines() if "! warning:" in line]
    assert len(warnings) == 2, result.stdout
    assert "the link's round trip" in warnings[0] and f"(60s at {path}:5:5)" in warnings[0]
    assert "timing checks are only accurate to 180.0s" in warnings[1]


# --- virtual time: timing checks are exact ---------------------------------------------------

EVERY_60S = """\
    charger: {id: CP-EXACT, time_scale: virtual}
    csms: {answers: [{answer: BootNotification, result: {status: Accepted, interval: 60}}]}
    timeout: 2m
    steps:
      # answered: the next Heartbeat goes out at exactly +60 s from this step's end
      - expect_received: Heartbeat
      - %s
    """


@pytest.mark.parametrize(
    "check,failure",
    [
        # the audit's case: a Heartbeat at +60.00 s is inside 60.04 s, with no tolerance
        (
            "expect_never: {action: Heartbeat, during: 60.04s}",
            "expected no Heartbeat for 60.04s, but the CSMS received "
            "(sent at +60.0s charger time):",
        ),
        # the window includes its last instant
        (
            "expect_never: {action: Heartbeat, during: 60s}",
            "expected no Heartbeat for 1m, but the CSMS received (sent at +60.0s charger time):",
        ),
        ("expect_never: {action: Heartbeat, during: 59.999s}", None),
        # a message sent at exactly the limit is in time
        ("expect_received: {action: Heartbeat, within: 60s}", None),
        (
            "expect_received: {action: Heartbeat, within: 59.999s}",
            "Heartbeat arrived, but not within 59.999s: the charger sent it 60.0s after this "
            "step began (charger time)",
        ),
    ],
)
async def test_virtual_time_checks_are_exact_with_both_ends_included(
    run_text: Callable[..., Any], check: str, failure: str | None
) -> None:
    result = await run_text(EVERY_60S % check)
    assert result.status == ("failed" if failure else "passed"), render(result)
    beats = received(result, "Heartbeat")
    if len(beats) == 2:  # the check saw the next one: it was sent exactly 60 s later
        sent = [when(beat["at_charger"]) for beat in beats]
        assert sent[1] - sent[0] == timedelta(seconds=60)
    step = result.steps[-1]
    if check.startswith("expect_received"):
        assert step.sent_after == 60.0
        assert step_line(step, "virtual").splitlines()[0].endswith("(sent at +60.0s)")
    if failure is not None:
        assert step.details[0] == failure
    else:
        assert step.details == []


PENDING_FOR_AN_HOUR = """\
    charger: {id: CP-UNTIL, time_scale: virtual}
    csms:
      answers:
        - {answer: BootNotification, result: {status: Pending, interval: 3600}, times: 1}
    steps:
      # answered Pending: the charger boots again 1 h after it got this answer
      - expect_received: BootNotification
      - wait: 5ms  # off any polling grid
      - wait: {until: boot_accepted, within: %s}
    """


async def test_an_until_in_virtual_time_ends_in_the_instant_of_the_change(
    run_text: Callable[..., Any],
) -> None:
    result = await run_text(PENDING_FOR_AN_HOUR % "2h")
    assert result.status == "passed", render(result)
    boots = received(result, "BootNotification")
    assert len(boots) == 2
    waited = result.steps[2].charger_seconds
    assert waited == pytest.approx(3599.995, abs=1e-5), waited


@pytest.mark.parametrize("within,verdict", [("3599.995s", "passed"), ("3599.994s", "failed")])
async def test_an_until_in_virtual_time_is_judged_exactly(
    run_text: Callable[..., Any], within: str, verdict: str
) -> None:
    result = await run_text(PENDING_FOR_AN_HOUR % within)
    assert result.status == verdict, render(result)
    if verdict == "failed":
        assert result.steps[2].details == [
            f"boot_accepted did not happen within {within}",
            "the charger's boot is Pending",
        ]


async def test_a_link_fault_keeps_the_network_down_for_its_charger_time(
    run_text: Callable[..., Any],
) -> None:
    result = await run_text("""\
        charger: {id: CP-DOWN, time_scale: virtual}
        steps:
          - wait: {until: boot_accepted}
          - link_fault: {kind: drop_tcp, duration: 10m}
          - wait: {until: disconnected}
          - wait: {until: connected, within: 15m}
          - expect_received: BootNotification
        """)
    assert result.status == "passed", render(result)
    down = sum(s.charger_seconds for s in result.steps[1:4])
    assert 600 <= down <= 602, [s.charger_seconds for s in result.steps]


def test_virtual_time_refuses_a_modem_in_another_process(
    write_scenario: Callable[..., Any],
) -> None:
    """A separate `cpsim modem emulate` (or a real modem) lives in real time: the run would
    jump over what it is doing, and fail with a misleading modem error."""
    if unavailable_reason(Ec200uLinkConfig(type="ec200u")):
        pytest.skip("no ec200u link in this build")
    path = write_scenario("""\
        charger: {time_scale: 60}
        link: {type: ec200u, port: "socket://127.0.0.1:9351"}
        steps:
          - wait: {until: boot_accepted}
        """)
    expected = (
        f"{path}: time_scale: virtual needs everything in this process, the local CSMS and a "
        "modem on port: emulator (a modem on socket://127.0.0.1:9351 lives in real time); "
        "use a number, e.g. time_scale: 60"
    )
    with pytest.raises(RunError) as refused:
        plan(load_scenario(path), RunOptions(time_scale="virtual"))
    assert str(refused.value) == expected
    assert plan(load_scenario(path), RunOptions()).scale == 60  # as written it runs

    result = CliRunner().invoke(scenario, ["run", str(path), "--time-scale", "virtual"])
    assert result.exit_code == 2, result.output
    assert "ERROR scenario" in result.stdout and expected in result.stdout
