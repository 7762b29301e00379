"""Local Authorization List Management (§3.5, §5.10, §5.15) and the Authorization
Cache (§3.5.1): SendLocalList, GetLocalListVersion.

The rules are pure functions in :mod:`.authorization`; the decision itself runs in
:mod:`.station_ops`, which asks this layer for the list in force
(:meth:`local_list_in_force`).  The list is the CSMS's alone: only SendLocalList changes
it (§3.5.2), and it is kept in the store (ReplaceLocalList / UpdateLocalList).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from ocpp.charge_point import snake_to_camel_case
from ocpp.routing import on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from .actions import DeleteAuth, ReplaceLocalList, UpdateLocalList
from .authorization import (
    CACHE_MAX_ENTRIES,
    INVALID_ENERGY_TIMER,
    LocalListLimits,
    apply_local_list_update,
    cache_evictions,
    check_stored_entry,
    plan_send_local_list,
)
from .csms_calls import CsmsCalls
from .records import AuthEntry, StoredState
from .settings import CoreSettings, Identity

log = logging.getLogger("cpsim.core")

LOCAL_LIST_PROFILE: Final = "LocalAuthListManagement"


class LocalAuthCalls(CsmsCalls):
    def __init__(
        self, identity: Identity, settings: CoreSettings, stored: StoredState, now: float
    ) -> None:
        super().__init__(identity, settings, stored, now)
        self.local_list: dict[str, AuthEntry] = {}
        self.local_list_version = 0
        self._restore_local_list(stored)
        self._restore_cache()

    # --- what the store gave back (validated: it comes from disk) ---------------------

    def _restore_local_list(self, stored: StoredState) -> None:
        who = self.identity.charge_point_id
        for id_tag, entry in stored.local_list.items():
            problem = check_stored_entry(id_tag, entry)
            if problem is not None:
                log.warning("%s: stored Local List entry skipped: %s", who, problem)
                continue
            self.local_list[id_tag] = entry
        version = stored.local_list_version
        if self.local_list and version < 1:
            log.warning("%s: stored Local List has version %d; taken as 1", who, version)
            version = 1
        self.local_list_version = version if self.local_list else 0

    def _restore_cache(self) -> None:
        """Entries that no longer make sense leave the cache (and the store); a cache larger
        than its bound (a smaller bound since) loses what §3.5.1 says goes first."""
        for id_tag, entry in list(self.auth_cache.items()):
            problem = check_stored_entry(id_tag, entry)
            if problem is not None:
                log.warning(
                    "%s: stored cache entry dropped: %s", self.identity.charge_point_id, problem
                )
                del self.auth_cache[id_tag]
                self.emit(DeleteAuth(id_tag))
        for id_tag in cache_evictions(self.auth_cache, None, self.wall(), CACHE_MAX_ENTRIES):
            del self.auth_cache[id_tag]
            self.emit(DeleteAuth(id_tag))

    # --- the list in force ------------------------------------------------------------

    def local_list_enabled(self) -> bool:
        return self.profile_enabled(LOCAL_LIST_PROFILE) and self.config.get_bool(
            "LocalAuthListEnabled"
        )

    def local_list_in_force(self) -> Mapping[str, AuthEntry]:
        return self.local_list if self.local_list_enabled() else {}

    # --- SendLocalList (§5.15) and GetLocalListVersion (§5.10) ------------------------

    @on(Action.send_local_list)
    def on_send_local_list(
        self,
        list_version: int,
        update_type: str,
        local_authorization_list: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> Any:
        limits = LocalListLimits(
            enabled=self.local_list_enabled(),
            max_length=self.config.get_int("LocalAuthListMaxLength"),
            send_max_length=self.config.get_int("SendLocalListMaxLength"),
        )
        entries = [snake_to_camel_case(e) for e in local_authorization_list or []]
        update = plan_send_local_list(
            list_version,
            update_type,
            entries,
            current=self.local_list,
            current_version=self.local_list_version,
            limits=limits,
            updated=self.now,
        )
        if update.status != "Accepted":
            log.info("SendLocalList %s: %s", update.status, update.reason)
            self.timeline("local_list", status=update.status, reason=update.reason)
            return call_result.SendLocalList(status=update.status)
        if update.full:
            self.local_list = dict(update.upserts)
            self.emit(ReplaceLocalList(update.version, dict(update.upserts)))
        else:
            self.local_list = apply_local_list_update(
                self.local_list, update.upserts, update.deletes
            )
            self.emit(UpdateLocalList(update.version, dict(update.upserts), update.deletes))
        self.local_list_version = update.version
        self.timeline(
            "local_list",
            status="Accepted",
            updateType=update_type,
            version=update.version,
            entries=len(self.local_list),
        )
        return call_result.SendLocalList(status="Accepted")

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **_: Any) -> Any:
        """-1: no Local List in use; 0: an empty one (§5.10)."""
        if not self.local_list_enabled():
            return call_result.GetLocalListVersion(list_version=-1)
        version = self.local_list_version if self.local_list else 0
        return call_result.GetLocalListVersion(list_version=version)

    # --- timers -----------------------------------------------------------------------

    def layer_timer(self, name: str) -> bool:
        if name.startswith(INVALID_ENERGY_TIMER):
            connector, _, local_tx = name.removeprefix(INVALID_ENERGY_TIMER).partition(":")
            self.invalid_energy_check(int(connector), int(local_tx))
            return True
        return super().layer_timer(name)
