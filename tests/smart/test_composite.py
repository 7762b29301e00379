"""The composite schedule, period by period, against worked examples (reference §2.5-§2.7).

Each example installs profiles, then reads GetCompositeSchedule's periods as
(startPeriod, limit, numberPhases) and/or the limit of a connector at given instants.
The hardware of every connector here is 32 A on 3 phases unless a test says otherwise.
"""

from __future__ import annotations

from typing import Any

from chargepoint.core.limits import ChargingLimit
from chargepoint.core.smart.composite import (
    CompositeLimits,
    TransactionContext,
    composite_schedule,
)
from chargepoint.core.smart.installed import InstalledProfiles
from chargepoint.core.smart.profiles import RateUnit, parse_profile

from .builders import DAY, HOUR, T0, profile

HW = ChargingLimit(32.0, "A", 3)


def install(*entries: tuple[int, dict[str, Any]]) -> InstalledProfiles:
    installed = InstalledProfiles()
    for connector, data in entries:
        installed.install(connector, parse_profile(data, 1440))
    return installed


def periods(
    installed: InstalledProfiles,
    duration: int,
    unit: RateUnit = "A",
    connector: int = 1,
    at: float = T0,
    transactions: dict[int, TransactionContext] | None = None,
    hardware: dict[int, ChargingLimit] | None = None,
) -> list[tuple[int, float, int | None]]:
    reply = composite_schedule(
        installed, transactions or {}, connector, at, duration, unit, hardware or {1: HW}
    )
    assert reply.start == int(at) and reply.duration == duration and reply.unit == unit
    return [(p.start, p.limit, p.phases) for p in reply.periods]


def test_no_profile_reports_the_hardware_maximum() -> None:
    assert periods(InstalledProfiles(), 3600) == [(0, 32.0, 3)]
    assert periods(InstalledProfiles(), 3600, "W") == [(0, 22080.0, 3)]


def test_the_reply_starts_at_the_whole_second_of_receipt() -> None:
    installed = install((0, profile(periods=[(0, 10.0), (DAY + 61, 6.0)])))
    reply = composite_schedule(installed, {}, 1, T0 + 0.9, 120, "A", {1: HW})
    assert reply.start == T0
    assert [(p.start, p.limit) for p in reply.periods] == [(0, 10.0), (61, 6.0)]
    assert "startSchedule" not in reply.charging_schedule()  # E3.57
    assert reply.charging_schedule() == {
        "duration": 120,
        "chargingRateUnit": "A",
        "chargingSchedulePeriod": [
            {"startPeriod": 0, "limit": 10.0, "numberPhases": 3},
            {"startPeriod": 61, "limit": 6.0, "numberPhases": 3},
        ],
    }


def test_the_highest_stack_level_wins_while_it_runs() -> None:
    installed = install(
        (0, profile(1, stack=0, periods=[(0, 16.0)])),
        (0, profile(2, stack=1, periods=[(0, 10.0)], start=T0 + HOUR, duration=1800)),
    )
    assert periods(installed, 2 * HOUR) == [(0, 16.0, 3), (3600, 10.0, 3), (5400, 16.0, 3)]


def test_a_lower_stack_level_may_not_lower_a_higher_one() -> None:
    installed = install(
        (0, profile(1, stack=0, periods=[(0, 6.0)])),
        (0, profile(2, stack=1, periods=[(0, 20.0)])),
    )
    assert periods(installed, HOUR) == [(0, 20.0, 3)]  # stacking is not a minimum


def test_a_top_level_without_duration_hides_the_levels_below() -> None:  # §3.13.2 NOTE, E3.7
    installed = install(
        (0, profile(1, stack=0, periods=[(0, 6.0), (600, 7.0)])),
        (0, profile(2, stack=1, periods=[(0, 20.0), (DAY + 1200, 21.0)])),
    )
    assert periods(installed, HOUR) == [(0, 20.0, 3), (1200, 21.0, 3)]


def test_valid_from_and_valid_to_bound_a_profile() -> None:
    installed = install(
        (0, profile(1, stack=0, periods=[(0, 16.0)])),
        (0, profile(2, stack=1, periods=[(0, 8.0)], valid_from=T0 + 600, valid_to=T0 + 1200)),
    )
    assert periods(installed, HOUR) == [(0, 16.0, 3), (600, 8.0, 3), (1200, 16.0, 3)]


def test_a_future_start_schedule_leaves_the_lower_level_until_then() -> None:
    installed = install(
        (0, profile(1, stack=0, periods=[(0, 16.0)])),
        (0, profile(2, stack=1, periods=[(0, 8.0), (300, 9.0)], start=T0 + 600)),
    )
    assert periods(installed, HOUR) == [(0, 16.0, 3), (600, 8.0, 3), (900, 9.0, 3)]


def test_periods_beyond_the_duration_are_not_executed() -> None:  # §5.16.4 NOTE
    installed = install(
        (0, profile(1, periods=[(0, 10.0), (600, 12.0), (1200, 14.0)], start=T0, duration=900))
    )
    assert periods(installed, HOUR) == [(0, 10.0, 3), (600, 12.0, 3), (900, 32.0, 3)]


def test_recurring_daily_over_48_hours_crossing_midnight() -> None:
    """22:00 to 06:00 at 6 A, otherwise 16 A, every day; asked at midnight for 48 h."""
    daily = profile(
        1,
        "ChargePointMaxProfile",
        0,
        [(0, 6.0), (8 * HOUR, 16.0)],
        kind="Recurring",
        recurrency="Daily",
        start=T0 - 2 * HOUR,
    )
    installed = install((0, daily))
    assert periods(installed, 2 * DAY) == [
        (0, 6.0, 3),  # 00:00, inside the night period that began at 22:00 the day before
        (6 * HOUR, 16.0, 3),
        (22 * HOUR, 6.0, 3),  # the next recurrence, at startSchedule's time of day
        (30 * HOUR, 16.0, 3),
        (46 * HOUR, 6.0, 3),
    ]
    limits = CompositeLimits(installed, {})
    assert limits.connector_limit(1, T0 + 22 * HOUR - 1) == ChargingLimit(16.0, "A", 3)
    assert limits.connector_limit(1, T0 + 22 * HOUR) == ChargingLimit(6.0, "A", 3)
    assert limits.next_change(T0) == T0 + 6 * HOUR
    assert limits.next_change(T0 + 6 * HOUR) == T0 + 22 * HOUR


def test_recurring_daily_with_a_duration_falls_back_after_it() -> None:  # E3.43
    night = profile(
        2,
        stack=1,
        periods=[(0, 6.0)],
        kind="Recurring",
        recurrency="Daily",
        start=T0 - 2 * HOUR,
        duration=4 * HOUR,
    )
    installed = install((0, profile(1, stack=0, periods=[(0, 16.0)])), (0, night))
    assert periods(installed, DAY + 4 * HOUR) == [
        (0, 6.0, 3),
        (2 * HOUR, 16.0, 3),
        (22 * HOUR, 6.0, 3),
        (26 * HOUR, 16.0, 3),
    ]
    # no lower level: the hardware maximum after the duration
    assert periods(install((0, night)), 3 * HOUR) == [(0, 6.0, 3), (2 * HOUR, 32.0, 3)]


def test_recurring_daily_starting_in_the_future_also_recurs_before_its_start() -> None:
    later = profile(
        1,
        periods=[(0, 6.0), (HOUR, 16.0)],
        kind="Recurring",
        recurrency="Daily",
        start=T0 + 10 * DAY + 2 * HOUR,
    )
    assert periods(install((0, later)), DAY) == [
        (0, 16.0, 3),
        (2 * HOUR, 6.0, 3),
        (3 * HOUR, 16.0, 3),
    ]


def test_recurring_weekly_on_mondays_from_8_to_18() -> None:
    monday_8 = T0 - DAY + 8 * HOUR  # T0 is a Tuesday
    for start in (monday_8, monday_8 + 5 * 7 * DAY):  # before or after startSchedule: the same
        installed = install(
            (0, profile(1, stack=0, periods=[(0, 20.0)])),
            (
                0,
                profile(
                    2,
                    stack=1,
                    periods=[(0, 10.0)],
                    kind="Recurring",
                    recurrency="Weekly",
                    start=start,
                    duration=10 * HOUR,
                ),
            ),
        )
        assert periods(installed, 8 * DAY) == [
            (0, 20.0, 3),
            (6 * DAY + 8 * HOUR, 10.0, 3),
            (6 * DAY + 18 * HOUR, 20.0, 3),
        ]


def test_recurring_periods_beyond_the_recurrence_are_not_executed() -> None:  # E3.44
    daily = profile(
        1,
        periods=[(0, 10.0), (DAY + HOUR, 5.0)],
        kind="Recurring",
        recurrency="Daily",
        start=T0,
        duration=2 * DAY,
    )
    assert periods(install((0, daily)), 2 * DAY) == [(0, 10.0, 3)]


def test_relative_starts_with_the_transaction() -> None:
    relative = profile(1, periods=[(0, 6.0), (600, 16.0)], kind="Relative", start=None)
    installed = install((0, relative))
    tx = {1: TransactionContext(T0 - 300, 9)}
    assert periods(installed, HOUR, transactions=tx) == [(0, 6.0, 3), (300, 16.0, 3)]
    limits = CompositeLimits(installed, tx)
    assert limits.connector_limit(1, T0 + 299) == ChargingLimit(6.0, "A", 3)
    assert limits.connector_limit(1, T0 + 300) == ChargingLimit(16.0, "A", 3)
    assert limits.next_change(T0) == T0 + 300
    # without a transaction it does not apply; a reply shows one starting at the request
    assert CompositeLimits(installed, {}).connector_limit(1, T0) is None
    assert periods(installed, HOUR) == [(0, 6.0, 3), (600, 16.0, 3)]


def test_absolute_without_start_schedule_starts_with_the_transaction() -> None:
    installed = install((0, profile(1, periods=[(0, 6.0), (60, 8.0)], start=None)))
    tx = {1: TransactionContext(T0 - 30)}
    assert periods(installed, 120, transactions=tx) == [(0, 6.0, 3), (30, 8.0, 3)]


def test_tx_profile_beats_tx_default_even_when_higher_then_falls_back() -> None:
    installed = install(
        (0, profile(1, stack=5, periods=[(0, 6.0)])),
        (1, profile(2, "TxProfile", 0, [(0, 20.0)], start=T0, duration=900)),
    )
    tx = {1: TransactionContext(T0 - 60, 9)}
    assert periods(installed, HOUR, transactions=tx) == [(0, 20.0, 3), (900, 6.0, 3)]


def test_a_tx_profile_of_another_transaction_does_not_apply() -> None:
    installed = install(
        (0, profile(1, periods=[(0, 6.0)])),
        (1, profile(2, "TxProfile", 0, [(0, 20.0)], transaction_id=8)),
    )
    limits = CompositeLimits(installed, {1: TransactionContext(T0, 9)})
    assert limits.connector_limit(1, T0) == ChargingLimit(6.0, "A", 3)


def test_a_connectors_own_tx_default_beats_connector_zeros() -> None:
    installed = install(
        (0, profile(1, stack=3, periods=[(0, 16.0)])),
        (1, profile(2, stack=0, periods=[(0, 10.0)], start=T0, duration=1800)),
    )
    hw = {1: HW, 2: HW}
    assert periods(installed, HOUR, hardware=hw) == [(0, 10.0, 3), (1800, 16.0, 3)]
    assert periods(installed, HOUR, connector=2, hardware=hw) == [(0, 16.0, 3)]


def test_charge_point_max_caps_a_connector_in_both_units() -> None:
    installed = install(
        (0, profile(1, "ChargePointMaxProfile", periods=[(0, 11000.0)], unit="W")),
        (0, profile(2, periods=[(0, 32.0), (1800, 10.0)], start=T0)),
    )
    # 32 A x 230 V x 3 = 22080 W > 11000 W; 10 A = 6900 W < 11000 W
    assert periods(installed, HOUR, "W") == [(0, 11000.0, 3), (1800, 6900.0, 3)]
    assert periods(installed, HOUR, "A") == [(0, 15.9, 3), (1800, 10.0, 3)]  # 15.94 down
    limits = CompositeLimits(installed, {})
    assert limits.connector_limit(1, T0) == ChargingLimit(11000.0, "W", 3)
    assert limits.station_limit(T0) == ChargingLimit(11000.0, "W", 3)


def test_watts_and_amps_with_one_and_three_phases() -> None:  # §7.12, E3.69
    one = install((0, profile(1, periods=[(0, 7360.0, 1)], unit="W")))
    assert periods(one, 60, "A") == [(0, 32.0, 1)]
    three = install((0, profile(1, periods=[(0, 11040.0)], unit="W")))  # numberPhases absent: 3
    assert periods(three, 60, "A") == [(0, 16.0, 3)]
    amps_one = install((0, profile(1, periods=[(0, 16.0, 1)])))
    assert periods(amps_one, 60, "W") == [(0, 3680.0, 1)]


def test_the_hardware_maximum_caps_a_profile_above_it() -> None:
    installed = install((0, profile(1, periods=[(0, 63.0), (600, 16.0)], start=T0)))
    assert periods(installed, HOUR) == [(0, 32.0, 3), (600, 16.0, 3)]
    single = {1: ChargingLimit(32.0, "A", 1)}
    assert periods(installed, HOUR, "A", hardware=single) == [(0, 32.0, 1), (600, 16.0, 3)]
    # in W a 1-phase 32 A connector (7360 W) is below 16 A on 3 phases (11040 W)
    assert periods(installed, HOUR, "W", hardware=single) == [(0, 7360.0, 1)]


def test_connector_zero_is_the_sum_over_connectors_then_charge_point_max() -> None:  # E3.30
    hw = {1: HW, 2: HW}
    assert periods(InstalledProfiles(), HOUR, connector=0, hardware=hw) == [(0, 64.0, 3)]
    cpmax_from_t0 = install(
        (0, profile(1, periods=[(0, 16.0)])),
        (2, profile(2, periods=[(0, 6.0)], start=T0, duration=1200)),
        (0, profile(3, "ChargePointMaxProfile", periods=[(0, 20.0), (2400, 40.0)], start=T0)),
    )
    assert periods(cpmax_from_t0, HOUR, connector=0, hardware=hw) == [
        (0, 20.0, 3),  # 16 + 6 = 22 > 20
        (2400, 32.0, 3),  # 16 + 16 under the raised maximum
    ]


def test_merged_periods_are_strictly_increasing_and_never_repeat_a_limit() -> None:
    installed = install(
        (0, profile(1, stack=0, periods=[(0, 10.0), (600, 10.0), (1200, 12.0)], start=T0)),
        (0, profile(2, stack=1, periods=[(0, 10.0)], start=T0 + 300, duration=100)),
    )
    assert periods(installed, HOUR) == [(0, 10.0, 3), (1200, 12.0, 3)]


def test_a_long_request_is_bounded() -> None:
    busy = profile(
        1,
        periods=[(i * 60, 10.0 + i % 2) for i in range(1440)],
        kind="Recurring",
        recurrency="Daily",
        start=T0,
    )
    reply = composite_schedule(install((0, busy)), {}, 1, T0, 10**9, "A", {1: HW})
    assert len(reply.periods) == 1440 and reply.duration == DAY  # cut at 1440 periods


def test_an_amp_and_a_watt_limit_compare_on_the_phases_in_use() -> None:  # E3.34
    installed = install(
        (0, profile(1, "ChargePointMaxProfile", periods=[(0, 3700.0)], unit="W")),
        (0, profile(2, periods=[(0, 10.0)])),
    )
    limits = CompositeLimits(installed, {})
    # 10 A is 6900 W on three phases but 2300 W on one
    assert limits.connector_limit(1, T0, phases=3) == ChargingLimit(3700.0, "W", 3)
    assert limits.connector_limit(1, T0, phases=1) == ChargingLimit(10.0, "A", 3)


def test_a_year_under_a_stack_of_busy_profiles_is_answered_in_full() -> None:
    """Only the profiles down to the one in force give instants (the rest are hidden)."""
    stack = [
        (0, profile(i + 1, stack=i, periods=[(k * 1800, 16.0) for k in range(48)],
                    kind="Recurring", recurrency="Daily", start=T0 + i * 60))
        for i in range(20)
    ]  # fmt: skip
    reply = composite_schedule(install(*stack), {}, 0, T0, 31_536_000, "A", {1: HW, 2: HW})
    assert reply.duration == 31_536_000
    assert [(p.start, p.limit) for p in reply.periods] == [(0, 32.0)]
