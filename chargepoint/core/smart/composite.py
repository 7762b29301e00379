"""The composite schedule (OCPP 1.6 §3.13, §5.7): which limit holds when.

Pure: no I/O, no clock; every time is epoch seconds of wall time, given by the
caller.  A profile defines a limit at ``t`` when it is valid (``validFrom <= t <
validTo``, §3.13.2), its schedule has started and its duration has not run out
(E3.43: then a lower stack level takes over).  Per purpose the highest stack level
that defines a limit wins (§3.13.2); a TxProfile beats a TxDefaultProfile, and a
connector's own TxDefault beats connector 0's (§3.13.1); a connector's limit is the
lower of that and the ChargePointMaxProfile, compared after converting units
(§3.13.3, §7.12, E3.69: W is the total, A per phase, ``P = I x 230 V x phases``).

Choices where the spec is silent (reference §2.7):
- GetCompositeSchedule on a connector without a transaction answers as if one
  started at the request (as EVerest): TxDefault and Relative profiles show.
- The reply is what the connector will follow (§5.7), so the connector's hardware
  maximum caps it and fills the periods no profile constrains (EVerest reports
  fixed defaults, MicroOcpp -1).
- Connector 0's reply is the sum over the connectors, then at most the
  ChargePointMaxProfile (§5.7, E3.30; EVerest's enhanced composite).
- Converted limits are rounded DOWN to 0.1 (the schema's multipleOf): a reported
  limit is never above the true one.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chargepoint.core.limits import ChargingLimit

from .installed import InstalledProfiles
from .profiles import (
    ChargingProfile,
    ProfileKind,
    Purpose,
    RateUnit,
    SchedulePeriod,
)

MAX_COMPOSITE_DURATION = 31_536_000
"""One year: GetCompositeSchedule's duration is capped here (EVerest's default
MaxCompositeScheduleDuration)."""
MAX_COMPOSITE_PERIODS = 1440
"""At most this many periods in a reply; a longer one ends (its duration) early."""
MAX_INSTANTS = 100_000
"""At most this many instants evaluated for one reply (bounds the work)."""


@dataclass(frozen=True)
class TransactionContext:
    """What the profiles of a connector need to know of its transaction."""

    start: float
    """When it started (epoch seconds): Relative schedules start here (§7.9)."""
    transaction_id: int | None = None
    """The CSMS's id (None while StartTransaction is unanswered)."""


# --- one profile ---------------------------------------------------------------------------


def schedule_start(profile: ChargingProfile, t: float, tx_start: float | None) -> float | None:
    """When the schedule (or, for a Recurring one, the recurrence running at ``t``) began;
    None when it has no start (a Relative profile without a transaction)."""
    s = profile.schedule
    if profile.kind is ProfileKind.RELATIVE:
        return tx_start
    if profile.kind is ProfileKind.ABSOLUTE:
        return s.start if s.start is not None else tx_start
    assert s.start is not None and profile.recurrency is not None  # parse_profile made sure
    period = profile.recurrency.seconds
    # floor: a recurrence also runs before startSchedule, at the same time of day/week
    return s.start + math.floor((t - s.start) / period) * period


def profile_limit(
    profile: ChargingProfile, t: float, tx_start: float | None
) -> ChargingLimit | None:
    """The limit ``profile`` alone sets at ``t``; None when it sets none then."""
    if profile.valid_from is not None and t < profile.valid_from:
        return None
    if profile.valid_to is not None and t >= profile.valid_to:
        return None
    base = schedule_start(profile, t, tx_start)
    if base is None or t < base:
        return None
    offset = t - base
    s = profile.schedule
    if s.duration is not None and offset >= s.duration:
        return None  # E3.43: fall back to a lower stack level
    index = bisect_right([p.start for p in s.periods], offset) - 1
    period = s.periods[index]  # index >= 0: the first period starts at 0
    return ChargingLimit(period.limit, s.unit, period.phases or 3)


def profile_next_change(profile: ChargingProfile, t: float, tx_start: float | None) -> float | None:
    """The first instant after ``t`` at which ``profile``'s limit may change."""
    found: list[float] = [
        x for x in (profile.valid_from, profile.valid_to) if x is not None and x > t
    ]
    base = schedule_start(profile, t, tx_start)
    if base is not None:
        s = profile.schedule
        points = [p.start for p in s.periods]
        if s.duration is not None:
            points.append(s.duration)
        if profile.kind is ProfileKind.RECURRING:
            assert profile.recurrency is not None
            period = profile.recurrency.seconds
            # E3.44: nothing beyond the recurrence runs; the next recurrence starts afresh
            points = [x for x in points if x < period] + [period]
        points.sort()
        index = bisect_right(points, t - base)
        while index < len(points) and base + points[index] <= t:
            index += 1  # float rounding: strictly after t
        if index < len(points):
            found.append(base + points[index])
    return min(found) if found else None


def limit_at(
    profiles: Iterable[ChargingProfile], t: float, tx_start: float | None
) -> ChargingLimit | None:
    """The limit of the highest stack level that sets one at ``t`` (§3.13.2, E3.43)."""
    for profile in sorted(profiles, key=lambda p: p.stack_level, reverse=True):
        limit = profile_limit(profile, t, tx_start)
        if limit is not None:
            return limit
    return None


def lower(*limits: ChargingLimit | None, phases: int | None = None) -> ChargingLimit | None:
    """The lowest limit, compared as total power: on ``phases`` when the phases in use are
    known (E3.34: an A limit counts for those), else on each one's own (§7.12, E3.69)."""
    present = [x for x in limits if x is not None]
    return min(present, key=lambda x: x.watts(phases)) if present else None


def in_unit(limit: ChargingLimit, unit: RateUnit) -> float:
    return limit.amps() if unit == "A" else limit.watts()


def floor_tenth(value: float) -> float:
    """Down to the schema's multipleOf 0.1, forgiving float noise (16.0000001 -> 16.0)."""
    return math.floor(value * 10 + 1e-6) / 10


# --- a charger's profiles -----------------------------------------------------------------


class CompositeLimits:
    """The limits the installed profiles set, given the running transactions.

    A connector's TxProfile/TxDefault limit comes from one *chain*: its TxProfiles, its own
    TxDefaults, connector 0's TxDefaults, each by stack level from the top; the first
    that sets a limit wins.  The ChargePointMaxProfiles are the station's chain.
    """

    def __init__(
        self, installed: InstalledProfiles, transactions: Mapping[int, TransactionContext]
    ) -> None:
        self.installed = installed
        self.transactions = transactions
        self._chains: dict[int, list[ChargingProfile]] = {}

    def _by_stack(self, purpose: Purpose, connector_id: int) -> list[ChargingProfile]:
        profiles = self.installed.of(purpose, connector_id)
        return sorted(profiles, key=lambda p: p.stack_level, reverse=True)

    def _chain(self, connector_id: int) -> list[ChargingProfile]:
        """TxProfile, else the connector's TxDefault, else connector 0's (§3.13.1);
        connector 0 stands for a connector with neither a transaction nor profiles."""
        chain = self._chains.get(connector_id)
        if chain is None:
            chain = []
            ctx = self.transactions.get(connector_id)
            if ctx is not None:
                chain += [
                    p
                    for p in self._by_stack(Purpose.TX, connector_id)
                    if p.transaction_id in (None, ctx.transaction_id)
                ]
            if connector_id:
                chain += self._by_stack(Purpose.TX_DEFAULT, connector_id)
            chain += self._by_stack(Purpose.TX_DEFAULT, 0)
            self._chains[connector_id] = chain
        return chain

    def _start(self, connector_id: int) -> float | None:
        ctx = self.transactions.get(connector_id)
        return ctx.start if ctx is not None else None

    def station_limit(self, t: float) -> ChargingLimit | None:
        """The ChargePointMaxProfile's limit: all connectors together (§3.13.3)."""
        return limit_at(self._by_stack(Purpose.CHARGE_POINT_MAX, 0), t, None)

    def tx_limit(self, connector_id: int, t: float) -> ChargingLimit | None:
        """TxProfile, else the connector's TxDefault, else connector 0's (§3.13.1)."""
        start = self._start(connector_id)
        for profile in self._chain(connector_id):
            limit = profile_limit(profile, t, start)
            if limit is not None:
                return limit
        return None

    def connector_limit(
        self, connector_id: int, t: float, phases: int | None = None
    ) -> ChargingLimit | None:
        """min(ChargePointMax, TxProfile/TxDefault) (§3.13.3), compared on ``phases`` (the
        phases in use, when known: which of an A and a W limit is lower depends on them);
        None: unconstrained."""
        return lower(self.station_limit(t), self.tx_limit(connector_id, t), phases=phases)

    def next_change(self, t: float) -> float | None:
        """The first instant after ``t`` at which any limit may change (period starts,
        durations, validFrom/validTo, recurrences): the one timer a charger arms.

        In a chain only the profiles down to the one setting the limit at ``t`` count: the
        ones below cannot show before that one stops, which is one of its own instants."""
        found: list[float] = []
        connectors = {0, *self.transactions, *(e.connector_id for e in self.installed)}
        chains: list[tuple[list[ChargingProfile], float | None]] = [
            (self._by_stack(Purpose.CHARGE_POINT_MAX, 0), None)
        ]
        chains += [(self._chain(c), self._start(c)) for c in sorted(connectors)]
        for chain, start in chains:
            for profile in chain:
                x = profile_next_change(profile, t, start)
                if x is not None:
                    found.append(x)
                if profile_limit(profile, t, start) is not None:
                    break
        return min(found) if found else None


# --- GetCompositeSchedule's reply (§5.7, §6.22) --------------------------------------------


@dataclass(frozen=True)
class CompositeSchedule:
    connector_id: int
    start: int
    """scheduleStart (epoch seconds); startPeriod counts from here."""
    duration: int
    unit: RateUnit
    periods: tuple[SchedulePeriod, ...]

    def charging_schedule(self) -> dict[str, Any]:
        """The reply's chargingSchedule, without startSchedule (E3.57: scheduleStart says it)."""
        periods: list[dict[str, Any]] = []
        for p in self.periods:
            item: dict[str, Any] = {"startPeriod": p.start, "limit": p.limit}
            if p.phases is not None:
                item["numberPhases"] = p.phases
            periods.append(item)
        return {
            "duration": self.duration,
            "chargingRateUnit": self.unit,
            "chargingSchedulePeriod": periods,
        }


def composite_schedule(
    installed: InstalledProfiles,
    transactions: Mapping[int, TransactionContext],
    connector_id: int,
    received: float,
    duration: int,
    unit: RateUnit,
    hardware: Mapping[int, ChargingLimit],
    max_periods: int = MAX_COMPOSITE_PERIODS,
) -> CompositeSchedule:
    """The composite schedule of ``connector_id`` (0: the whole charger) from the receipt
    time ``received`` for ``duration`` s, in ``unit``.

    ``hardware``: connector (1..N) -> its own maximum.  Periods start at instants where
    a limit may change (:meth:`CompositeLimits.next_change`), whole seconds from
    ``t0 = floor(received)``; consecutive equal periods are merged.
    """
    t0 = math.floor(received)
    duration = max(0, min(duration, MAX_COMPOSITE_DURATION))
    t1 = t0 + duration
    # §2.7 (EVerest): a connector without a transaction is shown as if one started now
    ctxs = {c: transactions.get(c) or TransactionContext(float(t0)) for c in hardware}
    limits = CompositeLimits(installed, ctxs)

    def value_at(t: float) -> tuple[float, int]:
        station = limits.station_limit(t)
        if connector_id == 0:
            shares = [lower(limits.tx_limit(c, t), hw) for c, hw in hardware.items()]
            total = sum(in_unit(x, unit) for x in shares if x is not None)
            phases = max((x.phases for x in shares if x is not None), default=3)
            if station is not None and in_unit(station, unit) < total:
                return floor_tenth(in_unit(station, unit)), station.phases
            return floor_tenth(total), phases
        candidates = [x for x in (station, limits.tx_limit(connector_id, t)) if x is not None]
        candidates.append(hardware[connector_id])
        binding = min(candidates, key=lambda x: in_unit(x, unit))
        return floor_tenth(in_unit(binding, unit)), binding.phases

    periods: list[SchedulePeriod] = []
    t = t0
    for _ in range(MAX_INSTANTS):
        limit, phases = value_at(t)
        if not periods or (periods[-1].limit, periods[-1].phases) != (limit, phases):
            if len(periods) == max_periods:
                duration = t - t0  # the reply covers what it can say (bounded)
                break
            periods.append(SchedulePeriod(t - t0, limit, phases))
        nxt = limits.next_change(t)
        if nxt is None or nxt >= t1:
            break
        t = max(math.ceil(nxt), t + 1)
    else:
        duration = t - t0
    return CompositeSchedule(connector_id, t0, duration, unit, tuple(periods))
