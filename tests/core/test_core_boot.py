"""Boot (§4.2), heartbeat (§4.6) and the CSMS's clock (§4.2, §4.6), fed to the core as
events: no socket, no wall clock."""

from __future__ import annotations

import pytest

from chargepoint.core import events as ev

from .harness import Harness, iso


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
    assert h.sent_times("Heartbeat") == [start + 60 * k for k in range(1, 11)]


def test_slow_heartbeat_answers_do_not_stretch_the_period() -> None:
    h = Harness()
    h.boot(interval=60)
    booted = h.now
    h.advance(60)
    for _ in range(5):
        h.advance(7)  # the CSMS answers each Heartbeat 7 s after it was sent
        h.answer({"currentTime": h.iso()})
        h.advance(53)
    assert h.sent_times("Heartbeat") == [booted + 60 * k for k in range(1, 7)]


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


# --- the CSMS's clock (§4.2, §4.6) -------------------------------------------------------


def test_csms_time_is_an_offset_on_timestamps_never_on_timers() -> None:
    h = Harness()
    t = h.now
    h.feed(ev.LinkUp())
    h.answer({"status": "Accepted", "currentTime": iso(t + 3600), "interval": 60})
    h.answer_all()
    assert {f[3]["timestamp"] for f in h.calls("StatusNotification")} == {iso(t + 3600)}
    h.advance(60)
    h.answer({"currentTime": iso(h.now + 3600)})
    assert h.sent_times("Heartbeat") == [t + 60]  # on the charger's own clock
    h.advance(40)
    h.feed(ev.PlugIn(1))
    assert h.in_flight()[3]["timestamp"] == iso(t + 100 + 3600)


def heartbeat_saying(h: Harness, csms_time: float) -> None:
    h.csms_call("TriggerMessage", {"requestedMessage": "Heartbeat"}, uid=f"hb{h.now}")
    h.answer({"currentTime": iso(csms_time)})


@pytest.mark.parametrize("shift", [-3600, 3600])
def test_a_backward_correction_waits_for_the_transaction_end_a_forward_one_does_not(
    shift: int,
) -> None:
    h = Harness(config={"MeterValueSampleInterval": "60"})
    h.boot(interval=3600)
    t = h.now
    h.feed(ev.StartCharging(1, "T1"))
    h.answer_all()
    h.advance(70)
    h.answer_all()
    heartbeat_saying(h, h.now + shift)
    h.advance(50)
    h.answer_all()
    h.advance(10)
    h.feed(ev.StopCharging(1))
    h.advance(10)
    h.feed(ev.Unplug(1))
    h.answer_all()
    at_once = max(shift, 0)  # forward: at once; backward: once the transaction has ended
    stamps = [f[3]["meterValue"][0]["timestamp"] for f in h.calls("MeterValues")]
    assert stamps == [iso(t + 60), iso(t + 120 + at_once)]
    assert h.calls("StopTransaction")[0][3]["timestamp"] == iso(t + 130 + at_once)
    assert h.calls("StatusNotification")[-1][3]["timestamp"] == iso(t + 140 + shift)


def test_a_backward_correction_the_csms_takes_back_is_not_applied() -> None:
    h = Harness(config={"MeterValueSampleInterval": "0"})
    h.boot(interval=3600)
    h.feed(ev.StartCharging(1, "T1"))
    h.answer_all()
    h.advance(10)
    heartbeat_saying(h, h.now - 3600)  # deferred: a transaction is open
    h.advance(10)
    heartbeat_saying(h, h.now)  # the CSMS's clock is back in step with ours
    h.feed(ev.StopCharging(1))
    h.advance(10)
    h.feed(ev.Unplug(1))
    h.answer_all()
    assert h.calls("StatusNotification")[-1][3]["timestamp"] == h.iso()


def test_a_long_round_trip_is_not_a_clock_error() -> None:
    """A sped-up clock makes a 5 ms round trip minutes of charger time: a CSMS time that
    falls inside [sent, answered] agrees with ours and is not adopted (as NTP reasons)."""
    h = Harness()
    h.feed(ev.LinkUp())
    sent = h.now
    h.advance(90)  # the answer takes 90 s of charger time
    h.answer({"status": "Accepted", "currentTime": iso(sent + 40), "interval": 60})
    assert h.core.offset == 0
    assert not [e for e in h.timeline if e["kind"] == "clock"]


def test_a_csms_clock_outside_the_round_trip_is_adopted_at_its_middle() -> None:
    h = Harness()
    h.feed(ev.LinkUp())
    sent = h.now
    h.advance(10)
    h.answer({"status": "Accepted", "currentTime": iso(sent + 3600), "interval": 60})
    assert h.core.offset == 3600 - 5


def test_calls_waiting_for_the_boot_fail_when_it_is_rejected() -> None:
    h = Harness()
    h.feed(ev.LinkUp())
    h.feed(ev.UserCall("DataTransfer", {"vendorId": "x"}, "tok"))
    h.answer({"status": "Rejected", "currentTime": h.iso(), "interval": 300})
    assert h.outcomes["tok"].code == "boot Rejected"


def test_a_configuration_change_is_on_the_timeline_without_its_value() -> None:
    h = Harness()
    h.boot()
    key = "00112233445566778899aabbccddeeff"
    h.csms_call("ChangeConfiguration", {"key": "AuthorizationKey", "value": key})
    changes = [e for e in h.timeline if e["kind"] == "config"]
    assert {"key": "AuthorizationKey"}.items() <= changes[-1].items()
    assert key not in str(h.timeline)
