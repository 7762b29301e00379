"""The transaction queue (OCPP 1.6 §3.7, §3.7.1; OCPP-J §4.1.1), seen from the CSMS.

Transaction messages are kept in the store before they are sent and until the CSMS
answers; a failure to process (CALLERROR, no answer, an answer that breaks the
schema) is an attempt, retried after TransactionMessageRetryInterval x attempts;
a link lost during a send is not an attempt.  The harness checks on every event
that no second CALL goes out while one is unanswered.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chargepoint.core import actions as act
from chargepoint.core import events as ev

from .harness import TX_ACTIONS, Harness, iso


def booted(**config: str) -> Harness:
    """Online, heartbeat out of the way, no sampling unless asked."""
    h = Harness(connectors=2, config={"MeterValueSampleInterval": "0", **config})
    h.boot(interval=3600)
    return h


def started(h: Harness, connector: int = 1) -> list:
    """A forced start on ``connector``; returns its StartTransaction, now in flight."""
    h.feed(ev.StartCharging(connector, "T1"))
    return h.answer_until("StartTransaction")


def test_a_transaction_message_is_stored_before_it_is_sent_and_deleted_once_answered() -> None:
    h = booted()
    start = started(h)
    uid = start[1]
    saved = h.index(act.SaveQueued, lambda a: a.message.unique_id == uid)
    sent = h.index(act.Send, lambda a: a.unique_id == uid)
    assert saved < sent
    assert [a for a, _ in h.store.queued()] == ["StartTransaction"]
    h.error("InternalError")  # not processed: still kept, under a new id for its retry
    [(retry_uid, attempts)] = [(m.unique_id, m.attempts) for m in h.store.queue.values()]
    assert attempts == 1 and retry_uid != uid
    h.advance(60)
    assert h.last_call()[1] == retry_uid
    h.answer({"transactionId": 7, "idTagInfo": {"status": "Accepted"}})
    assert h.store.queue == {}
    assert h.index(act.DeleteQueued) > h.index(act.Send, lambda a: a.unique_id == retry_uid)


FAILURES: dict[str, Callable[[Harness], None]] = {
    "CALLERROR": lambda h: h.error("InternalError"),
    "no answer": lambda h: h.time_out(),
    "answer breaking the schema": lambda h: h.answer(
        {"transactionId": "seven", "idTagInfo": {"status": "Accepted"}}
    ),
}


@pytest.mark.parametrize("fail", FAILURES.values(), ids=FAILURES.keys())
def test_failed_message_is_retried_after_interval_times_attempts_then_given_up(
    fail: Callable[[Harness], None],
) -> None:
    h = booted(TransactionMessageRetryInterval="60", TransactionMessageAttempts="3")
    started(h)
    t = h.now
    fail(h)
    h.advance(59.9)
    assert h.sent_times("StartTransaction") == [t]
    h.advance(0.1)
    fail(h)
    h.advance(119.9)
    assert h.sent_times("StartTransaction") == [t, t + 60]
    h.advance(0.1)
    assert h.sent_times("StartTransaction") == [t, t + 60, t + 180]
    fail(h)  # the third failure: given up
    h.advance(3600)
    h.answer_all()
    assert h.sent_times("StartTransaction") == [t, t + 60, t + 180]
    assert h.store.queue == {}


def test_a_given_up_start_transaction_takes_its_transaction_messages_with_it() -> None:
    h = booted(MeterValueSampleInterval="60", TransactionMessageAttempts="2")
    started(h)
    h.error()
    h.advance(60)  # a MeterValues is queued, then the StartTransaction is sent again
    h.feed(ev.StopCharging(1))  # the StopTransaction queues behind it
    assert [a for a, _ in h.store.queued()] == [
        "StartTransaction",
        "MeterValues",
        "StopTransaction",
    ]
    h.error()  # the second attempt failed: given up, and the rest with it
    h.answer_all()
    assert h.calls("MeterValues") == [] and h.calls("StopTransaction") == []
    assert h.store.queue == {}


def test_a_transaction_whose_start_was_given_up_sends_nothing_more() -> None:
    h = booted(MeterValueSampleInterval="60", TransactionMessageAttempts="1")
    started(h)
    h.error()  # given up at once; the transaction goes on at the charger
    h.advance(60)
    h.feed(ev.StopCharging(1))
    h.answer_all()
    assert h.calls("MeterValues") == [] and h.calls("StopTransaction") == []


def test_a_send_lost_with_the_link_is_not_an_attempt() -> None:
    h = booted(TransactionMessageRetryInterval="60")
    uid = started(h)[1]
    h.feed(ev.LinkDown("modem lost its carrier"))
    h.feed(ev.AnswerTimedOut(uid))  # the shell's timer, racing the link loss
    assert [m.attempts for m in h.store.queue.values()] == [0]
    h.advance(5)
    h.boot(interval=3600, settle=False)
    again = h.answer_until("StartTransaction")
    assert again[1] == uid and again[3] == h.calls("StartTransaction")[0][3]
    h.error()  # the first real failure: retried after 60 x 1 s
    t = h.now
    h.advance(60)
    assert h.sent_times("StartTransaction")[-1] == t + 60
    assert [m.attempts for m in h.store.queue.values()] == [1]


def test_a_retry_on_the_same_connection_carries_a_new_message_id() -> None:
    h = booted()
    first = started(h)
    h.error()
    h.advance(60)
    retry = h.in_flight()
    assert retry is not None and retry[2] == "StartTransaction"
    assert retry[1] != first[1]


def test_messages_queued_offline_go_in_order_after_the_boot() -> None:
    h = Harness(config={"MeterValueSampleInterval": "60"})
    t = h.now
    h.feed(ev.StartCharging(1, "T1"))
    h.advance(130)  # samples at +60 and +120
    h.feed(ev.StopCharging(1))
    h.advance(70)
    h.feed(ev.LinkUp())
    assert h.actions() == ["BootNotification"]  # nothing before the boot is answered
    h.answer({"status": "Accepted", "currentTime": h.iso(), "interval": 3600})
    h.answer_all()
    queued = h.calls(*TX_ACTIONS)
    stamps = [
        f[3]["timestamp"] if f[2] != "MeterValues" else f[3]["meterValue"][0]["timestamp"]
        for f in queued
    ]
    assert [f[2] for f in queued] == [
        "StartTransaction",
        "MeterValues",
        "MeterValues",
        "StopTransaction",
    ]
    assert stamps == [iso(t + s) for s in (0, 60, 120, 130)]
    assert h.store.queue == {}


def test_other_calls_overtake_a_head_waiting_for_its_retry_new_transaction_messages_wait() -> None:
    h = Harness(connectors=2, config={"MeterValueSampleInterval": "40"})
    h.boot(interval=25)
    t = h.now
    started(h, connector=1)
    h.error()  # the head now waits until t + 60
    h.advance(10)
    h.feed(ev.PresentIdTag(2, "T2", "card"))  # Authorize goes at once
    assert h.in_flight()[2] == "Authorize"
    h.answer({"idTagInfo": {"status": "Accepted"}})  # connector 2's start queues behind
    h.advance(15)
    h.answer_all()  # the Heartbeat at t + 25 overtook too
    h.advance(24)
    h.answer_all()
    assert h.sent_times("Authorize") == [t + 10]
    assert h.sent_times("Heartbeat") == [t + 25]
    assert h.calls("MeterValues") == []  # the sample at t + 40 waits behind the head
    h.advance(11)
    h.answer_all()
    assert h.sent_times("Heartbeat") == [t + 25, t + 50]
    transaction_messages = [(f[2], f[3]["connectorId"]) for f in h.calls(*TX_ACTIONS)]
    assert transaction_messages == [
        ("StartTransaction", 1),
        ("StartTransaction", 1),
        ("StartTransaction", 2),
        ("MeterValues", 1),
        ("MeterValues", 2),
    ]
    assert h.sent_times("StartTransaction") == [t, t + 60, t + 60]


def test_only_one_call_is_in_flight_and_urgent_calls_wait_for_its_answer() -> None:
    h = Harness(connectors=2, config={"MeterValueSampleInterval": "0"})
    h.boot(interval=30)
    started(h)
    sent = len(h.sent)
    h.feed(ev.PresentIdTag(2, "T2", "card"))
    h.advance(30)  # the Heartbeat falls due
    assert len(h.sent) == sent
    h.answer({"transactionId": 5, "idTagInfo": {"status": "Accepted"}})
    assert h.actions()[-1] == "Authorize"
    h.answer({"idTagInfo": {"status": "Accepted"}})
    assert h.actions()[-1] == "Heartbeat"
