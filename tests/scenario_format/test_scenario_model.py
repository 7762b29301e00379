"""The model the runner consumes: short forms, YAML 1.2, positions, checks against run options."""

from __future__ import annotations

import textwrap

import pytest

from chargepoint.scenario import (
    Csms,
    Ec200uLinkConfig,
    MissingEnv,
    Scenario,
    expand_env,
    parse_scenario,
)
from chargepoint.scenario.events import PresentTag, Wait
from chargepoint.scenario.messages import CsmsAnswer, CsmsCall, Send
from chargepoint.scenario.steps import SendStep, WaitStep


def load(text: str) -> Scenario:
    return parse_scenario(textwrap.dedent(text), "s.yaml")


def test_short_forms_equal_long_forms() -> None:
    short = load("""\
        link: ec200u
        csms: ws://csms.example.com/ocpp
        steps:
          - send: Heartbeat
          - plug_in: 2
          - wait: 1h30m
          - expect_never: Heartbeat
          - expect_unordered: [Heartbeat, {action: Authorize}]
          - link_fault: drop_tcp
        charger: {connectors: 2}
        """)
    long = load("""\
        link: {type: ec200u, port: emulator, apn: {name: internet}}
        csms: {url: ws://csms.example.com/ocpp}
        steps:
          - send: {action: Heartbeat}
          - plug_in: {connector: 2}
          - wait: {seconds: 5400}
          - expect_never: {action: [Heartbeat]}
          - expect_unordered: {messages: [{action: Heartbeat}, {action: Authorize}]}
          - link_fault: {kind: drop_tcp}
        charger: {connectors: 2}
        """)
    assert short.model_dump() == long.model_dump()
    assert isinstance(short.link, Ec200uLinkConfig) and short.link.apn.name == "internet"


def test_yaml_1_2_and_plain_payloads() -> None:
    scenario = load("""\
        charger:
          configuration: {HeartbeatInterval: 60, LocalPreAuthorize: &yes true,
                          LocalAuthorizeOffline: *yes}
        steps:
          - present_tag: NO
          - send:
              action: StatusNotification
              payload: {connectorId: 1, errorCode: NoError, status: Available,
                        timestamp: 2024-01-01T00:00:00Z}
        """)
    tag, send = (step.spec for step in scenario.steps)
    assert isinstance(tag, PresentTag) and tag.id_tag == "NO"  # YAML 1.1 would say False
    assert isinstance(send, Send) and send.payload is not None
    assert send.payload["timestamp"] == "2024-01-01T00:00:00Z"  # a string, as on the wire
    assert type(send.payload) is dict and type(send.payload["connectorId"]) is int
    assert scenario.charger.configuration == {
        "HeartbeatInterval": "60",
        "LocalPreAuthorize": "true",
        "LocalAuthorizeOffline": "true",
    }


def test_steps_know_where_they_are_and_describe_themselves() -> None:
    scenario = load("""\
        steps:
          - wait: 5
          - csms:
              call: TriggerMessage
              payload: {requestedMessage: Heartbeat}
              result: {status: Accepted}
        """)
    wait, trigger = scenario.steps
    assert str(wait.where) == "s.yaml:2:5" and str(trigger.where) == "s.yaml:3:5"
    assert wait.describe() == "wait 5"
    assert trigger.describe() == (
        "csms {call: TriggerMessage, payload: {requestedMessage: "
        "Heartbeat}, result: {status: Accepted}}"
    )
    assert isinstance(trigger.spec, CsmsCall) and trigger.spec.result is not None
    assert trigger.spec.result.matches({"status": "Accepted"})


def test_timeouts_are_bounded_by_default() -> None:
    scenario = load(
        "timeout: 2m\nsteps:\n  - expect_received: Heartbeat\n"
        "  - expect_received: {action: Heartbeat, within: 5}\n"
    )
    assert [scenario.timeout_of(s) for s in scenario.steps] == [120.0, 5.0]


def test_csms_steps_are_call_or_answer() -> None:
    scenario = load("""\
        csms:
          answers: [{answer: BootNotification, result: {status: Pending}}]
        steps:
          - csms: {answer: Authorize, result: {idTagInfo: {status: Blocked}}, times: 1}
          - csms: {answer: MeterValues, error: InternalError}
        """)
    assert scenario.csms.answers[0].result == {"status": "Pending"}
    answer = scenario.steps[0].spec
    assert isinstance(answer, CsmsAnswer) and answer.times == 1
    error = scenario.steps[1].spec
    assert isinstance(error, CsmsAnswer) and error.error is not None
    assert error.error.code == "InternalError"


def test_run_options_are_checked_again() -> None:
    scenario = load("steps:\n  - csms: {call: ClearCache}\n  - link_fault: drop_tcp\n")
    assert scenario.conflicts() == []
    remote = scenario.conflicts(csms=Csms(url="ws://elsewhere/ocpp"))
    assert [(p.path, p.message) for p in remote] == [
        (("steps", 0, "csms"), "csms steps steer the local CSMS; this run uses ws://elsewhere/ocpp")
    ]
    real_port = scenario.conflicts(link=Ec200uLinkConfig(type="ec200u", port="/dev/ttyUSB2"))
    assert [p.message for p in real_port] == [
        "drop_tcp is done by the modem emulator; this run uses the real port /dev/ttyUSB2"
    ]


def test_models_can_be_built_in_python() -> None:
    scenario = Scenario(
        steps=[SendStep(send=Send(action="Heartbeat")), WaitStep(wait=Wait(seconds=1))]
    )
    assert [s.kind for s in scenario.steps] == ["send", "wait"]
    assert scenario.title == "scenario"


def test_secrets_come_from_the_environment() -> None:
    scenario = load("charger: {password: '${CPSIM_PASSWORD}'}\nsteps: [wait: 1]\n")
    assert scenario.charger.password == "${CPSIM_PASSWORD}"  # kept until the run starts
    assert expand_env(scenario.charger.password, {"CPSIM_PASSWORD": "s3cret"}) == "s3cret"
    assert expand_env("a$$b${X}", {"X": "c"}) == "a$bc"
    with pytest.raises(MissingEnv, match="CPSIM_PASSWORD"):
        expand_env(scenario.charger.password, {})


def test_time_scale() -> None:
    assert load("charger: {time_scale: virtual}\nsteps: [wait: 1]\n").charger.time_scale == (
        "virtual"
    )
    assert load("charger: {time_scale: 3600}\nsteps: [wait: 1]\n").charger.time_scale == 3600.0
