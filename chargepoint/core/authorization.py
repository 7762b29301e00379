"""Who may charge: the authorization rules of OCPP 1.6 as pure functions (no I/O, no core).

- :func:`decide`: the order of §3.4/§3.5 (Local Authorization List, then Authorization
  Cache, then Authorize.req online; LocalPreAuthorize, LocalAuthorizeOffline and
  AllowOfflineTxForUnknownId decide what may be done locally).
- :func:`may_stop`: who may end a transaction (§3.4, §3.10).
- :func:`cache_evictions`: what a full Authorization Cache drops (§3.5.1).
- :func:`conflicts`: a received IdTagInfo that disagrees with the Local List (§3.5.2).
- :func:`plan_send_local_list`: SendLocalList's rules (§5.15, §6.41, §7.47, E3.52).

idTags are IdToken, a CiString20 (§7.28): compared without regard to case.  Every entry's
``expiry`` is wall time (the CSMS's clock), so the ``wall`` given here is ``CoreBase.wall()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Final

from chargepoint.timefmt import parse_epoch

from .records import AuthEntry

ID_TAG_STATUSES: Final = frozenset({"Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"})
"""AuthorizationStatus (§7.2)."""
VALID_STATUSES: Final = frozenset({"Accepted", "ConcurrentTx"})
"""The statuses §3.5.2 calls valid: the idTag may charge (ConcurrentTx: it already does)."""
ID_TAG_MAX_LENGTH: Final = 20
CACHE_MAX_ENTRIES: Final = 1000
"""The Authorization Cache's bound (no standard key sets it): past it, §3.5.1's eviction."""
INVALID_ENERGY_TIMER: Final = "auth:invalid-energy:"
"""Timer prefix (``auth:invalid-energy:<connector>:<local tx>``): MaxEnergyOnInvalidId."""
INVALID_ENERGY_CHECK_S: Final = 60.0
"""Charger seconds at most between two looks at an invalidated transaction's energy."""


class InvalidIdTagInfo(ValueError):
    """An IdTagInfo (§7.27) that breaks its schema: named by where it came from."""


# --- idTags and entries -----------------------------------------------------------------


def same_id_tag(a: str | None, b: str | None) -> bool:
    """IdToken is a CiString20 (§7.28): equal without regard to case; None equals nothing."""
    return a is not None and b is not None and a.casefold() == b.casefold()


def find(entries: Mapping[str, AuthEntry], id_tag: str) -> tuple[str, AuthEntry] | None:
    """The entry for ``id_tag`` (its key as stored, and the entry), compared as CiString."""
    entry = entries.get(id_tag)
    if entry is not None:
        return id_tag, entry
    folded = id_tag.casefold()
    for key, entry in entries.items():
        if key.casefold() == folded:
            return key, entry
    return None


def expired(entry: AuthEntry, wall: float) -> bool:
    """Whether ``expiryDate`` has passed (§3.5.1, §7.27: no expiryDate, no end)."""
    if entry.expiry is None:
        return False
    when = parse_epoch(entry.expiry)
    return when is not None and when <= wall


def effective_status(entry: AuthEntry, wall: float) -> str:
    """The entry's status now: a valid status past its expiryDate is Expired (§3.5.1)."""
    if entry.status in VALID_STATUSES and expired(entry, wall):
        return "Expired"
    return entry.status


def is_valid(entry: AuthEntry, wall: float) -> bool:
    return effective_status(entry, wall) in VALID_STATUSES


def expire_if_due(entry: AuthEntry, wall: float) -> AuthEntry | None:
    """The cache entry set to Expired when its expiryDate passed (§3.5.1), else None."""
    if entry.status in VALID_STATUSES and expired(entry, wall):
        return replace(entry, status="Expired")
    return None


def parse_id_tag_info(info: Any, where: str, updated: float = 0.0) -> AuthEntry:
    """An IdTagInfo as it came over the wire (camelCase) -> an entry; ``where`` names the
    message it came in for the error (:class:`InvalidIdTagInfo`)."""
    if not isinstance(info, dict):
        raise InvalidIdTagInfo(f"{where}: idTagInfo is not an object")
    status = info.get("status")
    if status not in ID_TAG_STATUSES:
        raise InvalidIdTagInfo(f"{where}: idTagInfo.status {status!r} is not one of §7.2")
    expiry = info.get("expiryDate")
    if expiry is not None and (not isinstance(expiry, str) or parse_epoch(expiry) is None):
        raise InvalidIdTagInfo(f"{where}: idTagInfo.expiryDate is not an OCPP dateTime")
    parent = info.get("parentIdTag")
    if parent is not None and (
        not isinstance(parent, str) or not 0 < len(parent) <= ID_TAG_MAX_LENGTH
    ):
        raise InvalidIdTagInfo(f"{where}: idTagInfo.parentIdTag is not an IdToken (CiString20)")
    return AuthEntry(str(status), expiry, parent, updated)


def check_stored_entry(id_tag: str, entry: AuthEntry) -> str | None:
    """Why an entry read back from the store no longer makes sense (None: it does)."""
    if not 0 < len(id_tag) <= ID_TAG_MAX_LENGTH:
        return "the idTag is not 1 to 20 characters"
    try:
        parse_id_tag_info(
            {
                "status": entry.status,
                "expiryDate": entry.expiry,
                "parentIdTag": entry.parent_id_tag,
            },
            "stored",
        )
    except InvalidIdTagInfo as exc:
        return str(exc).removeprefix("stored: ")
    return None


# --- the decision (§3.4, §3.5) ----------------------------------------------------------


@dataclass(frozen=True)
class AuthPolicy:
    """The configuration keys the decision reads (§9.1, §9.2)."""

    local_list_enabled: bool = True
    """LocalAuthListEnabled, and the LocalAuthListManagement profile supported."""
    cache_enabled: bool = True
    """AuthorizationCacheEnabled."""
    local_pre_authorize: bool = False
    local_authorize_offline: bool = True
    allow_offline_unknown: bool = False
    """AllowOfflineTxForUnknownId."""


class AuthSource(Enum):
    LOCAL_LIST = "LocalList"
    CACHE = "Cache"
    UNKNOWN = "Unknown"
    """In neither: Authorize.req online, AllowOfflineTxForUnknownId offline."""


@dataclass(frozen=True)
class LocalDecision:
    """What the charger decides on its own; ``status`` None: ask the CSMS (Authorize.req)."""

    status: str | None
    source: AuthSource
    parent_id_tag: str | None = None

    @property
    def ask_csms(self) -> bool:
        return self.status is None


def decide(
    id_tag: str,
    *,
    online: bool,
    policy: AuthPolicy,
    local_list: Mapping[str, AuthEntry],
    cache: Mapping[str, AuthEntry],
    wall: float,
) -> LocalDecision:
    """The local part of authorizing ``id_tag``.

    The Local List wins over the cache for the same idTag (§3.5.3).  A Local List entry
    that is not valid (or has expired) is refused online and offline: the CSMS put it
    there (§3.5.4 "MUST be rejected").  Online, a valid local entry starts at once with
    LocalPreAuthorize (§3.5, §9.1.13), else the CSMS is asked; a not-valid cache entry is
    asked about again (§3.5.1).  Offline, valid local entries start with
    LocalAuthorizeOffline (§9.1.12); a known not-valid one is refused; an unknown one
    (or a valid one LocalAuthorizeOffline may not use) is accepted only with
    AllowOfflineTxForUnknownId (§3.5.4).  A valid status is given as Accepted.
    """
    entry: AuthEntry | None = None
    source = AuthSource.UNKNOWN
    if policy.local_list_enabled:
        hit = find(local_list, id_tag)
        if hit is not None:
            entry, source = hit[1], AuthSource.LOCAL_LIST
    if entry is None and policy.cache_enabled:
        hit = find(cache, id_tag)
        if hit is not None:
            entry, source = hit[1], AuthSource.CACHE
    if entry is None:
        if online:
            return LocalDecision(None, source)
        return LocalDecision("Accepted" if policy.allow_offline_unknown else "Invalid", source)
    status = effective_status(entry, wall)
    parent = entry.parent_id_tag
    valid = status in VALID_STATUSES
    if online:
        if source is AuthSource.LOCAL_LIST and not valid:
            return LocalDecision(status, source, parent)
        if valid and policy.local_pre_authorize:
            return LocalDecision("Accepted", source, parent)
        return LocalDecision(None, source, parent)
    if not valid:
        return LocalDecision(status, source, parent)
    if policy.local_authorize_offline or policy.allow_offline_unknown:
        return LocalDecision("Accepted", source, parent)
    return LocalDecision("Invalid", source, parent)


def may_stop(tx_id_tag: str, tx_parent: str | None, id_tag: str, parent_id_tag: str | None) -> bool:
    """The idTag that started a transaction may end it without asking anyone (§3.4,
    §4.1); another one may when both share a parentIdTag (§3.10)."""
    return same_id_tag(tx_id_tag, id_tag) or same_id_tag(tx_parent, parent_id_tag)


def conflicts(local: AuthEntry, received: AuthEntry, wall: float) -> bool:
    """A received IdTagInfo that disagrees with the Local List entry (§3.5.2): in status
    (ConcurrentTx counts as Accepted; a local entry past its expiryDate is Expired) or in
    parentIdTag (as MicroOcpp compares them)."""

    def norm(status: str) -> str:
        return "Accepted" if status in VALID_STATUSES else status

    if norm(effective_status(local, wall)) != norm(received.status):
        return True
    if local.parent_id_tag is None or received.parent_id_tag is None:
        return local.parent_id_tag != received.parent_id_tag
    return not same_id_tag(local.parent_id_tag, received.parent_id_tag)


# --- the Authorization Cache (§3.5.1) ---------------------------------------------------


def cache_evictions(
    cache: Mapping[str, AuthEntry],
    incoming: str | None,
    wall: float,
    limit: int = CACHE_MAX_ENTRIES,
) -> list[str]:
    """The idTags to drop so that ``incoming`` (None: nothing new) fits in at most
    ``limit`` entries: the NOT-valid ones first, then the oldest valid ones (§3.5.1);
    oldest first within each."""
    room = 0 if incoming is None or find(cache, incoming) is not None else 1
    excess = len(cache) + room - max(1, limit)
    if excess <= 0:
        return []
    ranked = sorted(cache.items(), key=lambda item: (is_valid(item[1], wall), item[1].updated))
    return [id_tag for id_tag, _ in ranked[:excess]]


# --- SendLocalList (§5.15, §6.41, §7.47) ------------------------------------------------


@dataclass(frozen=True)
class LocalListLimits:
    enabled: bool
    """LocalAuthListEnabled: false -> NotSupported (as EVerest, the reference's choice)."""
    max_length: int
    """LocalAuthListMaxLength: entries the list may hold."""
    send_max_length: int
    """SendLocalListMaxLength: entries one SendLocalList may carry."""


@dataclass(frozen=True)
class LocalListUpdate:
    """SendLocalList's answer and, when Accepted, what to change (nothing otherwise)."""

    status: str
    reason: str = ""
    """Why it was not Accepted (for the log and the timeline)."""
    version: int = 0
    """The list's version afterwards (0 when the list ends up empty, §5.10)."""
    full: bool = False
    upserts: dict[str, AuthEntry] = field(default_factory=dict)
    """Full: the whole new list; Differential: the entries added or changed."""
    deletes: tuple[str, ...] = ()
    """Differential: the stored keys removed (never also in ``upserts``)."""


def _refused(status: str, reason: str) -> LocalListUpdate:
    return LocalListUpdate(status, reason)


def plan_send_local_list(
    list_version: int,
    update_type: str,
    entries: list[dict[str, Any]] | None,
    *,
    current: Mapping[str, AuthEntry],
    current_version: int,
    limits: LocalListLimits,
    updated: float = 0.0,
) -> LocalListUpdate:
    """SendLocalList.req (camelCase entries, as on the wire) against the current list.

    Anything not Accepted changes nothing (§3.2 of the reference: keep the old list and
    version).  A Differential without entries changes no entry but takes the new version
    (as MicroOcpp; EVerest answers Failed).
    """
    if not limits.enabled:
        return _refused("NotSupported", "LocalAuthListEnabled is false")
    if list_version <= 0:
        return _refused("Failed", f"listVersion {list_version}: 0 and -1 are reserved (E3.52)")
    if list_version > 2**31 - 1:  # OCPP integers are 32-bit; the store keeps no larger
        return _refused("Failed", f"listVersion {list_version} is not a 32-bit integer")
    if update_type not in ("Full", "Differential"):
        return _refused("Failed", f"updateType {update_type!r} is not Full or Differential")
    items = entries or []
    if len(items) > limits.send_max_length:
        return _refused(
            "Failed",
            f"{len(items)} entries, SendLocalListMaxLength is {limits.send_max_length} (§6.41)",
        )
    full = update_type == "Full"
    seen: set[str] = set()
    upserts: dict[str, AuthEntry] = {}
    removals: list[str] = []
    for index, item in enumerate(items):
        where = f"localAuthorizationList[{index}]"
        id_tag = item.get("idTag") if isinstance(item, dict) else None
        if not isinstance(id_tag, str) or not 0 < len(id_tag) <= ID_TAG_MAX_LENGTH:
            return _refused("Failed", f"{where}.idTag is not an IdToken (CiString20)")
        if id_tag.casefold() in seen:
            return _refused("Failed", f"{where}: idTag {id_tag!r} twice (§6.41: unique)")
        seen.add(id_tag.casefold())
        info = item.get("idTagInfo")
        if info is None:
            if full:
                return _refused("Failed", f"{where}: a Full update needs idTagInfo (§7.1)")
            removals.append(id_tag)
            continue
        try:
            upserts[id_tag] = parse_id_tag_info(info, where, updated)
        except InvalidIdTagInfo as exc:
            return _refused("Failed", str(exc))
    if not full and list_version <= current_version:
        return _refused(
            "VersionMismatch",
            f"Differential listVersion {list_version} is not above {current_version} (§7.47)",
        )
    deletes: list[str] = []
    if not full:
        for id_tag in [*removals, *upserts]:
            hit = find(current, id_tag)
            if hit is not None and (hit[0] not in upserts):
                deletes.append(hit[0])
    result = dict(upserts) if full else apply_local_list_update(current, upserts, deletes)
    if len(result) > limits.max_length:
        return _refused(
            "Failed",
            f"the list would hold {len(result)} entries, LocalAuthListMaxLength is "
            f"{limits.max_length}",
        )
    version = list_version if result else 0
    return LocalListUpdate("Accepted", "", version, full, upserts, tuple(deletes))


def apply_local_list_update(
    current: Mapping[str, AuthEntry],
    upserts: Mapping[str, AuthEntry],
    deletes: tuple[str, ...] | list[str],
) -> dict[str, AuthEntry]:
    """The list after a Differential update."""
    result = {k: v for k, v in current.items() if k not in deletes}
    result.update(upserts)
    return result
