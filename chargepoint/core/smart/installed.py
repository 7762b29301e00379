"""Where and when a charging profile may be installed (OCPP 1.6 §3.13.1, §9.4) and what
is installed (§3.13.2, §5.5, §5.16.3): pure, no I/O, no clock.

:func:`check_set` applies SetChargingProfile's rules that need the charger's state (its
connectors, running transactions, §9.4 keys, what is installed); a broken rule raises
:class:`~.profiles.ProfileRefused`.  :class:`InstalledProfiles` keeps the accepted
profiles with the replace and clear rules (reference §2.4).

Choices where the spec is silent or implementations disagree:
- an unknown connectorId is the CALLERROR of E3.39 (EVerest and the SAP simulator
  answer Rejected); ``ProfileRules.unknown_connector_is_error=False`` does that.
- MaxChargingProfilesInstalled counts the profiles installed AFTER the new one
  replaced what it replaces (EVerest counts before): a replacement never fails for
  lack of room, since it adds nothing.
- stackLevel+purpose replacement is per connector: a TxDefault on connector 0 and one
  on connector 2 at the same stackLevel coexist (§3.13.1; as the SAP simulator).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from .profiles import UNITS, ChargingProfile, ProfileRefused, Purpose

# --- the rules that need the charger's state ---------------------------------------------


@dataclass(frozen=True)
class ProfileRules:
    """The charger's limits on profiles (§9.4 keys) and its connectors."""

    connectors: int
    max_stack_level: int = 8
    max_periods: int = 48
    allowed_units: frozenset[str] = frozenset(UNITS)
    max_installed: int = 20
    unknown_connector_is_error: bool = True
    """E3.39: CALLERROR PropertyConstraintViolation; False: status Rejected (EVerest, SAP)."""


def check_set(
    connector_id: int,
    profile: ChargingProfile,
    rules: ProfileRules,
    installed: InstalledProfiles,
    running: Mapping[int, int | None],
    for_remote_start: bool = False,
) -> None:
    """SetChargingProfile's rules on where and when a profile may be installed (§2.3).

    ``running``: connector -> the id of its running transaction (None while the CSMS
    has not given one); a connector without a transaction is absent.
    ``for_remote_start``: the profile comes with RemoteStartTransaction (§5.16.2): no
    transaction yet, and none may be named (E3.41).
    """
    if not 0 <= connector_id <= rules.connectors:
        rule = f"connectorId {connector_id}: this charger has connectors 0 to {rules.connectors}"
        raise ProfileRefused(
            rule, "PropertyConstraintViolation" if rules.unknown_connector_is_error else None
        )
    if profile.stack_level > rules.max_stack_level:
        raise ProfileRefused(
            f"stackLevel {profile.stack_level} above ChargeProfileMaxStackLevel "
            f"({rules.max_stack_level}, §9.4.1)"
        )
    if len(profile.schedule.periods) > rules.max_periods:
        raise ProfileRefused(f"more periods than ChargingScheduleMaxPeriods ({rules.max_periods})")
    if profile.schedule.unit not in rules.allowed_units:
        raise ProfileRefused(
            f"chargingRateUnit {profile.schedule.unit} not allowed by "
            "ChargingScheduleAllowedChargingRateUnit (E3.88)"
        )
    purpose = profile.purpose
    if purpose is Purpose.CHARGE_POINT_MAX and connector_id != 0:
        raise ProfileRefused("a ChargePointMaxProfile can only be set on connector 0 (§3.13.1)")
    if purpose is Purpose.TX:
        if connector_id == 0:
            raise ProfileRefused("a TxProfile needs a connector, not 0 (§3.13.1)")
        if for_remote_start:
            if profile.transaction_id is not None:
                raise ProfileRefused(
                    "RemoteStartTransaction's profile may not name a transaction (E3.41)"
                )
        else:
            if connector_id not in running:
                raise ProfileRefused(
                    f"no transaction on connector {connector_id}: a TxProfile cannot be set "
                    "in advance (§3.13.1, §5.16.4)"
                )
            tx_id = running[connector_id]
            if profile.transaction_id is not None and profile.transaction_id != tx_id:
                raise ProfileRefused(
                    f"transactionId {profile.transaction_id} is not the transaction on "
                    f"connector {connector_id}"
                )
    elif for_remote_start:
        raise ProfileRefused("RemoteStartTransaction's profile must be a TxProfile (§5.16.2)")
    after = len(installed) - len(installed.replaced_by(connector_id, profile)) + 1
    if after > rules.max_installed:
        raise ProfileRefused(f"MaxChargingProfilesInstalled ({rules.max_installed}) reached")


# --- what is installed -------------------------------------------------------------------


@dataclass(frozen=True)
class InstalledProfile:
    connector_id: int
    profile: ChargingProfile


class InstalledProfiles:
    """The accepted profiles, by chargingProfileId (which is unique: same id replaces)."""

    def __init__(self) -> None:
        self._by_id: dict[int, InstalledProfile] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[InstalledProfile]:
        return iter(list(self._by_id.values()))

    def get(self, profile_id: int) -> InstalledProfile | None:
        return self._by_id.get(profile_id)

    def of(self, purpose: Purpose, connector_id: int) -> list[ChargingProfile]:
        """The profiles of ``purpose`` set on exactly ``connector_id``."""
        return [
            e.profile
            for e in self._by_id.values()
            if e.connector_id == connector_id and e.profile.purpose is purpose
        ]

    def replaced_by(self, connector_id: int, profile: ChargingProfile) -> list[InstalledProfile]:
        """What installing ``profile`` on ``connector_id`` replaces: the same id anywhere
        (§5.16.3), and the same stackLevel and purpose on the same connector (§3.13.2;
        per connector as §3.13.1 says a connector's TxDefault replaces only there)."""
        return [
            e
            for e in self._by_id.values()
            if e.profile.profile_id == profile.profile_id
            or (
                e.connector_id == connector_id
                and e.profile.stack_level == profile.stack_level
                and e.profile.purpose is profile.purpose
            )
        ]

    def install(self, connector_id: int, profile: ChargingProfile) -> list[int]:
        """Install ``profile``; returns the ids of the other profiles it replaced."""
        gone = [e.profile.profile_id for e in self.replaced_by(connector_id, profile)]
        for profile_id in gone:
            del self._by_id[profile_id]
        self._by_id[profile.profile_id] = InstalledProfile(connector_id, profile)
        return [i for i in gone if i != profile.profile_id]

    def clear(
        self,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: Purpose | None = None,
        stack_level: int | None = None,
    ) -> list[int]:
        """ClearChargingProfile: the ids removed (empty: answer Unknown, §7.21).

        An id ignores the other fields (E3.26); otherwise every given field must match
        (E3.25), none given clears all; connectorId 0 means the profiles set for the
        whole charger, absent means any connector (§6.13)."""
        if profile_id is not None:
            matches = [profile_id] if profile_id in self._by_id else []
        else:
            matches = [
                i
                for i, e in self._by_id.items()
                if (connector_id is None or e.connector_id == connector_id)
                and (purpose is None or e.profile.purpose is purpose)
                and (stack_level is None or e.profile.stack_level == stack_level)
            ]
        for i in matches:
            del self._by_id[i]
        return matches

    def remove_tx_profiles(self, connector_id: int) -> list[int]:
        """The transaction on ``connector_id`` ended: its TxProfiles go (§3.13.1, §7.10)."""
        return self.clear(connector_id=connector_id, purpose=Purpose.TX)

    def bind_transaction(self, connector_id: int, transaction_id: int) -> list[InstalledProfile]:
        """The CSMS gave the transaction on ``connector_id`` its id: the connector's
        TxProfiles without one get it (§2.8); returns those changed."""
        changed = []
        for i, e in list(self._by_id.items()):
            p = e.profile
            if (
                e.connector_id == connector_id
                and p.purpose is Purpose.TX
                and p.transaction_id is None
            ):
                self._by_id[i] = InstalledProfile(connector_id, p.bound_to(transaction_id))
                changed.append(self._by_id[i])
        return changed
