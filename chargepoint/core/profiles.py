"""OCPP 1.6's feature profiles (§3.3) and which CSMS calls belong to which.

Core is always there; a charger may be built without any other (``CoreSettings.
feature_profiles``): then that profile's calls get a CALLERROR NotSupported (E3.39
for Smart Charging; §4.2.3 of OCPP-J for any call a charger does not support), its
configuration keys disappear (§9: "required keys of a profile must exist only if
the charge point supports that profile") and SupportedFeatureProfiles says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

CORE: Final = "Core"
FEATURE_PROFILES: Final = (
    CORE,
    "FirmwareManagement",
    "LocalAuthListManagement",
    "Reservation",
    "SmartCharging",
    "RemoteTrigger",
)
"""In the order SupportedFeatureProfiles lists them (§9.1.29)."""

PROFILE_OF_ACTION: Final[dict[str, str]] = {
    "GetDiagnostics": "FirmwareManagement",
    "UpdateFirmware": "FirmwareManagement",
    "GetLocalListVersion": "LocalAuthListManagement",
    "SendLocalList": "LocalAuthListManagement",
    "ReserveNow": "Reservation",
    "CancelReservation": "Reservation",
    "SetChargingProfile": "SmartCharging",
    "ClearChargingProfile": "SmartCharging",
    "GetCompositeSchedule": "SmartCharging",
    "TriggerMessage": "RemoteTrigger",
}
"""The CSMS-initiated calls outside Core (§3.3, read by profile: its table is shifted)."""


class UnknownFeatureProfile(ValueError):
    pass


def parse_profiles(text: str | Iterable[str]) -> frozenset[str]:
    """``"Core,SmartCharging"`` (or a list) as a set, Core always included; a name that is
    not one of §3.3's raises naming it and the valid ones."""
    items = text.split(",") if isinstance(text, str) else list(text)
    names = {item.strip() for item in items if item.strip()}
    unknown = sorted(names - set(FEATURE_PROFILES))
    if unknown:
        raise UnknownFeatureProfile(
            f"unknown feature profile {unknown[0]!r} (OCPP 1.6 has {', '.join(FEATURE_PROFILES)})"
        )
    return frozenset(names | {CORE})


def supported_text(profiles: frozenset[str]) -> str:
    """The SupportedFeatureProfiles value: the profiles in §9.1.29's order."""
    return ",".join(name for name in FEATURE_PROFILES if name in profiles)
