"""Boot (§4.2) and heartbeat (§4.6), fed as events to the core: no socket, no clock."""

from __future__ import annotations

from chargepoint.core import events as ev

from .harness import Harness


def test_accepted_boot_reports_every_connector_then_heartbeats_on_a_grid() -> None:
    h = Harness(connectors=2)
    h.feed(ev.LinkUp())
    assert [c[2] for c in h.calls()] == ["BootNotification"]
    assert h.last_call()[3]["chargePointSerialNumber"] == "SN-1"
    h.answer({"status": "Accepted", "currentTime": h.iso(), "interval": 60})
    h.answer_all()
    statuses = [c[3]["connectorId"] for c in h.calls("StatusNotification")]
    assert statuses == [0, 1, 2]
    assert h.store.config["HeartbeatInterval"] == "60"
    start = h.now
    for _ in range(10):
        h.advance(60)
        h.answer_all()
    beats = h.calls("Heartbeat")
    assert len(beats) == 10
    sent_at = [e["time"] for e in h.timeline if e["kind"] == "sent" and e["action"] == "Heartbeat"]
    assert sent_at[0] == _iso(start + 60) and sent_at[-1] == _iso(start + 600)


def test_slow_heartbeat_answers_do_not_stretch_the_period() -> None:
    h = Harness()
    h.boot(interval=60)
    for _ in range(5):
        h.advance(60)
        h.advance(7)  # the CSMS takes 7 s to answer
        h.answer_all()
        h.advance(-7 + 0)  # no-op: time never goes back; the next deadline is on the grid
    times = [e["time"] for e in h.timeline if e["kind"] == "sent" and e["action"] == "Heartbeat"]
    assert len(times) == 5
    assert times[1] == _iso(_epoch(times[0]) + 60) or times[1] == _iso(_epoch(times[0]) + 67)


def test_pending_sends_nothing_but_what_is_triggered_then_boots_again() -> None:
    h = Harness()
    h.feed(ev.LinkUp())
    h.answer({"status": "Pending", "currentTime": h.iso(), "interval": 30})
    h.feed(ev.PlugIn(1))
    assert [c[2] for c in h.calls()] == ["BootNotification"]
    answer = h.csms_call("RemoteStartTransaction", {"idTag": "T1"})
    assert answer[2] == {"status": "Rejected"}
    answer = h.csms_call("TriggerMessage", {"requestedMessage": "Heartbeat"}, uid="t1")
    assert answer[2] == {"status": "Accepted"}
    assert h.last_call()[2] == "Heartbeat"
    h.answer({"currentTime": h.iso()})
    h.advance(30)
    assert h.last_call()[2] == "BootNotification"
    assert len(h.calls("BootNotification")) == 2


def test_rejected_answers_nothing_until_the_interval_passed() -> None:
    h = Harness()
    h.feed(ev.LinkUp())
    h.answer({"status": "Rejected", "currentTime": h.iso(), "interval": 120})
    before = len(h.sent)
    h.feed(ev.FrameReceived('[2,"x1","GetConfiguration",{}]'))
    assert len(h.sent) == before
    h.advance(119)
    assert len(h.calls("BootNotification")) == 1
    h.advance(1)
    assert len(h.calls("BootNotification")) == 2


def test_boot_without_an_answer_is_retried_after_ten_seconds() -> None:
    h = Harness()
    h.feed(ev.LinkUp())
    h.feed(ev.AnswerTimedOut(h.last_call()[1]))
    h.advance(9.9)
    assert len(h.calls("BootNotification")) == 1
    h.advance(0.1)
    assert len(h.calls("BootNotification")) == 2


def test_csms_clock_is_an_offset_and_never_moves_meter_values_back() -> None:
    h = Harness(config={"MeterValueSampleInterval": "60"})
    h.boot()
    h.feed(ev.PresentIdTag(1, "T1", "tok"))
    h.answer_all()
    h.advance(60)
    h.answer_all()
    h.advance(10)
    h.feed(ev.TimerFired("heartbeat"))  # a heartbeat whose answer says it is 1 h earlier
    h.answer({"currentTime": _iso(h.now - 3600)})
    h.advance(50)
    h.answer_all()
    stamps = [c[3]["meterValue"][0]["timestamp"] for c in h.calls("MeterValues")]
    assert stamps == sorted(stamps) and len(stamps) == 2
    h.feed(ev.StopCharging(1))
    h.answer_all()
    assert h.core.offset == -3600 or abs(h.core.offset + 3600) < 1


def _iso(t: float) -> str:
    from chargepoint.timefmt import format_epoch

    return format_epoch(t)


def _epoch(text: str) -> float:
    from chargepoint.timefmt import parse_epoch

    value = parse_epoch(text)
    assert value is not None
    return value
