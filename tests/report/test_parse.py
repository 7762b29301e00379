"""The parsers: timeline, frame log, MeterValues payloads, AT trace lines and their place."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chargepoint.report.parse import (
    apply_frames,
    apply_timeline,
    at_trace_line,
    attach_at_lines,
    messages_from_timeline,
    meter_sample,
)
from chargepoint.report.records import AtTraceLine, ChargerRun, SequenceMessage

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


def frame(seconds: float, direction: str, message: Any) -> dict[str, Any]:
    return {
        "seq": 0,
        "time": at(seconds),
        "direction": direction,
        "charge_point": "CP1",
        "message": message,
    }


TIMELINE: list[dict[str, Any]] = [
    {"time": at(0), "kind": "link", "up": True},
    {"time": at(0), "kind": "sent", "action": "BootNotification", "uniqueId": "b1"},
    {"time": at(0.25), "kind": "received", "action": "BootNotification", "uniqueId": "b1"},
    {
        "time": at(1),
        "kind": "status",
        "connector": 1,
        "status": "Preparing",
        "errorCode": "NoError",
    },
    {"time": at(2), "kind": "meter", "connector": 1, "energyWh": 10.5, "powerW": 7400.0},
    {"time": at(3), "kind": "received", "action": "SetChargingProfile", "uniqueId": "s1"},
    {
        "time": at(3),
        "kind": "answered",
        "action": "SetChargingProfile",
        "uniqueId": "s1",
        "status": "Accepted",
    },
    {"time": at(4), "kind": "sent", "action": "Authorize", "uniqueId": "a1"},
    {
        "time": at(4.5),
        "kind": "received",
        "action": "Authorize",
        "uniqueId": "a1",
        "error": "InternalError",
    },
    {"time": "not a time", "kind": "status", "connector": 1, "status": "Faulted"},
]


def test_the_timeline_gives_states_meters_and_the_chargers_round_trips() -> None:
    run = ChargerRun("t")
    messages = apply_timeline(run, TIMELINE)

    assert [(s.connector, s.status) for s in run.statuses] == [(1, "Preparing")]
    assert run.meters[0].power_w == 7400.0 and run.meters[0].energy_wh == 10.5
    assert [(r.action, r.seconds, r.error) for r in run.round_trips] == [
        ("BootNotification", 0.25, False),
        ("Authorize", 0.5, True),
    ]
    assert run.link_up == T0
    assert run.end == T0 + timedelta(seconds=4.5)
    assert len(messages) == 6


def test_without_a_frame_log_the_diagram_comes_from_the_timeline() -> None:
    run = ChargerRun("t")
    arrows = messages_from_timeline(run, apply_timeline(run, TIMELINE))

    assert [(m.action, m.kind, m.from_charger) for m in arrows] == [
        ("BootNotification", "CALL", True),
        ("BootNotification", "RESULT", False),
        ("SetChargingProfile", "CALL", False),
        ("SetChargingProfile", "RESULT", True),
        ("Authorize", "CALL", True),
        ("Authorize", "ERROR", False),
    ]
    assert arrows[1].latency_s == 0.25
    assert arrows[3].body == '{"status":"Accepted"}'
    assert run.messages_total == 6


def test_the_diagram_keeps_the_first_messages_and_counts_the_rest() -> None:
    run = ChargerRun("t")
    arrows = messages_from_timeline(run, apply_timeline(run, TIMELINE), keep=2)
    assert [m.kind for m in arrows] == ["CALL", "RESULT"]
    assert run.messages_total == 6
    framed = ChargerRun("f")
    assert len(apply_frames(framed, FRAMES, keep=3)) == 3
    assert framed.messages_total == 8
    assert len(framed.round_trips) == 2  # all are still timed


FRAMES = [
    frame(0.1, "received", [2, "b1", "BootNotification", {"chargePointVendor": "v"}]),
    frame(0.2, "sent", [3, "b1", {"status": "Accepted", "interval": 300}]),
    frame(
        1.0,
        "received",
        [
            2,
            "n1",
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Charging"},
        ],
    ),
    frame(1.1, "sent", [3, "n1", {}]),
    frame(
        2.0,
        "sent",
        [2, "c1", "ChangeConfiguration", {"key": "AuthorizationKey", "value": "0123456789abcdef"}],
    ),
    frame(2.4, "received", [3, "c1", {"status": "Accepted"}]),
    frame(3.0, "sent", [2, "g1", "GetDiagnostics", {"location": "ftp://u:pw@host/x"}]),
    frame(3.5, "received", [4, "g1", "NotSupported", "no", {}]),
    frame(4.0, "received", "not OCPP"),
]


def test_the_frame_log_gives_payloads_and_the_csms_round_trips() -> None:
    run = ChargerRun("f")
    run.round_trips = []
    arrows = apply_frames(run, FRAMES)

    assert [(m.action, m.kind, m.from_charger) for m in arrows] == [
        ("BootNotification", "CALL", True),
        ("BootNotification", "RESULT", False),
        ("StatusNotification", "CALL", True),
        ("StatusNotification", "RESULT", False),
        ("ChangeConfiguration", "CALL", False),
        ("ChangeConfiguration", "RESULT", True),
        ("GetDiagnostics", "CALL", False),
        ("GetDiagnostics", "ERROR", True),
    ]
    # the CSMS's CALLs are timed on its clock; the charger's need its timeline
    assert [(r.action, r.seconds, r.error) for r in run.round_trips] == [
        ("ChangeConfiguration", pytest.approx(0.4), False),
        ("GetDiagnostics", pytest.approx(0.5), True),
    ]
    assert arrows[1].latency_s is None
    # a status from StatusNotification when the timeline has none
    assert [(s.connector, s.status) for s in run.statuses] == [(1, "Charging")]
    # no secret reaches the page
    assert "0123456789abcdef" not in arrows[4].body and "***" in arrows[4].body
    assert ":pw@" not in arrows[6].body


def test_with_a_timeline_the_chargers_calls_carry_its_own_round_trip() -> None:
    run = ChargerRun("both")
    apply_timeline(run, TIMELINE)
    arrows = apply_frames(run, FRAMES[:2])
    assert arrows[1].latency_s == 0.25


def test_a_meter_value_with_phases_units_and_the_default_measurand() -> None:
    value = {
        "timestamp": "2030-01-01T00:01:00Z",
        "sampledValue": [
            {"value": "1.5", "unit": "kWh"},  # no measurand: Energy.Active.Import.Register
            {"value": "3680", "measurand": "Power.Active.Import", "phase": "L1", "unit": "W"},
            {"value": "3680", "measurand": "Power.Active.Import", "phase": "L2", "unit": "W"},
            {"value": "16", "measurand": "Current.Import", "phase": "L1"},
            {"value": "15.5", "measurand": "Current.Import", "phase": "L2"},
            {"value": "11", "measurand": "Power.Offered", "unit": "kW"},
            {"value": "16", "measurand": "Current.Offered"},
            {"value": "42", "measurand": "SoC", "unit": "Percent"},
            {"value": "n/a", "measurand": "Voltage"},
        ],
    }
    sample = meter_sample(2, value, T0)

    assert sample is not None
    assert sample.time == T0 + timedelta(minutes=1)
    assert sample.connector == 2
    assert sample.energy_wh == 1500.0
    assert sample.power_w == 7360.0
    assert sample.current_a == 16.0
    assert sample.power_offered_w == 11000.0
    assert sample.current_offered_a == 16.0
    assert sample.soc == 42.0
    assert meter_sample(1, {"sampledValue": [{"value": "x"}]}, T0) is None


def test_meter_values_frames_become_samples() -> None:
    run = ChargerRun("m")
    apply_frames(
        run,
        [
            frame(
                60,
                "received",
                [
                    2,
                    "m1",
                    "MeterValues",
                    {
                        "connectorId": 1,
                        "meterValue": [
                            {
                                "timestamp": at(60),
                                "sampledValue": [{"value": "3700", "measurand": "Power.Offered"}],
                            }
                        ],
                    },
                ],
            )
        ],
    )
    assert [(m.connector, m.power_offered_w) for m in run.meters] == [(1, 3700.0)]


def test_an_at_trace_line_is_parsed_and_its_secrets_masked() -> None:
    line = at_trace_line(
        '2030-01-01 10:00:00.123 /dev/ttyUSB2 >> AT+QICSGP=1,1,"apn","user","s3cret",1'
    )
    assert line is not None
    assert line.direction == ">>"
    assert "s3cret" not in line.text and 'AT+QICSGP=1,1,"apn","user","***"' in line.text
    assert line.time == datetime(2030, 1, 1, 10, 0, 0, 123000).astimezone(UTC)
    assert at_trace_line("Traceback (most recent call last):") is None


def lines(*texts: tuple[float, str]) -> list[AtTraceLine]:
    return [AtTraceLine(T0 + timedelta(seconds=s), ">>", t) for s, t in texts]


def test_at_lines_go_beneath_the_message_they_carried() -> None:
    boot = SequenceMessage(T0 + timedelta(seconds=5), True, "CALL", "BootNotification", "b1")
    answer = SequenceMessage(T0 + timedelta(seconds=6), False, "RESULT", "BootNotification", "b1")
    trace = lines(
        (0, "AT+QIACT=1"),
        (2, 'AT+QIOPEN=1,0,"TCP","127.0.0.1",9000,0,0'),
        (4, "AT+QISEND=0,100"),
        # the host clock is 10 s behind the CSMS's: only the anchor places these
        (4.1, '[100 bytes] ws text 90: [2,"b1","BootNotification",{}]'),
        (4.5, "AT+QIRD=0,1500"),
        (4.6, '+QIRD: 40 [40 bytes] \\x81&[3,"b1",{"status":"Accepted"}]'),
        (7, "AT+QIRD=0,1500"),
    )
    before = attach_at_lines([boot, answer], trace, link_up=T0 + timedelta(seconds=3))

    assert [x.text for x in before] == ["AT+QIACT=1", 'AT+QIOPEN=1,0,"TCP","127.0.0.1",9000,0,0']
    assert [x.text[:10] for x in boot.at_lines] == ["AT+QISEND=", "[100 bytes"]
    assert [x.text[:10] for x in answer.at_lines] == ["AT+QIRD=0,", "+QIRD: 40 ", "AT+QIRD=0,"]


def test_without_anchors_at_lines_go_by_time() -> None:
    first = SequenceMessage(T0 + timedelta(seconds=1), True, "CALL", "Heartbeat", "h1")
    second = SequenceMessage(T0 + timedelta(seconds=3), False, "RESULT", "Heartbeat", "h1")
    before = attach_at_lines([first, second], lines((0, "AT"), (2, "AT+CSQ"), (4, "AT+QPING")))

    assert [x.text for x in before] == ["AT"]
    assert [x.text for x in first.at_lines] == ["AT+CSQ"]
    assert [x.text for x in second.at_lines] == ["AT+QPING"]
