"""Every kind of mistake names file:line:col and what was expected; the lines are asserted
whole, because the message is the interface a scenario author sees."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from chargepoint.core.config import Configuration
from chargepoint.scenario import ScenarioLoadError, load_scenario, parse_scenario


def problems(text: str) -> list[str]:
    with pytest.raises(ScenarioLoadError) as caught:
        parse_scenario(textwrap.dedent(text), "s.yaml")
    return [str(p) for p in caught.value.problems]


def test_yaml_syntax_error_points_where_the_parser_stopped() -> None:
    assert problems("""\
        steps:
          - send: {action: Heartbeat
          - wait: 5
        """) == [
        "s.yaml:3:9: expected ',' or '}', but got ':' (while parsing a flow mapping, "
        "which starts at line 2, column 11)"
    ]


def test_duplicate_key_is_an_error() -> None:
    assert problems("""\
        charger:
          id: A
          id: B
        steps: [wait: 1]
        """) == [
        's.yaml:3:3: found duplicate key "id" with value "B" (original value: "A") '
        "(while constructing a mapping, which starts at line 2, column 3)"
    ]


def test_unknown_key_points_at_the_key_and_suggests() -> None:
    assert problems("""\
        charger:
          idd: CP-1
        steps: [wait: 1]
        """) == [
        "s.yaml:2:3: charger.idd: unknown key 'idd'; did you mean id? (expected id, "
        "connectors, vendor, model, serial, firmware, feature_profiles, configuration, password, "
        "security_profile, time_scale, start_time)"
    ]


def test_wrong_type_points_at_the_value() -> None:
    assert problems("""\
        charger:
          connectors: two
        steps: [wait: 1]
        """) == ["s.yaml:2:15: charger.connectors: expected an integer, got 'two'"]


def test_unknown_action_suggests_the_closest() -> None:
    assert problems("""\
        steps:
          - send: {action: StatusNotificaton, payload: {}}
          - expect_call: Rest
        """) == [
        "s.yaml:2:20: steps[0].send.action: unknown charge-point action 'StatusNotificaton'; "
        "did you mean StatusNotification?",
        "s.yaml:3:18: steps[1].expect_call: unknown CSMS action 'Rest'; did you mean Reset?",
    ]


def test_an_action_of_the_other_side_says_where_it_belongs() -> None:
    assert problems("steps:\n  - send: Reset\n") == [
        "s.yaml:2:11: steps[0].send: Reset is sent by the CSMS, not by the charger "
        "(use `csms: {call: ...}` or `expect_call`)"
    ]


def test_bad_ocpp_payload_fields_are_found_at_load_time() -> None:
    assert problems("""\
        steps:
          - send:
              action: StatusNotification
              payload: {connectorId: 1, errorCode: NoError, status: Charing}
          - send:
              action: Authorize
              payload:
                idtag: TAG-1
          - csms: {call: Reset}
        """) == [
        "s.yaml:4:61: steps[0].send.payload.status: 'Charing' is not allowed here; did you mean "
        "Charging? (expected one of Available, Preparing, Charging, SuspendedEVSE, SuspendedEV, "
        "Finishing, Reserved, Unavailable, Faulted)",
        "s.yaml:7:7: steps[1].send.payload: missing required field 'idTag' in Authorize",
        "s.yaml:8:9: steps[1].send.payload.idtag: unknown field 'idtag' in Authorize; did you "
        "mean idTag? (expected idTag)",
        "s.yaml:9:5: steps[2].csms: missing required field 'type' in Reset",
    ]


def test_matchers_are_checked_against_the_schema_too() -> None:
    assert problems("""\
        steps:
          - expect_received:
              action: StatusNotification
              payload: {conectorId: 1, status: {$in: [Charging, Suspended]}}
        """) == [
        "s.yaml:4:17: steps[0].expect_received.payload.conectorId: unknown field 'conectorId' in "
        "StatusNotification; did you mean connectorId? (expected connectorId, errorCode, info, "
        "status, timestamp, vendorId, vendorErrorCode)",
        "s.yaml:4:57: steps[0].expect_received.payload.status.$in[1]: 'Suspended' is not allowed "
        "here; did you mean SuspendedEV? (expected one of Available, Preparing, Charging, "
        "SuspendedEVSE, SuspendedEV, Finishing, Reserved, Unavailable, Faulted)",
    ]


def test_bad_matchers() -> None:
    assert problems("""\
        steps:
          - expect_received: {action: Authorize, payload: {idTag: $presnt}}
          - expect_received: {action: Authorize, payload: {idTag: {$regex: '('}}}
        """) == [
        "s.yaml:2:59: steps[0].expect_received.payload.idTag: unknown matcher '$presnt'; did you "
        "mean $present? (expected one of $any, $present, $absent; write {$eq: '$presnt'} for the "
        "literal string)",
        "s.yaml:3:68: steps[1].expect_received.payload.idTag.$regex: bad regular expression '(': "
        "missing ), unterminated subpattern at position 0",
    ]


def test_unknown_step_kind_suggests_one() -> None:
    assert problems("steps:\n  - sned: Heartbeat\n") == [
        "s.yaml:2:5: steps[0].sned: unknown step 'sned'; did you mean send? (expected one of "
        "send, expect_call, csms, expect_received, expect_unordered, expect_never, plug_in, "
        "unplug, present_tag, start_charging, stop_charging, suspend, set_ev, fault, clear_fault, "
        "wait, link_fault, offer_firmware, expect_connection)"
    ]


def test_a_forgotten_dash_is_explained() -> None:
    assert problems("steps:\n  - plug_in: 1\n    wait: 5\n") == [
        "s.yaml:3:5: steps[0].wait: a step has one key, the step kind; 'wait' is a second one "
        "(indent it under plug_in, or start a new step with '- ')"
    ]


def test_link_type_and_fault_mismatch() -> None:
    assert problems("link: ec200\nsteps: [wait: 1]\n") == [
        "s.yaml:1:7: link: unknown type 'ec200'; did you mean ec200u? (expected one of direct, "
        "ec200u, esp-at)"
    ]
    assert problems("steps:\n  - link_fault: pdp_deactivate\n") == [
        "s.yaml:2:17: steps[0].link_fault: pdp_deactivate needs link ec200u; this run uses direct"
    ]


def test_cross_section_checks() -> None:
    assert problems("""\
        charger: {connectors: 2}
        csms: ws://csms.example.com/ocpp
        steps:
          - plug_in: 3
          - csms: {call: ClearCache}
        """) == [
        "s.yaml:4:14: steps[0].plug_in: connector 3 does not exist (the charger has 2)",
        "s.yaml:5:5: steps[1].csms: csms steps steer the local CSMS; this run uses "
        "ws://csms.example.com/ocpp",
    ]


def test_configuration_keys_and_durations() -> None:
    assert problems("""\
        charger:
          configuration: {HeartbeatIntervall: 60, NumberOfConnectors: 2}
        steps:
          - wait: soon
        """) == [
        "s.yaml:2:19: charger.configuration.HeartbeatIntervall: unknown configuration key "
        "'HeartbeatIntervall'; did you mean HeartbeatInterval?",
        "s.yaml:2:43: charger.configuration.NumberOfConnectors: NumberOfConnectors follows "
        "`connectors:`; set that instead",
        "s.yaml:4:11: steps[0].wait: expected a duration in seconds (30, 0.5) or with units "
        "(90s, 15m, 2h, 1h30m), got 'soon'",
    ]


def test_not_a_scenario() -> None:
    assert problems("") == [
        "s.yaml:1:1: expected a scenario: a mapping with charger, link, "
        "csms and steps; the file is empty"
    ]
    assert problems("charger: {id: X}\n") == ["s.yaml:1:1: missing required key 'steps'"]


def test_file_errors_name_the_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("steps:\n  - send: Heartbeet\n")
    with pytest.raises(ScenarioLoadError) as caught:
        load_scenario(path)
    assert str(caught.value) == (
        f"{path}:2:11: steps[0].send: unknown charge-point action "
        "'Heartbeet'; did you mean Heartbeat?"
    )
    with pytest.raises(ScenarioLoadError) as caught:
        load_scenario(tmp_path / "missing.yaml")
    missing = tmp_path / "missing.yaml"
    assert str(caught.value) == f"{missing}:1:1: cannot read: No such file or directory"


def test_a_suspension_is_by_the_charger_or_by_the_ev() -> None:
    """``by: ev`` pauses the EV model (SuspendedEV); a near miss gets a suggestion."""
    assert problems("""\
        steps:
          - suspend: {connector: 1, by: EV}
          - suspend: {by: EVSE}
        """) == [
        "s.yaml:2:33: steps[0].suspend.by: unknown suspension 'EV'; did you mean ev?",
        "s.yaml:3:19: steps[1].suspend.by: unknown suspension 'EVSE'; did you mean evse?",
    ]
    by_ev = parse_scenario("steps:\n  - suspend: {by: ev}\n").steps[0].spec
    assert by_ev.model_dump() == {"connector": 1, "by": "ev"}
    suspend = parse_scenario("steps:\n  - suspend: 1\n").steps[0].spec
    assert suspend.model_dump() == {"connector": 1, "by": "evse"}  # what the station does


REFUSED_BY_THE_STATION = [
    ("MinimumStatusDuration", "5"),  # OCPP keys the station does not implement
    ("SecurityProfile", "4"),  # the whitepaper's are 0 to 3 (and security_profile: sets it)
    ("HeartbeatInterval", "0"),  # values its own checks refuse
    ("MeterValuesSampledData", "Energy.Bogus"),
    ("MeterValuesSampledData", "Temperature"),  # a measurand this charger does not measure
    ("ConnectorPhaseRotation", "3.RST"),  # this charger has 2 connectors
]


@pytest.mark.parametrize("key,value", REFUSED_BY_THE_STATION)
def test_validate_refuses_the_configuration_the_station_refuses(key: str, value: str) -> None:
    with pytest.raises((KeyError, ValueError)):  # what a run would meet when the charger starts
        Configuration(2, None, {key: value})
    (problem,) = problems(
        f"charger:\n  connectors: 2\n  configuration: {{{key}: {value}}}\nsteps: [wait: 1]\n"
    )
    assert problem.startswith("s.yaml:3:") and f"charger.configuration.{key}: " in problem


def test_configuration_problems_say_what_is_wrong() -> None:
    settable = [
        k
        for k in Configuration(1).specs
        if k not in ("NumberOfConnectors", "AuthorizationKey", "SecurityProfile")
    ]
    assert problems("""\
        charger:
          configuration:
            MinimumStatusDuration: 5
            HeartbeatInterval: 0
            VendorFoo: 1
        steps: [wait: 1]
        """) == [
        "s.yaml:3:5: charger.configuration.MinimumStatusDuration: MinimumStatusDuration is an "
        "OCPP 1.6 key the simulated charger does not implement",
        "s.yaml:4:24: charger.configuration.HeartbeatInterval: HeartbeatInterval cannot be '0': "
        "must be at least 1",
        "s.yaml:5:5: charger.configuration.VendorFoo: unknown configuration key 'VendorFoo' "
        f"(the charger's keys: {', '.join(settable)})",
    ]


def test_an_unknown_key_does_not_hide_the_other_errors_of_its_mapping() -> None:
    assert problems("""\
        charger:
          connectors: 0
          conectors: 2
          configuration: {HeartbeatIntervall: 30}
        steps:
          - send: {action: Heartbeet, withn: 5}
          - plug_in: {connector: 0, force: true}
        """) == [
        "s.yaml:2:15: charger.connectors: expected greater than or equal to 1, got 0",
        "s.yaml:3:3: charger.conectors: unknown key 'conectors'; did you mean connectors? "
        "(expected id, connectors, vendor, model, serial, firmware, feature_profiles, "
        "configuration, password, security_profile, time_scale, start_time)",
        "s.yaml:4:19: charger.configuration.HeartbeatIntervall: unknown configuration key "
        "'HeartbeatIntervall'; did you mean HeartbeatInterval?",
        "s.yaml:6:20: steps[0].send.action: unknown charge-point action 'Heartbeet'; did you "
        "mean Heartbeat?",
        "s.yaml:6:31: steps[0].send.withn: unknown key 'withn'; did you mean within? (expected "
        "action, payload, connector, result, error, within)",
        "s.yaml:7:26: steps[1].plug_in.connector: expected greater than or equal to 1, got 0",
        "s.yaml:7:29: steps[1].plug_in.force: unknown key 'force' (expected connector)",
    ]


def test_a_charger_id_the_url_cannot_carry_is_refused_as_cpsim_run_refuses_it(tmp_path) -> None:
    path = tmp_path / "id.yaml"
    path.write_text('charger: {id: "CP/1"}\nsteps: [wait: 1]\n')
    with pytest.raises(ScenarioLoadError) as info:
        load_scenario(path)
    assert f"{path}:1:15: charger.id: the charge-point id 'CP/1' contains '/'" in str(info.value)


def test_a_csms_url_the_charger_cannot_use_is_refused_at_load(tmp_path) -> None:
    path = tmp_path / "url.yaml"
    path.write_text('csms: {url: "ws://csms.example:99999/ocpp"}\nsteps: [wait: 1]\n')
    with pytest.raises(ScenarioLoadError) as info:
        load_scenario(path)
    assert "csms.url: 'ws://csms.example:99999/ocpp': Port out of range" in str(info.value)


def test_a_key_of_a_profile_the_charger_leaves_out_is_named() -> None:
    assert problems("""\
        charger:
          feature_profiles: [Core, RemoteTrigger]
          configuration: {ChargingScheduleMaxPeriods: 4}
        steps: [wait: 1]
        """) == [
        "s.yaml:3:19: charger.configuration.ChargingScheduleMaxPeriods: "
        "ChargingScheduleMaxPeriods belongs to the SmartCharging feature profile, "
        "which charger.feature_profiles leaves out"
    ]
    (problem,) = problems("charger:\n  feature_profiles: [Core, Smart]\nsteps: [wait: 1]\n")
    assert "charger.feature_profiles[1]: expected" in problem and "got 'Smart'" in problem
