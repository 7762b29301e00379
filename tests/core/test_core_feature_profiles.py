"""A charger can be built without a feature profile (§3.3): its calls are then not
supported and its configuration keys do not exist (§9)."""

from __future__ import annotations

import pytest

from chargepoint.core.profiles import UnknownFeatureProfile, parse_profiles

from .harness import Harness

SMART_KEYS = {
    "ChargeProfileMaxStackLevel",
    "ChargingScheduleAllowedChargingRateUnit",
    "ChargingScheduleMaxPeriods",
    "MaxChargingProfilesInstalled",
}


def keys(h: Harness) -> dict[str, str]:
    answer = h.csms_call("GetConfiguration", {}, uid="keys")
    return {k["key"]: k["value"] for k in answer[2]["configurationKey"]}


def test_all_six_profiles_by_default_with_their_keys() -> None:
    h = Harness()
    h.boot()
    found = keys(h)
    assert found["SupportedFeatureProfiles"] == (
        "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,RemoteTrigger"
    )
    assert found.keys() >= SMART_KEYS
    assert {"LocalAuthListEnabled", "ReserveConnectorZeroSupported"} <= found.keys()


def test_a_profile_switched_off_loses_its_calls_and_keys() -> None:
    h = Harness(feature_profiles=parse_profiles("Core,RemoteTrigger"))
    h.boot()
    found = keys(h)
    assert found["SupportedFeatureProfiles"] == "Core,RemoteTrigger"
    assert not SMART_KEYS & found.keys()
    assert "LocalAuthListEnabled" not in found
    answer = h.csms_call("GetCompositeSchedule", {"connectorId": 1, "duration": 60}, uid="gcs")
    assert answer[:3] == [4, "gcs", "NotSupported"]
    answer = h.csms_call("ChangeConfiguration", {"key": "LocalAuthListEnabled", "value": "true"})
    assert answer[2] == {"status": "NotSupported"}
    # RemoteTrigger stays: TriggerMessage is answered
    assert h.csms_call("TriggerMessage", {"requestedMessage": "Heartbeat"})[2] == {
        "status": "Accepted"
    }


def test_without_remote_trigger_trigger_message_is_not_supported() -> None:
    h = Harness(feature_profiles=parse_profiles("Core"))
    h.boot()
    answer = h.csms_call("TriggerMessage", {"requestedMessage": "Heartbeat"}, uid="t")
    assert answer[:3] == [4, "t", "NotSupported"]


def test_profile_names_are_checked() -> None:
    assert parse_profiles(" SmartCharging ,") == {"Core", "SmartCharging"}
    with pytest.raises(UnknownFeatureProfile, match="'Smart'"):
        parse_profiles("Core,Smart")
