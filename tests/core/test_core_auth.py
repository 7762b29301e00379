"""Authorization (§3.5): the Authorization Cache, LocalAuthorizeOffline, LocalPreAuthorize,
ClearCache (§5.4), and what an Authorize without an answer falls back to."""

from __future__ import annotations

import pytest

from chargepoint.core import actions as act
from chargepoint.core import events as ev

from .harness import Harness, MemoryStore


def cached(tags: dict[str, str], **config: str) -> Harness:
    return Harness(connectors=2, config=config, store=MemoryStore.with_cache(tags))


def starts(h: Harness) -> list[str]:
    """The idTag of every StartTransaction kept in the store."""
    return [p["idTag"] for a, p in h.store.queued() if a == "StartTransaction"]


def test_offline_a_tag_the_csms_accepted_before_starts_an_unknown_one_is_invalid() -> None:
    h = Harness(connectors=2)
    h.boot(interval=3600)
    h.feed(ev.PresentIdTag(1, "T1", "online"))
    assert h.in_flight()[2] == "Authorize"
    h.answer({"idTagInfo": {"status": "Accepted"}})
    h.feed(ev.StopCharging(1))
    h.answer_all()
    h.feed(ev.LinkDown())
    h.feed(ev.PresentIdTag(1, "T1", "known"))
    h.feed(ev.PresentIdTag(2, "T2", "unknown"))
    assert (h.outcomes["known"], h.outcomes["unknown"]) == ("Accepted", "Invalid")
    assert starts(h) == ["T1"]


@pytest.mark.parametrize(
    ("cache", "offline_ok", "outcome"),
    [
        ({"T1": "Accepted"}, "true", "Accepted"),
        ({"T1": "Accepted"}, "false", "Invalid"),
        ({"T1": "Blocked"}, "true", "Blocked"),  # the status the CSMS gave it
        ({}, "true", "Invalid"),
    ],
)
def test_offline_decision(cache: dict[str, str], offline_ok: str, outcome: str) -> None:
    h = cached(cache, LocalAuthorizeOffline=offline_ok)
    h.feed(ev.PresentIdTag(1, "T1", "card"))
    assert h.outcomes == {"card": outcome}
    assert starts(h) == (["T1"] if outcome == "Accepted" else [])


def test_clear_cache_empties_it_in_the_store_too() -> None:
    h = cached({"T1": "Accepted", "T2": "Accepted"})
    h.boot(interval=3600)
    answer = h.csms_call("ClearCache", {})
    assert answer[2] == {"status": "Accepted"}
    assert act.ClearAuth() in h.log and h.store.auth == {}
    h.feed(ev.LinkDown())
    h.feed(ev.PresentIdTag(1, "T1", "card"))
    assert h.outcomes == {"card": "Invalid"}
    h2 = h.power_loss()
    h2.feed(ev.PresentIdTag(1, "T2", "after restart"))
    assert h2.outcomes == {"after restart": "Invalid"}


@pytest.mark.parametrize("pre_authorize", ["true", "false"])
def test_local_pre_authorize_starts_a_cached_tag_without_waiting(pre_authorize: str) -> None:
    h = cached({"T1": "Accepted"}, LocalPreAuthorize=pre_authorize)
    h.boot(interval=3600)
    h.feed(ev.PresentIdTag(1, "T1", "card"))
    if pre_authorize == "true":
        assert h.outcomes == {"card": "Accepted"} and starts(h) == ["T1"]
        h.answer_all()
        assert "Authorize" not in h.actions()
        assert h.actions()[-3:] == ["StatusNotification", "StartTransaction", "StatusNotification"]
    else:
        assert h.outcomes == {} and starts(h) == []
        assert h.in_flight()[2] == "Authorize"


def test_local_pre_authorize_still_asks_for_a_tag_not_in_the_cache() -> None:
    h = cached({}, LocalPreAuthorize="true")
    h.boot(interval=3600)
    h.feed(ev.PresentIdTag(1, "T1", "card"))
    assert h.in_flight()[2] == "Authorize" and h.outcomes == {}


@pytest.mark.parametrize(("cache", "outcome"), [({"T1": "Accepted"}, "Accepted"), ({}, "Invalid")])
def test_an_authorize_that_times_out_falls_back_to_the_cache(
    cache: dict[str, str], outcome: str
) -> None:
    h = cached(cache)
    h.boot(interval=3600)
    h.feed(ev.PresentIdTag(1, "T1", "card"))
    h.time_out()
    assert h.outcomes == {"card": outcome}
    assert starts(h) == (["T1"] if outcome == "Accepted" else [])


def test_the_latest_answer_replaces_the_cached_status() -> None:
    h = cached({"T1": "Accepted"})
    h.boot(interval=3600)
    h.feed(ev.PresentIdTag(1, "T1", "online"))
    h.answer({"idTagInfo": {"status": "Blocked"}})
    assert h.outcomes == {"online": "Blocked"} and h.store.auth == {"T1": "Blocked"}
    h.feed(ev.LinkDown())
    h.feed(ev.PresentIdTag(1, "T1", "offline"))
    assert h.outcomes["offline"] == "Blocked"  # refused, as the CSMS said


@pytest.mark.parametrize("answer_of", ["StartTransaction", "StopTransaction"])
def test_transaction_answers_update_the_cache(answer_of: str) -> None:
    h = cached({"T1": "Accepted"}, StopTransactionOnInvalidId="false")
    h.boot(interval=3600)
    h.feed(ev.StartCharging(1, "T1"))
    h.feed(ev.StopCharging(1))
    answers: dict[str, dict] = {
        "StartTransaction": {"transactionId": 3, "idTagInfo": {"status": "Accepted"}},
        "StopTransaction": {},
    }
    answers[answer_of]["idTagInfo"] = {"status": "Blocked"}
    for action, answer in answers.items():
        h.answer_until(action)
        h.answer(answer)
    assert h.store.auth == {"T1": "Blocked"}
