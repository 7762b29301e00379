"""Properties of the composite schedule over random profile sets (hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chargepoint.core.limits import ChargingLimit
from chargepoint.core.smart.composite import (
    CompositeLimits,
    TransactionContext,
    composite_schedule,
    floor_tenth,
    in_unit,
)
from chargepoint.core.smart.installed import InstalledProfiles
from chargepoint.core.smart.profiles import parse_profile

from .builders import DAY, T0, profile

HW = {1: ChargingLimit(32.0, "A", 3), 2: ChargingLimit(16.0, "A", 1)}
TX = {1: TransactionContext(T0 - 500, 7)}


@st.composite
def a_profile(draw: st.DrawFn, profile_id: int) -> tuple[int, dict[str, Any]]:
    purpose = draw(st.sampled_from(["ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"]))
    connector = {"ChargePointMaxProfile": 0, "TxProfile": 1}.get(purpose) or draw(
        st.sampled_from([0, 1, 2])
    )
    kinds = ["Absolute", "Recurring"] + ([] if purpose == "ChargePointMaxProfile" else ["Relative"])
    kind = draw(st.sampled_from(kinds))
    unit = draw(st.sampled_from(["A", "W"]))
    gaps = draw(st.lists(st.integers(1, 4 * 3600), min_size=0, max_size=5))
    starts = [0]
    for gap in gaps:
        starts.append(starts[-1] + gap)
    scale = 230.0 if unit == "W" else 1.0
    periods = [
        (s, round(draw(st.integers(0, 640)) / 10 * scale, 1), draw(st.sampled_from([1, 3])))
        for s in starts
    ]
    valid_from = draw(st.none() | st.integers(T0 - DAY, T0 + DAY))
    valid_to = draw(st.none() | st.integers(T0 - DAY // 2, T0 + 2 * DAY))
    if valid_from is not None and valid_to is not None and valid_to <= valid_from:
        valid_to = None
    data = profile(
        profile_id,
        purpose,
        draw(st.integers(0, 3)),
        periods,  # type: ignore[arg-type]
        unit,
        kind,
        start=draw(st.integers(T0 - 2 * DAY, T0 + DAY)),
        duration=draw(st.none() | st.integers(1, 2 * DAY)),
        recurrency=draw(st.sampled_from(["Daily", "Weekly"])) if kind == "Recurring" else None,
        valid_from=valid_from,
        valid_to=valid_to,
    )
    return connector, data


@st.composite
def installed_profiles(draw: st.DrawFn) -> InstalledProfiles:
    installed = InstalledProfiles()
    for i in range(draw(st.integers(0, 6))):
        connector, data = draw(a_profile(i + 1))
        installed.install(connector, parse_profile(data, 1440))
    return installed


@settings(max_examples=150, deadline=None)
@given(installed_profiles(), st.sampled_from(["A", "W"]), st.sampled_from([0, 1, 2]))
def test_replies_are_merged_increasing_and_never_above_charge_point_max(
    installed: InstalledProfiles, unit: Any, connector: int
) -> None:
    reply = composite_schedule(installed, TX, connector, T0 + 0.5, 3 * DAY, unit, HW)
    starts = [p.start for p in reply.periods]
    assert starts[0] == 0 and starts == sorted(set(starts)) and starts[-1] < reply.duration
    pairs = [(p.limit, p.phases) for p in reply.periods]
    assert all(a != b for a, b in zip(pairs, pairs[1:], strict=False))
    limits = CompositeLimits(installed, TX)
    for p in reply.periods:
        station = limits.station_limit(T0 + p.start)
        if station is not None:
            assert p.limit <= floor_tenth(in_unit(station, unit))
        assert p.limit >= 0


@settings(max_examples=150, deadline=None)
@given(installed_profiles(), st.integers(T0 - DAY, T0 + 2 * DAY), st.sampled_from([1, 2]))
def test_no_limit_changes_before_next_change(
    installed: InstalledProfiles, t: int, connector: int
) -> None:
    limits = CompositeLimits(installed, TX)
    nxt = limits.next_change(t)
    now = limits.connector_limit(connector, t)
    if nxt is None:
        probes = [t + 1, t + 3600, t + 30 * DAY]
    else:
        assert nxt > t
        probes = [t + (nxt - t) * f for f in (0.001, 0.25, 0.5, 0.999)]
    for probe in probes:
        assert limits.connector_limit(connector, probe) == now
