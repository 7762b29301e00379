"""Charging profiles (OCPP 1.6 §7.8, §7.13, §7.14): the typed model, parsed and validated.

Pure: no I/O, no clock.  A profile comes from the CSMS (SetChargingProfile,
RemoteStartTransaction) or from the store as the camelCase dict the CSMS sent;
:func:`parse_profile` turns it into a typed, bounded :class:`ChargingProfile`
(dateTimes as epoch seconds of wall time), checked against every rule that needs
nothing but the profile; :mod:`.installed` has the rules that need the charger's
state, and what was accepted.  A broken rule raises :class:`ProfileRefused`: the
answer is ``Rejected`` unless the errata ask for a CALLERROR (E3.39: an unknown
connectorId is a PropertyConstraintViolation).

Choices where the spec is silent or implementations disagree:
- Absolute without startSchedule starts with the transaction (§7.13 "relative to
  start of charging", as MicroOcpp does); a ChargePointMaxProfile has no transaction,
  so it starts when received (:func:`anchored`; EVerest rejects it), and may not be
  Relative (as EVerest).
- Recurring without startSchedule is Rejected: nothing says when it recurs.
- A Recurring profile whose duration or periods exceed the recurrence is accepted;
  the part beyond the recurrence is never executed (§5.16.4 NOTE, E3.44; EVerest
  clamps the duration, which comes to the same).
- validTo at or before validFrom is Rejected: such a profile could never apply.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Literal, TypeVar, cast

from chargepoint.timefmt import format_epoch, parse_epoch

MAX_INT32 = 2**31 - 1
MAX_DATETIME_CHARS = 64
"""An OCPP dateTime is ~30 characters; anything much longer is not one."""

E = TypeVar("E", bound=StrEnum)
RateUnit = Literal["A", "W"]
UNITS: tuple[RateUnit, ...] = ("A", "W")
UNIT_OF_KEY_ITEM: dict[str, RateUnit] = {"Current": "A", "Power": "W"}
"""ChargingScheduleAllowedChargingRateUnit items (E3.88) and the unit each allows."""


class Purpose(StrEnum):
    """ChargingProfilePurposeType (§7.10)."""

    CHARGE_POINT_MAX = "ChargePointMaxProfile"
    TX_DEFAULT = "TxDefaultProfile"
    TX = "TxProfile"


class ProfileKind(StrEnum):
    """ChargingProfileKindType (§7.9)."""

    ABSOLUTE = "Absolute"
    RECURRING = "Recurring"
    RELATIVE = "Relative"


class Recurrency(StrEnum):
    """RecurrencyKindType (§7.37)."""

    DAILY = "Daily"
    WEEKLY = "Weekly"

    @property
    def seconds(self) -> int:
        return 86_400 if self is Recurrency.DAILY else 604_800


class ProfileRefused(Exception):
    """SetChargingProfile (or a RemoteStart's profile) breaks ``rule``.

    ``error_code`` None: answer ``status: Rejected``; else a CALLERROR with that code.
    """

    def __init__(self, rule: str, error_code: str | None = None) -> None:
        super().__init__(rule)
        self.rule = rule
        self.error_code = error_code


@dataclass(frozen=True)
class SchedulePeriod:
    """ChargingSchedulePeriod (§7.14)."""

    start: int
    """startPeriod: seconds from the start of the schedule."""
    limit: float
    """In the schedule's unit: A per phase, or W in total (§7.12)."""
    phases: int | None = None
    """numberPhases; None: 3 (§7.14)."""


@dataclass(frozen=True)
class ChargingSchedule:
    """ChargingSchedule (§7.13)."""

    unit: RateUnit
    periods: tuple[SchedulePeriod, ...]
    """Non-empty, the first at 0, strictly increasing (E3.45, E3.70)."""
    duration: int | None = None
    start: float | None = None
    """startSchedule as epoch seconds (wall time)."""
    min_rate: float | None = None


@dataclass(frozen=True)
class ChargingProfile:
    """ChargingProfile (§7.8), dateTimes as epoch seconds (wall time)."""

    profile_id: int
    stack_level: int
    purpose: Purpose
    kind: ProfileKind
    schedule: ChargingSchedule
    recurrency: Recurrency | None = None
    valid_from: float | None = None
    valid_to: float | None = None
    transaction_id: int | None = None

    def bound_to(self, transaction_id: int) -> ChargingProfile:
        """This TxProfile tied to the transaction it was given for (§2.8)."""
        return replace(self, transaction_id=transaction_id)

    def to_ocpp(self) -> dict[str, Any]:
        """The camelCase csChargingProfiles dict (what the store keeps)."""
        s = self.schedule
        periods: list[dict[str, Any]] = []
        for p in s.periods:
            item: dict[str, Any] = {"startPeriod": p.start, "limit": p.limit}
            if p.phases is not None:
                item["numberPhases"] = p.phases
            periods.append(item)
        schedule: dict[str, Any] = {"chargingRateUnit": s.unit, "chargingSchedulePeriod": periods}
        if s.duration is not None:
            schedule["duration"] = s.duration
        if s.start is not None:
            schedule["startSchedule"] = format_epoch(s.start)
        if s.min_rate is not None:
            schedule["minChargingRate"] = s.min_rate
        out: dict[str, Any] = {
            "chargingProfileId": self.profile_id,
            "stackLevel": self.stack_level,
            "chargingProfilePurpose": self.purpose.value,
            "chargingProfileKind": self.kind.value,
            "chargingSchedule": schedule,
        }
        if self.transaction_id is not None:
            out["transactionId"] = self.transaction_id
        if self.recurrency is not None:
            out["recurrencyKind"] = self.recurrency.value
        if self.valid_from is not None:
            out["validFrom"] = format_epoch(self.valid_from)
        if self.valid_to is not None:
            out["validTo"] = format_epoch(self.valid_to)
        return out


# --- parsing ------------------------------------------------------------------------------


def _field(data: Mapping[str, Any], name: str, where: str, required: bool = False) -> Any:
    value = data.get(name)
    if value is None and required:
        raise ProfileRefused(f"{where}.{name} is required", "ProtocolError")
    return value


def _int(data: Mapping[str, Any], name: str, where: str, required: bool = False) -> int | None:
    value = _field(data, name, where, required)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProfileRefused(f"{where}.{name} must be an integer", "TypeConstraintViolation")
    if not -MAX_INT32 - 1 <= value <= MAX_INT32:
        raise ProfileRefused(
            f"{where}.{name} is not a 32-bit integer", "PropertyConstraintViolation"
        )
    return value


def _decimal(
    data: Mapping[str, Any], name: str, where: str, required: bool = False
) -> float | None:
    value = _field(data, name, where, required)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProfileRefused(f"{where}.{name} must be a number", "TypeConstraintViolation")
    if not math.isfinite(value):
        raise ProfileRefused(f"{where}.{name} must be finite", "PropertyConstraintViolation")
    return round(float(value), 1)  # multipleOf 0.1 (SCH:SetChargingProfile)


def _enum(
    data: Mapping[str, Any], name: str, where: str, enum: type[E], required: bool = False
) -> E | None:
    value = _field(data, name, where, required)
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        # E3.24/E3.38: an invalid enum value is a PropertyConstraintViolation
        allowed = ", ".join(e.value for e in enum)
        raise ProfileRefused(
            f"{where}.{name} must be one of {allowed}", "PropertyConstraintViolation"
        ) from None


def _datetime(data: Mapping[str, Any], name: str, where: str) -> float | None:
    value = _field(data, name, where)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProfileRefused(f"{where}.{name} must be a dateTime", "TypeConstraintViolation")
    epoch = parse_epoch(value) if len(value) <= MAX_DATETIME_CHARS else None
    if epoch is None:
        raise ProfileRefused(f"{where}.{name} is not a dateTime", "PropertyConstraintViolation")
    return epoch


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ProfileRefused(f"{where} must be an object", "TypeConstraintViolation")
    return cast(Mapping[str, Any], value)


def _parse_period(item: Any, where: str) -> SchedulePeriod:
    data = _object(item, where)
    start = cast(int, _int(data, "startPeriod", where, required=True))
    limit = cast(float, _decimal(data, "limit", where, required=True))
    phases = _int(data, "numberPhases", where)
    if limit < 0:
        raise ProfileRefused(f"{where}.limit must not be negative")
    if phases is not None and not 1 <= phases <= 3:
        raise ProfileRefused(f"{where}.numberPhases must be 1, 2 or 3")
    return SchedulePeriod(start, limit, phases)


def _parse_schedule(value: Any, max_periods: int) -> ChargingSchedule:
    where = "chargingSchedule"
    data = _object(value, where)
    unit = _field(data, "chargingRateUnit", where, required=True)
    if unit not in UNITS:
        raise ProfileRefused(
            f"{where}.chargingRateUnit must be A or W", "PropertyConstraintViolation"
        )
    items = _field(data, "chargingSchedulePeriod", where, required=True)
    if not isinstance(items, list):
        raise ProfileRefused(
            f"{where}.chargingSchedulePeriod must be an array", "TypeConstraintViolation"
        )
    if not items:
        raise ProfileRefused(f"{where}.chargingSchedulePeriod is empty (1..* periods, §7.13)")
    if len(items) > max_periods:  # bounded before it is read (§9.4.3)
        raise ProfileRefused(
            f"{len(items)} periods: more than ChargingScheduleMaxPeriods ({max_periods})"
        )
    periods = tuple(
        _parse_period(item, f"{where}.chargingSchedulePeriod[{i}]") for i, item in enumerate(items)
    )
    if periods[0].start != 0:
        raise ProfileRefused("the first startPeriod must be 0 (§5.16.4, E3.45, E3.70)")
    for before, after in zip(periods, periods[1:], strict=False):
        if after.start <= before.start:
            raise ProfileRefused(
                f"startPeriod {after.start} after {before.start}: periods must strictly increase"
            )
    duration = _int(data, "duration", where)
    if duration is not None and duration < 0:
        raise ProfileRefused(f"{where}.duration must not be negative")
    min_rate = _decimal(data, "minChargingRate", where)
    if min_rate is not None and min_rate < 0:
        raise ProfileRefused(f"{where}.minChargingRate must not be negative")
    return ChargingSchedule(
        unit=cast(RateUnit, unit),
        periods=periods,
        duration=duration,
        start=_datetime(data, "startSchedule", where),
        min_rate=min_rate,
    )


def parse_profile(value: Any, max_periods: int) -> ChargingProfile:
    """A csChargingProfiles / chargingProfile dict (camelCase) as a :class:`ChargingProfile`,
    checked against every rule that needs nothing but the profile itself (§2.3)."""
    where = "chargingProfile"
    data = _object(value, where)
    profile_id = cast(int, _int(data, "chargingProfileId", where, required=True))
    stack_level = cast(int, _int(data, "stackLevel", where, required=True))
    purpose = cast(Purpose, _enum(data, "chargingProfilePurpose", where, Purpose, required=True))
    kind = cast(ProfileKind, _enum(data, "chargingProfileKind", where, ProfileKind, required=True))
    recurrency = _enum(data, "recurrencyKind", where, Recurrency)
    transaction_id = _int(data, "transactionId", where)
    valid_from = _datetime(data, "validFrom", where)
    valid_to = _datetime(data, "validTo", where)
    schedule = _parse_schedule(_field(data, "chargingSchedule", where, required=True), max_periods)

    if stack_level < 0:
        raise ProfileRefused("stackLevel must not be negative")
    if transaction_id is not None and purpose is not Purpose.TX:
        raise ProfileRefused("transactionId is only valid in a TxProfile (§7.8)")
    if kind is ProfileKind.RECURRING and recurrency is None:
        raise ProfileRefused("a Recurring profile needs a recurrencyKind (§7.8)")
    if kind is not ProfileKind.RECURRING and recurrency is not None:
        raise ProfileRefused("recurrencyKind is only valid in a Recurring profile (E3.56)")
    if kind is ProfileKind.RECURRING and schedule.start is None:
        raise ProfileRefused("a Recurring profile needs a startSchedule: it recurs from it (§7.37)")
    if purpose is Purpose.CHARGE_POINT_MAX and kind is ProfileKind.RELATIVE:
        raise ProfileRefused("a ChargePointMaxProfile cannot be Relative: it has no transaction")
    if valid_from is not None and valid_to is not None and valid_to <= valid_from:
        raise ProfileRefused("validTo must be after validFrom: the profile could never apply")
    return ChargingProfile(
        profile_id=profile_id,
        stack_level=stack_level,
        purpose=purpose,
        kind=kind,
        schedule=schedule,
        recurrency=recurrency,
        valid_from=valid_from,
        valid_to=valid_to,
        transaction_id=transaction_id,
    )


def anchored(profile: ChargingProfile, received: float) -> ChargingProfile:
    """An Absolute ChargePointMaxProfile without startSchedule starts when it was received
    (the charger has no transaction to start it with); it is kept with that start."""
    s = profile.schedule
    if (
        profile.purpose is Purpose.CHARGE_POINT_MAX
        and profile.kind is ProfileKind.ABSOLUTE
        and s.start is None
    ):
        return replace(profile, schedule=replace(s, start=received))
    return profile
