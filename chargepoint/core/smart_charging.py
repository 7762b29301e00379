"""Smart Charging (OCPP 1.6 §3.13, §5.5, §5.7, §5.16): SetChargingProfile,
ClearChargingProfile, GetCompositeSchedule, and the limits metering follows."""

from __future__ import annotations

from .csms_calls import CsmsCalls


class SmartChargingCalls(CsmsCalls):
    pass
