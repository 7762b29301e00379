"""The pure authorization rules (chargepoint.core.authorization): the §3.4 decision order,
the cache's eviction (§3.5.1), the Local List conflict (§3.5.2), SendLocalList (§6.41)."""

from __future__ import annotations

from typing import Any

import pytest

from chargepoint.core.authorization import (
    AuthPolicy,
    AuthSource,
    InvalidIdTagInfo,
    LocalListLimits,
    cache_evictions,
    check_stored_entry,
    conflicts,
    decide,
    expire_if_due,
    may_stop,
    parse_id_tag_info,
    plan_send_local_list,
)
from chargepoint.core.records import AuthEntry
from chargepoint.timefmt import format_epoch

NOW = 1_893_456_000.0
PAST = format_epoch(NOW - 1)
FUTURE = format_epoch(NOW + 3600)


def run(
    id_tag: str = "T1",
    *,
    online: bool,
    local: dict[str, AuthEntry] | None = None,
    cache: dict[str, AuthEntry] | None = None,
    **policy: bool,
) -> tuple[str | None, AuthSource]:
    d = decide(
        id_tag,
        online=online,
        policy=AuthPolicy(**policy),
        local_list=local or {},
        cache=cache or {},
        wall=NOW,
    )
    return d.status, d.source


LIST, CACHE, UNKNOWN = AuthSource.LOCAL_LIST, AuthSource.CACHE, AuthSource.UNKNOWN
OK = AuthEntry("Accepted")


# --- decide -----------------------------------------------------------------------------


def test_online_an_unknown_tag_is_asked_about() -> None:
    assert run(online=True, local_pre_authorize=True) == (None, UNKNOWN)


@pytest.mark.parametrize("pre", [True, False])
def test_online_a_valid_local_list_tag_starts_at_once_only_with_local_pre_authorize(
    pre: bool,
) -> None:
    assert run(online=True, local={"T1": OK}, local_pre_authorize=pre) == (
        "Accepted" if pre else None,
        LIST,
    )


@pytest.mark.parametrize("status", ["Blocked", "Invalid", "Expired"])
@pytest.mark.parametrize("online", [True, False])
def test_a_local_list_entry_that_is_not_accepted_is_refused_whatever_the_keys(
    status: str, online: bool
) -> None:
    keys = dict(local_pre_authorize=True, local_authorize_offline=True, allow_offline_unknown=True)
    assert run(online=online, local={"t1": AuthEntry(status)}, **keys) == (status, LIST)


def test_a_local_list_entry_past_its_expiry_is_expired() -> None:
    entry = AuthEntry("Accepted", expiry=PAST)
    assert run(online=False, local={"T1": entry}, allow_offline_unknown=True) == ("Expired", LIST)
    assert run(online=False, local={"T1": AuthEntry("Accepted", expiry=FUTURE)}) == (
        "Accepted",
        LIST,
    )


def test_the_local_list_wins_over_the_cache() -> None:
    local, cache = {"T1": AuthEntry("Blocked")}, {"T1": OK}
    assert run(online=False, local=local, cache=cache) == ("Blocked", LIST)
    assert run(online=False, local=local, cache=cache, local_list_enabled=False) == (
        "Accepted",
        CACHE,
    )


def test_a_disabled_cache_is_not_consulted() -> None:
    assert run(online=False, cache={"T1": OK}, cache_enabled=False) == ("Invalid", UNKNOWN)


@pytest.mark.parametrize("status", ["Blocked", "Expired"])
def test_online_a_not_valid_cache_entry_is_asked_about_again(status: str) -> None:
    assert run(online=True, cache={"T1": AuthEntry(status)}, local_pre_authorize=True) == (
        None,
        CACHE,
    )


@pytest.mark.parametrize(
    ("cache", "offline", "unknown", "expected"),
    [
        ({"T1": OK}, True, False, ("Accepted", CACHE)),
        ({"T1": OK}, False, False, ("Invalid", CACHE)),
        ({"T1": OK}, False, True, ("Accepted", CACHE)),  # no worse than an unknown tag
        ({"T1": AuthEntry("Accepted", expiry=PAST)}, True, True, ("Expired", CACHE)),
        ({"T1": AuthEntry("Blocked")}, True, True, ("Blocked", CACHE)),
        ({}, True, False, ("Invalid", UNKNOWN)),
        ({}, True, True, ("Accepted", UNKNOWN)),
    ],
)
def test_offline(
    cache: dict[str, AuthEntry], offline: bool, unknown: bool, expected: tuple[str, AuthSource]
) -> None:
    result = run(
        online=False, cache=cache, local_authorize_offline=offline, allow_offline_unknown=unknown
    )
    assert result == expected


def test_concurrent_tx_counts_as_valid_and_tags_compare_without_case() -> None:
    assert run("t1", online=False, local={"T1": AuthEntry("ConcurrentTx")}) == ("Accepted", LIST)


def test_the_decision_carries_the_parent_id_tag() -> None:
    d = decide(
        "T1",
        online=False,
        policy=AuthPolicy(),
        local_list={"T1": AuthEntry("Accepted", parent_id_tag="FLEET")},
        cache={},
        wall=NOW,
    )
    assert d.parent_id_tag == "FLEET" and not d.ask_csms


# --- stop, expiry, conflicts ------------------------------------------------------------


@pytest.mark.parametrize(
    ("tx", "presented", "allowed"),
    [
        (("T1", None), ("T1", None), True),
        (("T1", None), ("t1", None), True),
        (("T1", "FLEET"), ("T2", "fleet"), True),
        (("T1", "FLEET"), ("T2", "OTHER"), False),
        (("T1", None), ("T2", None), False),  # two tags without parents share nothing
        (("T1", "FLEET"), ("T2", None), False),
    ],
)
def test_who_may_stop(tx: tuple, presented: tuple, allowed: bool) -> None:
    assert may_stop(*tx, *presented) is allowed


def test_a_cache_entry_past_its_expiry_becomes_expired() -> None:
    assert expire_if_due(AuthEntry("Accepted", expiry=PAST, updated=3), NOW) == AuthEntry(
        "Expired", PAST, None, 3
    )
    assert expire_if_due(AuthEntry("Accepted", expiry=FUTURE), NOW) is None
    assert expire_if_due(AuthEntry("Blocked", expiry=PAST), NOW) is None


@pytest.mark.parametrize(
    ("local", "received", "conflict"),
    [
        (AuthEntry("Accepted"), AuthEntry("Accepted"), False),
        (AuthEntry("Accepted"), AuthEntry("ConcurrentTx"), False),
        (AuthEntry("Accepted"), AuthEntry("Blocked"), True),
        (AuthEntry("Accepted", expiry=PAST), AuthEntry("Expired"), False),
        (AuthEntry("Accepted", expiry=PAST), AuthEntry("Accepted"), True),
        (AuthEntry("Accepted", parent_id_tag="P"), AuthEntry("Accepted", parent_id_tag="p"), False),
        (AuthEntry("Accepted", parent_id_tag="P"), AuthEntry("Accepted"), True),
        (AuthEntry("Accepted", parent_id_tag="P"), AuthEntry("Accepted", parent_id_tag="Q"), True),
    ],
)
def test_local_list_conflicts(local: AuthEntry, received: AuthEntry, conflict: bool) -> None:
    assert conflicts(local, received, NOW) is conflict


# --- IdTagInfo from outside -------------------------------------------------------------


def test_an_id_tag_info_is_parsed_with_its_expiry_and_parent() -> None:
    info = {"status": "Accepted", "expiryDate": FUTURE, "parentIdTag": "P"}
    assert parse_id_tag_info(info, "Authorize.conf", 7.0) == AuthEntry("Accepted", FUTURE, "P", 7)


@pytest.mark.parametrize(
    ("info", "rule"),
    [
        (None, "not an object"),
        ({"status": "Maybe"}, "status"),
        ({"status": "Accepted", "expiryDate": "tomorrow"}, "expiryDate"),
        ({"status": "Accepted", "parentIdTag": "P" * 21}, "parentIdTag"),
    ],
)
def test_a_broken_id_tag_info_is_named(info: Any, rule: str) -> None:
    with pytest.raises(InvalidIdTagInfo, match=rf"^Authorize.conf: .*{rule}"):
        parse_id_tag_info(info, "Authorize.conf")


def test_stored_entries_are_checked() -> None:
    assert check_stored_entry("T1", AuthEntry("Accepted", FUTURE)) is None
    assert "status" in str(check_stored_entry("T1", AuthEntry("Great")))
    assert "idTag" in str(check_stored_entry("T" * 21, AuthEntry("Accepted")))


# --- the cache's bound ------------------------------------------------------------------


def test_a_full_cache_drops_not_valid_entries_first_then_the_oldest_valid() -> None:
    cache = {
        "OLD-OK": AuthEntry("Accepted", updated=1),
        "NEW-OK": AuthEntry("Accepted", updated=9),
        "BLOCKED": AuthEntry("Blocked", updated=8),
        "EXPIRED": AuthEntry("Accepted", expiry=PAST, updated=7),
    }
    assert cache_evictions(cache, "NEW", NOW, limit=4) == ["EXPIRED"]
    assert cache_evictions(cache, "NEW", NOW, limit=2) == ["EXPIRED", "BLOCKED", "OLD-OK"]
    assert cache_evictions(cache, "new-ok", NOW, limit=4) == []  # an update takes no room
    assert cache_evictions(cache, "NEW", NOW, limit=5) == []


# --- SendLocalList ----------------------------------------------------------------------

LIMITS = LocalListLimits(enabled=True, max_length=3, send_max_length=2)


def entry(tag: str, status: str | None = "Accepted", **info: str) -> dict[str, Any]:
    if status is None:
        return {"idTag": tag}
    return {"idTag": tag, "idTagInfo": {"status": status, **info}}


def plan(
    version: int,
    kind: str,
    entries: list[dict[str, Any]] | None,
    current: dict[str, AuthEntry] | None = None,
    current_version: int = 0,
    limits: LocalListLimits = LIMITS,
) -> Any:
    return plan_send_local_list(
        version,
        kind,
        entries,
        current=current or {},
        current_version=current_version,
        limits=limits,
    )


def test_full_replaces_the_list_and_takes_its_version() -> None:
    update = plan(5, "Full", [entry("A"), entry("B", "Blocked", parentIdTag="P")], {"X": OK}, 9)
    assert (update.status, update.version, update.full) == ("Accepted", 5, True)
    assert update.upserts == {"A": OK, "B": AuthEntry("Blocked", None, "P")}


@pytest.mark.parametrize("entries", [None, []])
def test_an_empty_full_update_empties_the_list_and_the_version_is_0(entries: Any) -> None:
    update = plan(5, "Full", entries, {"X": OK}, 4)
    assert (update.status, update.version, update.upserts) == ("Accepted", 0, {})


def test_differential_adds_updates_and_deletes_without_regard_to_case() -> None:
    current = {"A": OK, "B": OK, "C": OK}
    update = plan(3, "Differential", [entry("a", "Blocked"), entry("b", None)], current, 2)
    assert update.status == "Accepted" and update.version == 3
    assert update.upserts == {"a": AuthEntry("Blocked")} and set(update.deletes) == {"A", "B"}


def test_an_empty_differential_keeps_the_entries_and_takes_the_version() -> None:
    update = plan(3, "Differential", [], {"A": OK}, 2)
    assert (update.status, update.version, update.upserts, update.deletes) == (
        "Accepted",
        3,
        {},
        (),
    )


@pytest.mark.parametrize(
    ("version", "kind", "entries", "current", "status", "reason"),
    [
        (0, "Full", [entry("A")], {}, "Failed", "reserved"),
        (-1, "Full", [entry("A")], {}, "Failed", "reserved"),
        (2, "Differential", [entry("A")], {"Z": OK}, "VersionMismatch", "not above 2"),
        (1, "Differential", [entry("A")], {"Z": OK}, "VersionMismatch", "not above 2"),
        (3, "Full", [entry("A"), entry("a")], {}, "Failed", "twice"),
        (3, "Full", [entry("A"), entry("B"), entry("C")], {}, "Failed", "SendLocalListMaxLength"),
        (3, "Full", [entry("A", None)], {}, "Failed", "needs idTagInfo"),
        (3, "Full", [entry("A", expiryDate="soon")], {}, "Failed", "expiryDate"),
        (
            3,
            "Differential",
            [entry("D"), entry("E")],
            {"A": OK, "B": OK},
            "Failed",
            "LocalAuthListMaxLength",
        ),
    ],
)
def test_send_local_list_refusals_change_nothing(
    version: int,
    kind: str,
    entries: list[dict[str, Any]],
    current: dict[str, AuthEntry],
    status: str,
    reason: str,
) -> None:
    update = plan(version, kind, entries, current, 2)
    assert update.status == status and reason in update.reason
    assert (update.upserts, update.deletes) == ({}, ())


def test_a_differential_that_replaces_entries_fits_where_adding_them_would_not() -> None:
    current = {"A": OK, "B": OK, "C": OK}
    update = plan(3, "Differential", [entry("C", "Blocked"), entry("D")], current, 2)
    assert update.status == "Failed"
    update = plan(3, "Differential", [entry("C", "Blocked"), entry("A", None)], current, 2)
    assert update.status == "Accepted"


def test_send_local_list_is_not_supported_when_the_list_is_disabled() -> None:
    off = LocalListLimits(enabled=False, max_length=3, send_max_length=2)
    assert plan(3, "Full", [entry("A")], limits=off).status == "NotSupported"


def test_a_cache_over_its_bound_is_trimmed_to_it() -> None:
    cache = {f"T{i}": AuthEntry("Accepted", updated=i) for i in range(5)}
    assert cache_evictions(cache, None, NOW, limit=3) == ["T0", "T1"]
    assert cache_evictions(cache, None, NOW, limit=5) == []
