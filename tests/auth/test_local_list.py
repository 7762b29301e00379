"""The Local Authorization List through the core: SendLocalList's statuses (§7.47),
GetLocalListVersion (§5.10), the list kept across a power loss, offline authorization
from it (§3.5.4), and its precedence over the cache (§3.5.3) and conflicts (§3.5.2)."""

from __future__ import annotations

from typing import Any

import pytest
from core.harness import Harness, MemoryStore, iso  # tests/ is on sys.path (rootdir packages)

from chargepoint.core import actions as act
from chargepoint.core import events as ev
from chargepoint.core.profiles import parse_profiles
from chargepoint.core.records import AuthEntry


def online(store: MemoryStore | None = None, **config: str) -> Harness:
    h = Harness(connectors=2, config=config, store=store)
    h.boot(interval=3600)
    return h


def send_list(h: Harness, version: int, kind: str, entries: list[dict[str, Any]] | None) -> str:
    payload: dict[str, Any] = {"listVersion": version, "updateType": kind}
    if entries is not None:
        payload["localAuthorizationList"] = entries
    answer = h.csms_call("SendLocalList", payload, uid=f"sll{len(h.sent)}")
    assert answer[0] == 3, answer
    return str(answer[2]["status"])


def version(h: Harness) -> int:
    return int(h.csms_call("GetLocalListVersion", {}, uid=f"gllv{len(h.sent)}")[2]["listVersion"])


def tag(id_tag: str, status: str | None = "Accepted", **info: str) -> dict[str, Any]:
    if status is None:
        return {"idTag": id_tag}
    return {"idTag": id_tag, "idTagInfo": {"status": status, **info}}


def starts(h: Harness) -> list[str]:
    return [p["idTag"] for a, p in h.store.queued() if a == "StartTransaction"]


# --- SendLocalList and GetLocalListVersion ----------------------------------------------


def test_full_then_differential_are_kept_with_their_version() -> None:
    h = online()
    assert version(h) == 0
    assert send_list(h, 1, "Full", [tag("A"), tag("B", parentIdTag="FLEET")]) == "Accepted"
    assert version(h) == 1
    assert send_list(h, 2, "Differential", [tag("A", None), tag("C", "Blocked")]) == "Accepted"
    assert version(h) == 2
    assert h.store.local_list == {
        "B": AuthEntry("Accepted", None, "FLEET", h.now),
        "C": AuthEntry("Blocked", None, None, h.now),
    }
    assert h.store.local_list_version == 2
    h2 = h.power_loss()
    h2.boot(interval=3600)
    assert version(h2) == 2


@pytest.mark.parametrize(
    ("list_version", "kind", "entries", "status"),
    [
        (0, "Full", [tag("X")], "Failed"),  # E3.52: 0 and -1 are reserved
        (5, "Full", [tag("X"), tag("x")], "Failed"),  # §6.41: unique idTags
        (5, "Full", [tag(f"X{i}") for i in range(4)], "Failed"),  # SendLocalListMaxLength
        (5, "Full", [tag("X", None)], "Failed"),  # §7.1: Full needs idTagInfo
        (5, "Differential", [tag("X"), tag("Y")], "Failed"),  # LocalAuthListMaxLength
        (3, "Differential", [tag("X")], "VersionMismatch"),  # not above the current 3
        (2**31, "Full", [tag("X")], "Failed"),  # not a 32-bit integer: the store keeps none
    ],
)
def test_a_refused_update_changes_nothing(
    list_version: int, kind: str, entries: list[dict[str, Any]], status: str
) -> None:
    h = online(SendLocalListMaxLength="3", LocalAuthListMaxLength="3")
    assert send_list(h, 3, "Full", [tag("A"), tag("B")]) == "Accepted"
    before = (dict(h.store.local_list), h.store.local_list_version)
    persisted = len([a for a in h.log if isinstance(a, act.Persist)])
    assert send_list(h, list_version, kind, entries) == status
    assert (h.store.local_list, h.store.local_list_version) == before
    assert version(h) == 3
    after = [a for a in h.log if isinstance(a, act.Persist)][persisted:]
    assert not [a for a in after if isinstance(a, act.ReplaceLocalList | act.UpdateLocalList)]


def test_an_empty_full_update_empties_the_list_and_its_version_is_0() -> None:
    h = online()
    send_list(h, 4, "Full", [tag("A")])
    assert send_list(h, 5, "Full", None) == "Accepted"
    assert (h.store.local_list, version(h)) == ({}, 0)


def test_with_the_list_disabled_send_is_not_supported_and_the_version_is_minus_1() -> None:
    h = online(LocalAuthListEnabled="false")
    assert send_list(h, 1, "Full", [tag("A")]) == "NotSupported"
    assert version(h) == -1 and h.store.local_list == {}


def test_without_the_profile_both_calls_are_not_supported() -> None:
    h = Harness(feature_profiles=parse_profiles("Core,Reservation"))
    h.boot(interval=3600)
    for action, payload in [
        ("SendLocalList", {"listVersion": 1, "updateType": "Full"}),
        ("GetLocalListVersion", {}),
    ]:
        assert h.csms_call(action, payload, uid=action)[:3] == [4, action, "NotSupported"]


# --- offline authorization from the list (§3.5.4) ---------------------------------------


def test_offline_a_listed_tag_charges_after_a_power_loss_an_unknown_one_does_not() -> None:
    h = online()
    send_list(h, 1, "Full", [tag("LISTED"), tag("BLOCKED", "Blocked")])
    h2 = h.power_loss()  # no link: the charger decides alone, from the stored list
    h2.feed(ev.PresentIdTag(1, "listed", "listed"))
    h2.feed(ev.PresentIdTag(2, "STRANGER", "stranger"))
    assert h2.outcomes == {"listed": "Accepted", "stranger": "Invalid"}
    assert starts(h2) == ["listed"]


def test_a_listed_tag_that_is_not_accepted_is_refused_even_for_unknown_ids_allowed() -> None:
    h = online(AllowOfflineTxForUnknownId="true")
    expired = iso(h.now + 60)
    send_list(h, 1, "Full", [tag("BLOCKED", "Blocked"), tag("SOON", expiryDate=expired)])
    h.feed(ev.LinkDown())
    h.advance(120)
    h.feed(ev.PresentIdTag(1, "BLOCKED", "blocked"))
    h.feed(ev.PresentIdTag(1, "SOON", "expired"))
    h.feed(ev.PresentIdTag(2, "STRANGER", "unknown"))
    assert h.outcomes == {"blocked": "Blocked", "expired": "Expired", "unknown": "Accepted"}
    assert starts(h) == ["STRANGER"]


def test_the_list_wins_over_the_cache_and_is_not_cached() -> None:
    store = MemoryStore.with_cache({"A": "Accepted"})
    h = online(store)
    send_list(h, 1, "Full", [tag("A", "Blocked")])
    h.feed(ev.LinkDown())
    h.feed(ev.PresentIdTag(1, "A", "card"))
    assert h.outcomes == {"card": "Blocked"}


def test_online_a_listed_tag_starts_at_once_with_local_pre_authorize() -> None:
    h = online(LocalPreAuthorize="true")
    send_list(h, 1, "Full", [tag("A")])
    h.feed(ev.PresentIdTag(1, "A", "card"))
    assert h.outcomes == {"card": "Accepted"} and starts(h) == ["A"]
    h.answer_all()
    assert "Authorize" not in h.actions()


def test_a_disagreeing_answer_is_a_local_list_conflict_and_is_not_cached() -> None:
    h = online()
    send_list(h, 1, "Full", [tag("A")])
    h.feed(ev.PresentIdTag(1, "A", "card"))
    assert h.in_flight()[2] == "Authorize"
    h.answer({"idTagInfo": {"status": "Blocked"}})
    assert h.outcomes == {"card": "Blocked"} and h.store.auth == {}
    status = h.answer_until("StatusNotification")
    assert status[3]["connectorId"] == 0 and status[3]["errorCode"] == "LocalListConflict"
    assert status[3]["status"] == "Available"


def test_an_agreeing_answer_is_no_conflict() -> None:
    h = online()
    send_list(h, 1, "Full", [tag("A")])
    h.feed(ev.PresentIdTag(1, "A", "card"))
    h.answer({"idTagInfo": {"status": "Accepted"}})
    h.answer_all()
    codes = [c[3]["errorCode"] for c in h.calls("StatusNotification")]
    assert "LocalListConflict" not in codes and codes
    assert [c[3]["idTag"] for c in h.calls("StartTransaction")] == ["A"]


def test_a_broken_stored_list_entry_is_skipped_the_rest_is_used() -> None:
    store = MemoryStore(
        local_list={"GOOD": AuthEntry("Accepted"), "BAD": AuthEntry("Sure", expiry="never")},
        local_list_version=7,
    )
    h = Harness(store=store)
    h.feed(ev.PresentIdTag(1, "BAD", "bad"))
    h.feed(ev.PresentIdTag(1, "GOOD", "good"))
    assert h.outcomes == {"bad": "Invalid", "good": "Accepted"}
    h.boot(interval=3600)
    assert version(h) == 7


def test_online_a_listed_tag_that_is_blocked_is_refused_without_asking() -> None:
    h = online()
    send_list(h, 1, "Full", [tag("A", "Blocked")])
    h.answer_all()
    h.feed(ev.PresentIdTag(1, "A", "card"))
    assert h.outcomes == {"card": "Blocked"} and h.in_flight() is None
    assert "Authorize" not in h.actions()


def test_clear_cache_leaves_the_list_and_a_disabled_list_is_not_used() -> None:
    h = online()
    send_list(h, 1, "Full", [tag("A")])
    assert h.csms_call("ClearCache", {}, uid="cc")[2] == {"status": "Accepted"}
    assert list(h.store.local_list) == ["A"]
    answer = h.csms_call(
        "ChangeConfiguration", {"key": "LocalAuthListEnabled", "value": "false"}, uid="off"
    )
    assert answer[2] == {"status": "Accepted"}
    h.feed(ev.LinkDown())
    h.feed(ev.PresentIdTag(1, "A", "card"))
    assert h.outcomes == {"card": "Invalid"}  # as unknown: the list is not in use
