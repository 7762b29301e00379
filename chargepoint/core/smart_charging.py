"""Smart Charging (OCPP 1.6 §3.13, §5.5, §5.7, §5.16): SetChargingProfile,
ClearChargingProfile, GetCompositeSchedule, a RemoteStartTransaction's TxProfile
(§5.11, §5.16.2), and the limits metering follows.

The rules and the arithmetic are in the pure :mod:`.smart` package; this layer keeps
the installed profiles, persists them (``SaveProfile`` / ``DeleteProfile``: E3.37,
they survive a reboot), and tells metering when the limits change
(:meth:`limits_changed` after every set, clear, transaction start and stop) and
when they next may (:meth:`next_limit_change`, on the charger's clock).  Profile
times are wall time (the CSMS's clock): ``now + offset``.

Where the spec and implementations disagree this layer follows the spec:
- an unknown connectorId in SetChargingProfile is a CALLERROR
  PropertyConstraintViolation (E3.39); EVerest and the SAP simulator answer
  Rejected, which ``UnknownConnectorProfileCallError=false`` gives;
- a TxProfile in RemoteStartTransaction must be a TxProfile without transactionId
  (§5.16.2, E3.41), else the RemoteStart is Rejected (as EVerest and SAP); it then
  applies to the transaction that remote start begins (§5.11, E3.42) and gets its
  transactionId once StartTransaction.conf gives it;
- the TxProfiles of a transaction are deleted when it ends (§3.13.1 "SHOULD");
- GetCompositeSchedule is Accepted without any profile (EVerest; SAP answers
  Rejected, the spec requires neither): the connector's rating then fills it;
  without chargingRateUnit it answers in the first unit
  ChargingScheduleAllowedChargingRateUnit allows (EVerest), and a unit it does not
  allow is Rejected.
See :mod:`.smart.profiles` and :mod:`.smart.composite` for the rest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

from ocpp.charge_point import snake_to_camel_case
from ocpp.exceptions import (
    FormationViolationError,
    OCPPError,
    PropertyConstraintViolationError,
    ProtocolError,
    TypeConstraintViolationError,
)
from ocpp.routing import after, on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from chargepoint.timefmt import format_epoch, parse_epoch

from .actions import DeleteProfile, SaveProfile
from .csms_calls import CsmsCalls
from .limits import ChargingLimit
from .records import QueuedMessage, StoredProfile, StoredState, TransactionRecord
from .settings import CoreSettings, Identity
from .smart.composite import CompositeLimits, TransactionContext, composite_schedule
from .smart.installed import InstalledProfiles, ProfileRules, check_set
from .smart.profiles import (
    UNIT_OF_KEY_ITEM,
    ChargingProfile,
    ProfileRefused,
    Purpose,
    RateUnit,
    anchored,
    parse_profile,
)

log = logging.getLogger("cpsim.core")

SMART_CHARGING: Final = "SmartCharging"
CALL_ERRORS: Final[dict[str, type[OCPPError]]] = {
    cls.code: cls
    for cls in (
        PropertyConstraintViolationError,
        TypeConstraintViolationError,
        ProtocolError,
        FormationViolationError,
    )
}


@dataclass(frozen=True)
class RemoteStartProfile:
    """A TxProfile accepted with RemoteStartTransaction, waiting for its transaction."""

    id_tag: str
    profile: ChargingProfile
    until: float
    """Charger time after which no transaction of that remote start can still begin."""


class SmartChargingCalls(CsmsCalls):
    def __init__(
        self, identity: Identity, settings: CoreSettings, stored: StoredState, now: float
    ) -> None:
        # before the lower layers start: metering asks for limits as it starts
        self.charging_profiles = InstalledProfiles()
        self._remote_profiles: dict[int, RemoteStartProfile] = {}
        super().__init__(identity, settings, stored, now)
        if self.profile_enabled(SMART_CHARGING):
            for record in stored.charging_profiles:
                self._restore_profile(record)
        elif stored.charging_profiles:
            log.info("%s: SmartCharging is off: stored profiles ignored", identity.charge_point_id)

    # --- rules and state ------------------------------------------------------------------

    def profile_rules(self) -> ProfileRules:
        """The §9.4 keys as the rules of :mod:`.smart.profiles` (SmartCharging is on)."""
        units = self.config.get_list("ChargingScheduleAllowedChargingRateUnit")
        return ProfileRules(
            connectors=self.settings.connectors,
            max_stack_level=self.config.get_int("ChargeProfileMaxStackLevel"),
            max_periods=self.config.get_int("ChargingScheduleMaxPeriods"),
            allowed_units=frozenset(UNIT_OF_KEY_ITEM[u] for u in units if u in UNIT_OF_KEY_ITEM),
            max_installed=self.config.get_int("MaxChargingProfilesInstalled"),
            unknown_connector_is_error=self.config.get_bool("UnknownConnectorProfileCallError"),
        )

    def _running_transactions(self) -> dict[int, int | None]:
        """connector -> the id of its running transaction (None: not known yet)."""
        return {
            cid: c.transaction.transaction_id
            for cid, c in self.connectors.items()
            if cid and c.transaction is not None
        }

    def _transaction_contexts(self) -> dict[int, TransactionContext]:
        contexts = {}
        for cid, connector in self.connectors.items():
            tx = connector.transaction
            if cid and tx is not None:
                start = parse_epoch(tx.started)
                contexts[cid] = TransactionContext(
                    start if start is not None else self.wall(), tx.transaction_id
                )
        return contexts

    def _composite_limits(self) -> CompositeLimits:
        return CompositeLimits(self.charging_profiles, self._transaction_contexts())

    def _connector_ratings(self) -> dict[int, ChargingLimit]:
        """Every connector's own maximum: the charger's rating (metering's)."""
        rating = ChargingLimit(self.rating.max_current_a, "A", self.rating.phases)
        return {cid: rating for cid in self.connectors if cid}

    def _install_profile(self, connector_id: int, profile: ChargingProfile) -> None:
        for gone in self.charging_profiles.install(connector_id, profile):
            self.emit(DeleteProfile(gone))
        self.emit(SaveProfile(connector_id, profile.to_ocpp()))

    def _delete_profiles(self, profile_ids: list[int], reason: str) -> None:
        for profile_id in profile_ids:
            self.emit(DeleteProfile(profile_id))
            self.timeline("profile", cleared=profile_id, reason=reason)

    # --- restore (what comes from disk is checked) ------------------------------------

    def _restore_profile(self, record: StoredProfile) -> None:
        rules = self.profile_rules()
        running = self._running_transactions()
        try:
            profile = parse_profile(record.profile, rules.max_periods)
            if profile.profile_id != record.profile_id:
                raise ProfileRefused(f"stored under id {record.profile_id}")
            if profile.purpose is Purpose.TX and record.connector_id not in running:
                # its transaction ended while the charger was off (§3.13.1)
                self._delete_profiles([record.profile_id], "transaction ended")
                return
            check_set(record.connector_id, profile, rules, self.charging_profiles, running)
        except ProfileRefused as refused:
            log.warning(
                "%s: stored charging profile %d dropped: %s",
                self.identity.charge_point_id,
                record.profile_id,
                refused.rule,
            )
            self.emit(DeleteProfile(record.profile_id))
            return
        for gone in self.charging_profiles.install(record.connector_id, profile):
            self.emit(DeleteProfile(gone))

    # --- SetChargingProfile (§5.16) -----------------------------------------------------

    def _refuse_with_error(self, refused: ProfileRefused, action: str) -> None:
        """A rule broken with a CALLERROR answer raises it for routing."""
        log.info("%s refused: %s", action, refused.rule)
        if refused.error_code is not None:
            raise CALL_ERRORS.get(refused.error_code, PropertyConstraintViolationError)(
                description=refused.rule
            )

    @on(Action.set_charging_profile)
    def on_set_charging_profile(
        self, connector_id: int, cs_charging_profiles: dict[str, Any], **_: Any
    ) -> Any:
        rules = self.profile_rules()
        try:
            data = snake_to_camel_case(cs_charging_profiles)
            profile = anchored(parse_profile(data, rules.max_periods), self.wall())
            check_set(
                connector_id, profile, rules, self.charging_profiles, self._running_transactions()
            )
        except ProfileRefused as refused:
            self._refuse_with_error(refused, "SetChargingProfile")
            self.timeline("profile", connector_id, refused=refused.rule)
            return call_result.SetChargingProfile(status="Rejected")
        if profile.purpose is Purpose.TX and profile.transaction_id is None:
            tx_id = self._running_transactions()[connector_id]
            if tx_id is not None:  # §2.8: bound to its transaction for later matching
                profile = profile.bound_to(tx_id)
        self._install_profile(connector_id, profile)
        self.timeline(
            "profile",
            connector_id,
            installed=profile.profile_id,
            purpose=profile.purpose.value,
            stackLevel=profile.stack_level,
        )
        return call_result.SetChargingProfile(status="Accepted")

    @after(Action.set_charging_profile)
    def after_set_charging_profile(self, **_: Any) -> None:
        self.limits_changed()  # §2.4: applied at once

    # --- ClearChargingProfile (§5.5) ------------------------------------------------------

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(
        self,
        id: int | None = None,  # noqa: A002 - OCPP's field name
        connector_id: int | None = None,
        charging_profile_purpose: str | None = None,
        stack_level: int | None = None,
        **_: Any,
    ) -> Any:
        purpose = Purpose(charging_profile_purpose) if charging_profile_purpose else None
        cleared = self.charging_profiles.clear(id, connector_id, purpose, stack_level)
        self._delete_profiles(cleared, "ClearChargingProfile")
        return call_result.ClearChargingProfile(status="Accepted" if cleared else "Unknown")

    @after(Action.clear_charging_profile)
    def after_clear_charging_profile(self, **_: Any) -> None:
        self.limits_changed()

    # --- GetCompositeSchedule (§5.7) ------------------------------------------------------

    @on(Action.get_composite_schedule)
    def on_get_composite_schedule(
        self, connector_id: int, duration: int, charging_rate_unit: str | None = None, **_: Any
    ) -> Any:
        keyed = self.config.get_list("ChargingScheduleAllowedChargingRateUnit")
        allowed = [UNIT_OF_KEY_ITEM[item] for item in keyed if item in UNIT_OF_KEY_ITEM]
        unit = charging_rate_unit or (allowed[0] if allowed else "A")
        if connector_id not in self.connectors or duration < 0 or unit not in allowed:
            return call_result.GetCompositeSchedule(status="Rejected")
        unit_: RateUnit = "W" if unit == "W" else "A"
        reply = composite_schedule(
            self.charging_profiles,
            self._transaction_contexts(),
            connector_id,
            self.wall(),
            duration,
            unit_,
            self._connector_ratings(),
        )
        return call_result.GetCompositeSchedule(
            status="Accepted",
            connector_id=connector_id,
            schedule_start=format_epoch(reply.start),
            charging_schedule=reply.charging_schedule(),
        )

    # --- RemoteStartTransaction's TxProfile (§5.11, §5.16.2) ------------------------------

    def _remote_start_profile(
        self, connector_id: int | None, id_tag: str, charging_profile: dict[str, Any] | None
    ) -> ChargingProfile | None:
        """The profile a RemoteStartTransaction brings; raises ProfileRefused."""
        if charging_profile is None or not self.profile_enabled(SMART_CHARGING):
            return None  # §5.11 NOTE: a charger without Smart Charging ignores it
        target = self.remote_start_target(connector_id, id_tag)
        if target is None:
            return None  # Rejected anyway
        rules = self.profile_rules()
        profile = parse_profile(snake_to_camel_case(charging_profile), rules.max_periods)
        check_set(target, profile, rules, self.charging_profiles, {}, for_remote_start=True)
        return profile

    @on(Action.remote_start_transaction)
    def on_remote_start_transaction(
        self,
        id_tag: str,
        connector_id: int | None = None,
        charging_profile: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        try:
            self._remote_start_profile(connector_id, id_tag, charging_profile)
        except ProfileRefused as refused:
            log.info("RemoteStartTransaction refused: its chargingProfile %s", refused.rule)
            self.timeline("profile", connector_id, refused=refused.rule)
            return call_result.RemoteStartTransaction(status="Rejected")
        return super().on_remote_start_transaction(id_tag, connector_id, **kwargs)

    @after(Action.remote_start_transaction)
    def after_remote_start_transaction(
        self,
        id_tag: str,
        connector_id: int | None = None,
        charging_profile: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        target = self.remote_start_target(connector_id, id_tag)
        try:
            profile = self._remote_start_profile(connector_id, id_tag, charging_profile)
        except ProfileRefused:
            return  # answered Rejected
        if profile is not None and target is not None:
            wait = self.config.get_int("ConnectionTimeOut") + 2 * self.settings.response_timeout
            self._remote_profiles[target] = RemoteStartProfile(id_tag, profile, self.now + wait)
        super().after_remote_start_transaction(id_tag, connector_id, **kwargs)

    # --- transactions -----------------------------------------------------------------

    def transaction_started(self, tx: TransactionRecord) -> None:
        super().transaction_started(tx)
        pending = self._remote_profiles.pop(tx.connector_id, None)
        if pending is None or pending.id_tag != tx.id_tag or self.now > pending.until:
            return
        try:  # installed profiles may have changed since the remote start was answered
            check_set(
                tx.connector_id,
                pending.profile,
                self.profile_rules(),
                self.charging_profiles,
                {tx.connector_id: None},
            )
        except ProfileRefused as refused:
            log.warning("RemoteStartTransaction's profile not installed: %s", refused.rule)
            return
        self._install_profile(tx.connector_id, pending.profile)
        self.timeline(
            "profile",
            tx.connector_id,
            installed=pending.profile.profile_id,
            purpose=pending.profile.purpose.value,
            stackLevel=pending.profile.stack_level,
        )
        self.limits_changed()

    def transaction_stopped(self, tx: TransactionRecord, reason: str) -> None:
        super().transaction_stopped(tx, reason)
        self._delete_profiles(
            self.charging_profiles.remove_tx_profiles(tx.connector_id), "transaction ended"
        )
        self.limits_changed()

    def queued_answered(self, message: QueuedMessage, result: dict[str, Any]) -> None:
        super().queued_answered(message, result)
        if message.action != "StartTransaction":
            return
        for cid, connector in self.connectors.items():
            tx = connector.transaction
            if not cid or tx is None or tx.local_id != message.local_tx:
                continue
            if tx.transaction_id is not None:  # §2.8: the TxProfile learns its transaction
                for entry in self.charging_profiles.bind_transaction(cid, tx.transaction_id):
                    self.emit(SaveProfile(cid, entry.profile.to_ocpp()))

    # --- the limits metering follows (hooks of CoreBase) --------------------------------

    def charging_limit(self, connector_id: int) -> ChargingLimit | None:
        connector = self.connectors.get(connector_id)
        # compared on the phases the EV uses: 10 A is below 3700 W on one phase, not on three
        phases = (
            self.ev_of(connector).phases_on(self.rating) if connector_id and connector else None
        )
        return self._composite_limits().connector_limit(connector_id, self.wall(), phases)

    def station_limit(self) -> ChargingLimit | None:
        return self._composite_limits().station_limit(self.wall())

    def next_limit_change(self) -> float | None:
        at = self._composite_limits().next_change(self.wall())
        return None if at is None else at - self.offset
