"""Power loss: the core is thrown away and a new one is built from what the store kept
(``Harness.power_loss``).  What was queued is delivered in order after the boot; an
open transaction ends with reason PowerLoss and the last persisted register, or goes
on with ResumeTransactionsAfterPowerLoss; nothing the CSMS may have seen is renumbered.
"""

from __future__ import annotations

from chargepoint.core import events as ev

from .harness import TX_ACTIONS, Harness, iso


def energy(frame: list) -> str:
    return frame[3]["meterValue"][0]["sampledValue"][0]["value"]


def test_restart_delivers_the_queue_then_ends_the_transaction_with_the_last_register() -> None:
    h = Harness(config={"MeterValueSampleInterval": "60"})
    h.boot(interval=3600)
    t = h.now
    h.feed(ev.StartCharging(1, "T1"))
    h.answer_all()  # transactionId 101
    h.advance(60)
    in_flight = h.in_flight()  # the first MeterValues: the CSMS may have it, or not
    assert in_flight is not None and in_flight[2] == "MeterValues"
    h.advance(60)  # a second sample queues behind it; the register is kept at t + 120
    h.advance(30)  # power lost at t + 150: the last 30 s were never persisted
    h2 = h.power_loss(after=100)
    h2.boot(interval=3600)
    sent = h2.calls(*TX_ACTIONS)
    assert [f[2] for f in sent] == ["MeterValues", "MeterValues", "StopTransaction"]
    assert sent[0][1] == in_flight[1] and sent[0][3] == in_flight[3]
    assert [energy(f) for f in sent[:2]] == ["122", "245"]
    assert sent[2][3] == {
        "meterStop": 245,
        "timestamp": iso(t + 120),
        "reason": "PowerLoss",
        "idTag": "T1",
        "transactionId": 101,
    }
    assert h2.store.queue == {} and h2.store.transactions == {}


def test_a_start_in_flight_at_the_loss_is_resent_with_its_id_and_names_the_power_loss_stop() -> (
    None
):
    h = Harness()
    h.boot(interval=3600)
    h.feed(ev.StartCharging(1, "T1"))
    start = h.answer_until("StartTransaction")
    h2 = h.power_loss(after=5)
    h2.boot(interval=3600, settle=False)
    again = h2.answer_until("StartTransaction")
    assert (again[1], again[3]) == (start[1], start[3])
    h2.answer({"transactionId": 77, "idTagInfo": {"status": "Accepted"}})
    stop = h2.answer_until("StopTransaction")
    assert (stop[3]["transactionId"], stop[3]["reason"]) == (77, "PowerLoss")


def test_with_resume_configured_the_transaction_goes_on_after_the_restart() -> None:
    h = Harness(config={"MeterValueSampleInterval": "60"})
    h.boot(interval=3600)
    answer = h.csms_call(
        "ChangeConfiguration", {"key": "ResumeTransactionsAfterPowerLoss", "value": "true"}
    )
    assert answer[2] == {"status": "Accepted"}
    h.feed(ev.StartCharging(1, "T1"))
    h.answer_all()
    h.advance(60)
    h.answer_all()  # 122 Wh, kept
    h2 = h.power_loss(after=30)
    t = h2.now
    h2.boot(interval=3600)
    assert [f[3]["status"] for f in h2.calls("StatusNotification") if f[3]["connectorId"] == 1] == [
        "Charging"
    ]
    h2.advance(60)
    h2.answer_all()
    assert h2.sent_times("MeterValues") == [t + 60]
    sample = h2.calls("MeterValues")[0][3]
    assert (sample["transactionId"], energy(h2.calls("MeterValues")[0])) == (101, "245")
    assert h2.calls("StopTransaction") == []
    h2.feed(ev.StopCharging(1))
    h2.answer_all()
    stop = h2.calls("StopTransaction")[0][3]
    assert (stop["transactionId"], stop["reason"]) == (101, "Local")


def test_numbers_are_not_reused_after_a_restart() -> None:
    h = Harness()
    h.feed(ev.StartCharging(1, "T1"))  # offline: local transaction 1, queue seq 1
    h2 = h.power_loss(after=10)  # its PowerLoss stop is queued as the new core starts
    h2.feed(ev.StartCharging(1, "T2"))
    assert list(h2.store.transactions) == [2]
    assert [(a, p["idTag"]) for a, p in h2.store.queued()] == [
        ("StartTransaction", "T1"),
        ("StopTransaction", "T1"),
        ("StartTransaction", "T2"),
    ]
    h2.boot(interval=3600, settle=False)
    h2.answer_until("StartTransaction")
    h2.answer({"transactionId": 501, "idTagInfo": {"status": "Accepted"}})
    h2.answer_until("StopTransaction")
    assert h2.in_flight()[3]["transactionId"] == 501
    h2.answer({})
    h2.answer_until("StartTransaction")
    h2.answer({"transactionId": 502, "idTagInfo": {"status": "Accepted"}})
    h2.feed(ev.StopCharging(1))
    h2.answer_all()
    assert [f[3].get("transactionId") for f in h2.calls("StopTransaction")] == [501, 502]


def test_an_unavailable_connector_stays_unavailable_after_a_power_loss() -> None:
    h = Harness()
    h.boot(interval=3600)
    answer = h.csms_call("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    assert answer[2] == {"status": "Accepted"}
    h2 = h.power_loss(after=10)
    h2.boot(interval=3600)
    assert [f[3]["status"] for f in h2.calls("StatusNotification") if f[3]["connectorId"] == 1] == [
        "Unavailable"
    ]


def test_without_sampling_the_register_is_still_kept_every_minute() -> None:
    """MeterValueSampleInterval 0: the StopTransaction of a power loss after 5 h of
    charging at 7,360 W still says (nearly) 36.8 kWh, not the meterStart."""
    h = Harness(config={"MeterValueSampleInterval": "0"})
    h.boot(interval=86400)
    t = h.now
    h.feed(ev.StartCharging(1, "T1"))
    h.answer_all()
    h.advance(5 * 3600 + 30)  # lost 30 s after the last save
    h2 = h.power_loss(after=10)
    h2.boot(interval=86400)
    [stop] = h2.calls("StopTransaction")
    assert stop[3]["meterStop"] == 36800
    assert stop[3]["timestamp"] == iso(t + 5 * 3600)
