"""The EV model on its own (chargepoint.core.ev): demand, curve, phases, battery."""

from __future__ import annotations

import pytest

from chargepoint.core.ev import (
    TAPER_FLOOR,
    BatteryEv,
    ChargerRating,
    FixedPowerEv,
    InvalidEv,
    offered_w,
)

CHARGER = ChargerRating(max_current_a=32, phases=3, voltage=230)


def test_a_fixed_power_ev_draws_its_power_on_one_phase_up_to_one_phases_rating() -> None:
    assert FixedPowerEv(7360).phases_on(CHARGER) == 1
    assert FixedPowerEv(11000).phases_on(CHARGER) == 3
    assert FixedPowerEv(7360).demand_w(CHARGER) == 7360
    assert FixedPowerEv(7360).soc() is None and FixedPowerEv(7360).wh_to_next_step() is None


def test_a_paused_ev_asks_for_nothing() -> None:
    assert FixedPowerEv(7360, paused=True).demand_w(CHARGER) == 0
    assert BatteryEv(paused=True).demand_w(CHARGER) == 0


def test_full_power_below_80_percent_is_its_current_times_voltage_times_phases() -> None:
    ev = BatteryEv(capacity_wh=60_000, max_current_a=16, phases=3).with_soc(50)
    assert ev.demand_w(CHARGER) == pytest.approx(16 * 230 * 3)  # 11 040 W
    assert ev.soc() == pytest.approx(50)


def test_phases_in_use_are_the_fewest_of_ev_and_charger() -> None:
    assert BatteryEv(phases=1).phases_on(CHARGER) == 1
    assert BatteryEv(phases=3).phases_on(ChargerRating(phases=1)) == 1
    assert BatteryEv(phases=3, max_current_a=16).demand_w(ChargerRating(phases=1)) == 16 * 230


def test_the_taper_falls_in_one_percent_steps_to_the_floor() -> None:
    ev = BatteryEv(capacity_wh=10_000, max_current_a=16, phases=3)
    full = 16 * 230 * 3
    demands = []
    for soc in (79.9, 80, 80.5, 81, 90, 99, 99.99):
        demands.append(ev.with_soc(soc).demand_w(CHARGER) / full)
    assert demands == pytest.approx([1.0, 0.955, 0.955, 0.91, 0.505, TAPER_FLOOR, TAPER_FLOOR])
    assert ev.with_soc(100).demand_w(CHARGER) == 0  # full: it stops drawing


def test_the_next_step_is_the_energy_to_the_next_percent_of_the_taper() -> None:
    ev = BatteryEv(capacity_wh=10_000).with_soc(50)
    assert ev.wh_to_next_step() == pytest.approx(3000)  # to 80 %
    ev.charge(3000)
    assert ev.wh_to_next_step() == pytest.approx(100)  # 1 % of 10 kWh
    ev.charge(100 - 1e-9)  # a timer's float rounding: the step counts as reached
    assert ev.curve() == pytest.approx(0.91)
    ev.charge(10_000)
    assert ev.full and ev.soc() == 100 and ev.wh_to_next_step() is None


def test_charging_stops_at_the_capacity() -> None:
    ev = BatteryEv(capacity_wh=1000).with_soc(99)
    ev.charge(50)
    assert ev.energy_wh == 1000


def test_offered_power_is_the_rating_under_the_limit() -> None:
    assert offered_w(CHARGER, 3, None) == 32 * 230 * 3
    assert offered_w(CHARGER, 3, 3700) == 3700
    assert offered_w(CHARGER, 1, 50_000) == 32 * 230
    assert offered_w(CHARGER, 3, -5) == 0


@pytest.mark.parametrize(
    ("build", "words"),
    [
        (lambda: BatteryEv(capacity_wh=0), "capacity"),
        (lambda: BatteryEv(phases=4), "1 to 3 phases"),
        (lambda: BatteryEv(max_current_a=float("nan")), "max current"),
        (lambda: BatteryEv().with_soc(101), "SoC 101"),
        (lambda: FixedPowerEv(-1), "power"),
        (lambda: ChargerRating(phases=0), "1 to 3 phases"),
    ],
)
def test_an_impossible_ev_is_refused_naming_what_is_wrong(build, words: str) -> None:
    with pytest.raises(InvalidEv, match=words):
        build()
