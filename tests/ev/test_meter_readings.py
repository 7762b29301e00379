"""The pure arithmetic of metering: shares of a station limit, clock-aligned instants,
and sampledValues consistent with each other."""

from __future__ import annotations

import pytest

from chargepoint.core.meter_readings import Reading, next_aligned, sampled_values, share_power

T0 = 1_893_456_000.0  # 2030-01-01T00:00:00Z


@pytest.mark.parametrize(
    ("wants", "total", "shares"),
    [
        ({1: 11_040, 2: 11_040}, 11_040, {1: 5520, 2: 5520}),
        ({1: 2000, 2: 11_040}, 11_040, {1: 2000, 2: 9040}),  # what 1 leaves goes to 2
        ({1: 2000, 2: 3000}, 11_040, {1: 2000, 2: 3000}),  # enough for both
        ({1: 7360, 2: 7360, 3: 1000}, 7000, {1: 3000, 2: 3000, 3: 1000}),
        ({1: 7360}, 0, {1: 0}),
        ({1: 7360}, -10, {1: 0}),
    ],
)
def test_a_station_limit_is_shared_max_min_fairly(
    wants: dict[int, float], total: float, shares: dict[int, float]
) -> None:
    assert share_power(wants, total) == pytest.approx(shares)


@pytest.mark.parametrize(
    ("wall", "interval", "expected"),
    [
        (T0, 900, T0 + 900),  # on a boundary: the next one
        (T0 + 1, 900, T0 + 900),
        (T0 + 899.999, 900, T0 + 900),
        (T0 + 86_000, 7000, T0 + 86_400),  # the day's last interval is cut short at midnight
        (T0 + 86_400 + 10, 7000, T0 + 86_400 + 7000),  # and counting starts again
    ],
)
def test_clock_aligned_instants_count_from_midnight(
    wall: float, interval: int, expected: float
) -> None:
    assert next_aligned(wall, interval) == expected


def test_readings_are_consistent_with_each_other() -> None:
    power = 3700.0
    reading = Reading(
        energy_wh=1234.9,
        power_w=power,
        currents_a=(power / 690, power / 690, power / 690),
        voltage=230,
        offered_w=3700,
        offered_a=3700 / 690,
        soc=55.9,
    )
    measurands = ["Energy.Active.Import.Register", "Power.Active.Import", "Current.Import"]
    values = sampled_values(reading, [*measurands, "Voltage", "SoC", "Temperature"], "Trigger")
    shown = [(v["measurand"], v.get("phase"), v["value"], v["unit"]) for v in values]
    assert shown == [
        ("Energy.Active.Import.Register", None, "1234", "Wh"),
        ("Power.Active.Import", None, "3700.0", "W"),
        ("Current.Import", "L1", "5.36", "A"),
        ("Current.Import", "L2", "5.36", "A"),
        ("Current.Import", "L3", "5.36", "A"),
        ("Voltage", "L1-N", "230.0", "V"),
        ("Voltage", "L2-N", "230.0", "V"),
        ("Voltage", "L3-N", "230.0", "V"),
        ("SoC", None, "55", "Percent"),  # Temperature: not measured, left out
    ]
    assert {v["context"] for v in values} == {"Trigger"}
    assert {v["location"] for v in values} == {"Outlet", "EV"}
    assert values[-1]["location"] == "EV"
    main = Reading(0, 0, (0.0,), 230, 0, 0, None, main=True)
    assert sampled_values(main, ["Power.Active.Import", "SoC"], "Sample.Clock") == [
        {
            "value": "0.0",
            "context": "Sample.Clock",
            "measurand": "Power.Active.Import",
            "location": "Inlet",
            "unit": "W",
        }
    ]
