"""Charging profiles as the CSMS sends them (camelCase dicts), for the Smart Charging tests."""

from __future__ import annotations

from typing import Any

from chargepoint.timefmt import format_epoch

T0 = 1_893_456_000  # 2030-01-01T00:00:00Z, a Tuesday
HOUR, DAY = 3600, 86_400


def profile(
    profile_id: int = 1,
    purpose: str = "TxDefaultProfile",
    stack: int = 0,
    periods: list[tuple[int, float] | tuple[int, float, int]] | None = None,
    unit: str = "A",
    kind: str = "Absolute",
    start: float | None = T0 - DAY,
    duration: int | None = None,
    recurrency: str | None = None,
    valid_from: float | None = None,
    valid_to: float | None = None,
    transaction_id: int | None = None,
) -> dict[str, Any]:
    """A csChargingProfiles dict; ``periods`` as (startPeriod, limit[, numberPhases])."""
    items = []
    for p in periods or [(0, 16.0)]:
        item: dict[str, Any] = {"startPeriod": p[0], "limit": p[1]}
        if len(p) == 3:
            item["numberPhases"] = p[2]
        items.append(item)
    schedule: dict[str, Any] = {"chargingRateUnit": unit, "chargingSchedulePeriod": items}
    if start is not None and kind != "Relative":
        schedule["startSchedule"] = format_epoch(start)
    if duration is not None:
        schedule["duration"] = duration
    data: dict[str, Any] = {
        "chargingProfileId": profile_id,
        "stackLevel": stack,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind,
        "chargingSchedule": schedule,
    }
    if recurrency is not None:
        data["recurrencyKind"] = recurrency
    if valid_from is not None:
        data["validFrom"] = format_epoch(valid_from)
    if valid_to is not None:
        data["validTo"] = format_epoch(valid_to)
    if transaction_id is not None:
        data["transactionId"] = transaction_id
    return data
