"""The Authorization Cache with expiryDate and parentIdTag (§3.5.1), ClearCache (E3.23),
who may stop a transaction (§3.10), and the reconciliation after offline (§3.5.4)."""

from __future__ import annotations

import pytest
from core.harness import Harness, MemoryStore, iso  # tests/ is on sys.path (rootdir packages)

from chargepoint.core import actions as act
from chargepoint.core import events as ev
from chargepoint.core.records import AuthEntry


def answer_all_with(h: Harness, info: dict[str, str]) -> None:
    """Answer everything, every IdTagInfo being ``info`` (as a CSMS says the same of a tag
    in Authorize, StartTransaction and StopTransaction)."""
    while (flight := h.in_flight()) is not None:
        answer = h.default_answer(flight[2])
        if "idTagInfo" in answer:
            answer["idTagInfo"] = info
        h.answer(answer)


def online(store: MemoryStore | None = None, connectors: int = 2, **config: str) -> Harness:
    h = Harness(connectors=connectors, config=config, store=store)
    h.boot(interval=3600)
    return h


def test_an_authorize_answer_is_cached_with_its_expiry_and_parent_then_expires() -> None:
    h = online()
    until = iso(h.now + 600)
    h.feed(ev.PresentIdTag(1, "T1", "first"))
    info = {"status": "Accepted", "expiryDate": until, "parentIdTag": "FLEET"}
    h.feed(ev.StopCharging(1))
    answer_all_with(h, info)
    assert h.store.auth_entries["T1"].expiry == until
    assert h.store.auth_entries["T1"].parent_id_tag == "FLEET"
    h.feed(ev.LinkDown())
    h.feed(ev.PresentIdTag(1, "T1", "before"))
    h.feed(ev.StopCharging(1))
    h.advance(601)
    h.feed(ev.PresentIdTag(1, "T1", "after"))
    assert (h.outcomes["before"], h.outcomes["after"]) == ("Accepted", "Expired")
    assert h.store.auth_entries["T1"].status == "Expired"  # §3.5.1: set to Expired


def test_online_an_expired_cache_entry_is_asked_about_again() -> None:
    store = MemoryStore(auth_entries={"T1": AuthEntry("Accepted", expiry=iso(0))})
    h = online(store, LocalPreAuthorize="true")
    h.feed(ev.PresentIdTag(1, "T1", "card"))
    assert h.in_flight()[2] == "Authorize" and h.outcomes == {}


def test_a_disabled_cache_is_neither_fed_nor_cleared() -> None:
    h = online(AuthorizationCacheEnabled="false")
    h.feed(ev.PresentIdTag(1, "T1", "card"))
    h.answer({"idTagInfo": {"status": "Accepted"}})
    h.answer_all()
    assert h.store.auth == {}
    assert h.csms_call("ClearCache", {})[2] == {"status": "Rejected"}  # E3.23
    assert act.ClearAuth() not in h.log


def test_a_broken_stored_cache_entry_is_dropped_from_the_store() -> None:
    store = MemoryStore(
        auth_entries={"OK": AuthEntry("Accepted"), "BAD": AuthEntry("Accepted", expiry="later")}
    )
    h = Harness(store=store)
    assert h.store.auth == {"OK": "Accepted"}


# --- stopping (§3.4, §3.10) -------------------------------------------------------------


def started_by(h: Harness, id_tag: str, parent: str | None) -> None:
    info = {"status": "Accepted", **({"parentIdTag": parent} if parent else {})}
    h.feed(ev.PresentIdTag(1, id_tag, "start"))
    answer_all_with(h, info)


@pytest.mark.parametrize(
    ("presented_parent", "outcome", "stopped"),
    [("FLEET", "Accepted", True), ("OTHER", "NotOwner", False), (None, "NotOwner", False)],
)
def test_another_tag_stops_only_with_the_same_parent(
    presented_parent: str | None, outcome: str, stopped: bool
) -> None:
    h = online()
    started_by(h, "T1", "FLEET")
    h.feed(ev.PresentIdTag(1, "T2", "stop"))
    info = {"status": "Accepted", **({"parentIdTag": presented_parent} if presented_parent else {})}
    h.answer({"idTagInfo": info})
    h.answer_all()
    assert h.outcomes["stop"] == outcome
    assert bool(h.calls("StopTransaction")) is stopped
    assert (h.core.connectors[1].transaction is None) is stopped


def test_the_same_tag_stops_without_asking_in_any_case() -> None:
    h = online()
    started_by(h, "T1", None)
    h.feed(ev.PresentIdTag(1, "t1", "stop"))
    assert h.outcomes["stop"] == "Accepted"
    h.answer_all()
    assert h.actions().count("Authorize") == 1 and h.calls("StopTransaction")


# --- after offline: StartTransaction.conf refuses the idTag (§3.5.4) ---------------------


def offline_start(**config: str) -> Harness:
    h = Harness(connectors=1, config={"AllowOfflineTxForUnknownId": "true", **config})
    h.feed(ev.PresentIdTag(1, "T9", "card"))
    assert h.outcomes == {"card": "Accepted"}
    h.advance(60)
    h.feed(ev.LinkUp())
    h.answer({"status": "Accepted", "currentTime": iso(h.now), "interval": 3600})
    h.answer_until("StartTransaction")
    h.answer({"transactionId": 7, "idTagInfo": {"status": "Blocked"}})
    return h


def test_a_refused_offline_transaction_is_deauthorized() -> None:
    h = offline_start(StopTransactionOnInvalidId="true")
    stop = h.answer_until("StopTransaction")
    assert stop[3]["reason"] == "DeAuthorized" and stop[3]["transactionId"] == 7
    assert h.store.auth == {"T9": "Blocked"}


def test_without_stop_on_invalid_id_the_energy_stops_after_max_energy_on_invalid_id() -> None:
    h = offline_start(StopTransactionOnInvalidId="false", MaxEnergyOnInvalidId="500")
    h.answer_all()
    connector = h.core.connectors[1]
    start = connector.transaction.meter_start if connector.transaction else 0
    assert connector.transaction is not None and not connector.suspended
    h.advance(3600)
    h.answer_all()
    assert connector.transaction is not None and connector.status == "SuspendedEVSE"
    energy = connector.meter.energy_wh - start
    assert 500 <= energy < 501
    assert any(e["kind"] == "energy_stopped" for e in h.timeline)


def test_with_max_energy_0_the_energy_stops_at_once() -> None:
    h = offline_start(StopTransactionOnInvalidId="false")
    assert h.core.connectors[1].suspended
    h.answer_all()
    assert h.calls("StatusNotification")[-1][3]["status"] == "SuspendedEVSE"
