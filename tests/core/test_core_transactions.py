"""Transactions as the CSMS sees them (§4.8, §4.10, §3.5.4), the transactionId of a
transaction started offline, Reset (§5.14) and ChangeAvailability (§5.2)."""

from __future__ import annotations

import pytest

from chargepoint.core import events as ev

from .harness import TX_ACTIONS, Harness, iso


def statuses(h: Harness, connector: int | None = None) -> list[str]:
    return [
        f[3]["status"]
        for f in h.calls("StatusNotification")
        if connector is None or f[3]["connectorId"] == connector
    ]


def test_a_card_transaction_online() -> None:
    h = Harness(config={"MeterValueSampleInterval": "60"})
    h.boot(interval=3600)
    t, before = h.now, len(h.calls())
    h.feed(ev.PlugIn(1))
    h.feed(ev.PresentIdTag(1, "T1", "card"))
    h.answer_all()
    h.advance(120)
    h.answer_all()
    h.advance(30)
    h.feed(ev.StopCharging(1))
    h.feed(ev.Unplug(1))
    h.answer_all()
    seen = [(f[2], f[3].get("status") or f[3].get("transactionId")) for f in h.calls()[before:]]
    assert seen == [
        ("StatusNotification", "Preparing"),
        ("Authorize", None),
        ("StartTransaction", None),
        ("StatusNotification", "Charging"),
        ("MeterValues", 101),
        ("MeterValues", 101),
        ("StopTransaction", 101),
        ("StatusNotification", "Finishing"),
        ("StatusNotification", "Available"),
    ]
    assert h.outcomes == {"card": "Accepted"}
    start, stop = h.calls("StartTransaction")[0][3], h.calls("StopTransaction")[0][3]
    assert (start["idTag"], start["meterStart"], start["timestamp"]) == ("T1", 0, iso(t))
    energy = [f[3]["meterValue"][0]["sampledValue"][0] for f in h.calls("MeterValues")]
    assert [(v["measurand"], v["value"]) for v in energy] == [
        ("Energy.Active.Import.Register", "122"),  # 7360 W for 60 s
        ("Energy.Active.Import.Register", "245"),
    ]
    assert [f[3]["meterValue"][0]["timestamp"] for f in h.calls("MeterValues")] == [
        iso(t + 60),
        iso(t + 120),
    ]
    assert (stop["meterStop"], stop["reason"], stop["timestamp"]) == (306, "Local", iso(t + 150))


def test_a_transaction_started_offline_gets_its_transaction_id_once_start_is_answered() -> None:
    h = Harness(config={"MeterValueSampleInterval": "60"})
    h.feed(ev.StartCharging(1, "T1"))  # no link at all
    h.advance(130)
    h.feed(ev.StopCharging(1))
    assert [a for a, _ in h.store.queued()] == [
        "StartTransaction",
        "MeterValues",
        "MeterValues",
        "StopTransaction",
    ]
    assert all("transactionId" not in p for _, p in h.store.queued())
    h.advance(300)
    h.boot(interval=3600, settle=False)
    h.answer_until("StartTransaction")
    h.answer({"transactionId": 42, "idTagInfo": {"status": "Accepted"}})
    # the store has them with the id before any of them is sent: a restart keeps it
    assert [(a, p.get("transactionId")) for a, p in h.store.queued()] == [
        ("MeterValues", 42),
        ("MeterValues", 42),
        ("StopTransaction", 42),
    ]
    h.answer_all()
    assert [(f[2], f[3].get("transactionId")) for f in h.calls(*TX_ACTIONS)] == [
        ("StartTransaction", None),
        ("MeterValues", 42),
        ("MeterValues", 42),
        ("StopTransaction", 42),
    ]


def test_after_a_restart_the_fixed_up_messages_still_carry_the_transaction_id() -> None:
    h = Harness(config={"MeterValueSampleInterval": "60"})
    h.feed(ev.StartCharging(1, "T1"))
    h.advance(60)
    h.feed(ev.StopCharging(1))
    h.boot(interval=3600, settle=False)
    h.answer_until("StartTransaction")
    h.answer({"transactionId": 42, "idTagInfo": {"status": "Accepted"}})
    h2 = h.power_loss(after=30)  # the MeterValues in flight is lost with the power
    h2.boot(interval=3600)
    assert [(f[2], f[3].get("transactionId")) for f in h2.calls(*TX_ACTIONS)] == [
        ("MeterValues", 42),
        ("StopTransaction", 42),
    ]


@pytest.mark.parametrize(
    "stop_on_invalid",
    [
        "true",
        "false",
    ],
)
def test_start_answered_invalid_stops_the_transaction_or_its_energy(stop_on_invalid: str) -> None:
    h = Harness(config={"StopTransactionOnInvalidId": stop_on_invalid})
    h.boot(interval=3600)
    h.feed(ev.StartCharging(1, "T9"))
    h.answer_until("StartTransaction")
    h.answer({"transactionId": 9, "idTagInfo": {"status": "Invalid"}})
    h.answer_all()
    stops = [(f[3]["transactionId"], f[3]["reason"]) for f in h.calls("StopTransaction")]
    if stop_on_invalid == "true":
        assert stops == [(9, "DeAuthorized")]
        assert statuses(h, 1)[-1] == "Finishing"
    else:
        assert stops == []
        assert statuses(h, 1)[-1] == "SuspendedEVSE"


# --- Reset (§5.14) ----------------------------------------------------------------------


def charging_on(connectors: int) -> Harness:
    h = Harness(connectors=connectors, config={"MeterValueSampleInterval": "0"})
    h.boot(interval=3600)
    for cid in range(1, connectors + 1):
        h.feed(ev.StartCharging(cid, f"T{cid}"))
        h.answer_all()
    return h


@pytest.mark.parametrize(("kind", "reason"), [("Soft", "SoftReset"), ("Hard", "HardReset")])
def test_reset_answers_then_stops_every_transaction_then_closes_the_link(
    kind: str, reason: str
) -> None:
    h = charging_on(2)
    before = len(h.sent)
    h.csms_call("Reset", {"type": kind}, uid="r1")
    frames = h.sent[before:]
    assert frames[0] == [3, "r1", {"status": "Accepted"}]
    assert frames[1][2] == "StopTransaction"
    h.answer_until("StopTransaction")
    h.answer({})
    last_stop = h.answer_until("StopTransaction")
    assert h.closed == []
    h.answer({})
    h.answer_all()
    assert [(c.code, c.reset) for c in h.closed] == [(1000, True)]  # a reboot, not a reconnect
    assert [(f[3]["transactionId"], f[3]["reason"]) for f in h.calls("StopTransaction")] == [
        (101, reason),
        (102, reason),
    ]
    assert last_stop[3]["transactionId"] == 102 and h.store.queue == {}


def test_reset_without_an_answer_to_its_stop_closes_after_the_grace_and_resends_it() -> None:
    h = charging_on(1)
    h.csms_call("Reset", {"type": "Soft"})
    stop = h.answer_until("StopTransaction")  # the CSMS stays silent
    h.advance(9.9)
    assert h.closed == []
    h.advance(0.1)
    assert len(h.closed) == 1
    assert [a for a, _ in h.store.queued()] == ["StopTransaction"]
    h.feed(ev.LinkDown("reset"))
    h.boot(interval=3600, settle=False)
    again = h.answer_until("StopTransaction")
    assert (again[1], again[3]) == (stop[1], stop[3])


# --- ChangeAvailability (§5.2) ----------------------------------------------------------


def test_inoperative_on_a_charging_connector_is_scheduled_until_its_transaction_ends() -> None:
    h = charging_on(1)
    answer = h.csms_call("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    h.answer_all()
    assert answer[2] == {"status": "Scheduled"}
    assert statuses(h, 1)[-1] == "Charging"
    h.feed(ev.StopCharging(1))
    h.answer_all()
    assert statuses(h, 1)[-1] == "Unavailable"
    assert h.actions()[-2:] == ["StopTransaction", "StatusNotification"]
    answer = h.csms_call("RemoteStartTransaction", {"idTag": "T1", "connectorId": 1}, uid="c2")
    assert answer[2] == {"status": "Rejected"}


def test_inoperative_charger_waits_for_its_last_transaction() -> None:
    h = charging_on(2)
    answer = h.csms_call("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})
    assert answer[2] == {"status": "Scheduled"}
    h.feed(ev.StopCharging(1))
    h.answer_all()
    assert "Unavailable" not in statuses(h)
    h.feed(ev.StopCharging(2))
    h.answer_all()
    assert [statuses(h, cid)[-1] for cid in (0, 1, 2)] == ["Unavailable"] * 3


@pytest.mark.parametrize("kind", ["Operative", "Inoperative"])
def test_a_change_to_the_availability_in_force_is_accepted(kind: str) -> None:
    h = Harness()
    h.boot(interval=3600)
    if kind == "Inoperative":
        h.csms_call("ChangeAvailability", {"connectorId": 1, "type": kind}, uid="first")
        h.answer_all()
    before = len(h.calls())
    answer = h.csms_call("ChangeAvailability", {"connectorId": 1, "type": kind})
    assert answer[2] == {"status": "Accepted"}
    assert h.calls()[before:] == []
