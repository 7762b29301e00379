"""The EV in scenarios: the ``set_ev`` step, ``suspend: {by: ev}``, the ``$measurands``
matcher, and the bundled smart_charging_cuts_power scenario failing when the charger
would ignore the limit."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from chargepoint.scenario import load_scenario
from chargepoint.scenario import matchers as m
from chargepoint.scenario.errors import ProblemList, ScenarioLoadError
from chargepoint.scenario.loader import parse_scenario
from chargepoint.scenario.report import render
from chargepoint.scenario.runner import RunOptions, run_scenario

SCENARIOS = Path(__file__).parents[2] / "scenarios"

METER_VALUE = {
    "timestamp": "2030-01-01T00:01:00.000Z",
    "sampledValue": [
        {"value": "245", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": "3700.0", "measurand": "Power.Active.Import", "unit": "W"},
        {"value": "5.36", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
        {"value": "5.36", "measurand": "Current.Import", "phase": "L2", "unit": "A"},
        {"value": "0.00", "measurand": "Current.Import", "phase": "L3", "unit": "A"},
        {"value": "1200"},  # no measurand: the energy register (§7.31)
    ],
}


def matcher(data: Any) -> m.Matcher:
    problems = ProblemList()
    found = m.parse({"$measurands": data}, problems)
    assert problems.items == []
    return found


@pytest.mark.parametrize(
    ("wanted", "ok"),
    [
        ({"Power.Active.Import": 3700}, True),
        ({"Power.Active.Import": {"$max": 3700}}, True),
        ({"Power.Active.Import": {"$max": 3699}}, False),
        ({"Current.Import@L1": {"$min": 5.3, "$max": 5.4}}, True),
        ({"Current.Import": {"$max": 6}}, True),  # every phase
        ({"Current.Import": {"$min": 5}}, False),  # L3 carries nothing
        ({"Energy.Active.Import.Register": {"$min": 1000}}, False),  # 245 is one of them
        ({"SoC": "$absent"}, True),
        ({"SoC": {"$min": 0}}, False),
        ({"Power.Active.Import": 3700, "Current.Import@L3": 0}, True),
    ],
)
def test_measurands_are_matched_as_numbers(wanted: dict[str, Any], ok: bool) -> None:
    assert matcher(wanted).matches([METER_VALUE]) is ok


def test_one_meter_value_must_match_all_of_them_and_a_mismatch_names_the_reading() -> None:
    early = {"sampledValue": [{"value": "11040.0", "measurand": "Power.Active.Import"}]}
    wanted = matcher({"Power.Active.Import": 3700, "Current.Import@L1": 5.36})
    assert wanted.matches([early, METER_VALUE])
    assert [str(p) for p in wanted.mismatches([early], "meterValue")] == [
        "meterValue[0].Power.Active.Import: expected 3700, got 11040",
        "meterValue[0].Current.Import@L1: expected 5.36, got nothing (field absent)",
    ]


def test_unknown_measurands_and_phases_are_refused_with_a_suggestion() -> None:
    problems = ProblemList()
    m.parse({"$measurands": {"Power.Active.Imprt": 1, "Current.Import@L4": 1}}, problems)
    texts = [p.message for p in problems.items]
    assert texts[0] == ("unknown measurand 'Power.Active.Imprt'; did you mean Power.Active.Import?")
    assert texts[1] == (
        "unknown phase 'L4' (expected one of L1, L2, L3, N, L1-N, L2-N, L3-N, L1-L2, L2-L3, L3-L1)"
    )
    problems = ProblemList()
    m.parse({"$measurands": []}, problems)
    assert "takes a mapping of measurands" in problems.items[0].message


def test_set_ev_loads_and_refuses_an_ev_with_both_a_power_and_a_battery() -> None:
    steps = parse_scenario(
        "charger: {connectors: 2}\nsteps:\n  - set_ev: {capacity_wh: 60000, soc: 20, phases: 3}\n"
        "  - set_ev: {connector: 2, power_w: 7400}\n  - suspend: {by: ev}\n"
    ).steps
    assert [s.describe() for s in steps] == [
        "set_ev {capacity_wh: 60000, soc: 20, phases: 3}",
        "set_ev {connector: 2, power_w: 7400}",
        "suspend {by: ev}",
    ]
    for text, problem in [
        (
            "{power_w: 7000, phases: 4}",
            "s.yaml:2:37: steps[0].set_ev.phases: expected 1, 2 or 3, got 4",
        ),
        (
            "{power_w: 7000, soc: 20}",
            "s.yaml:2:29: steps[0].set_ev.soc: an EV has a fixed power_w or a battery, "
            "not both (soc given too)",
        ),
    ]:
        with pytest.raises(ScenarioLoadError) as caught:
            parse_scenario(f"steps:\n  - set_ev: {text}\n", "s.yaml")
        assert [str(p) for p in caught.value.problems] == [problem]


@pytest.mark.parametrize(
    ("text", "replacement", "detail"),
    [
        # a charger ignoring the profile would go on at 11 040 W
        ("limit: 3700}", "limit: 22080}", "Power.Active.Import: expected 3700, got 11040"),
        # an EV not modelled (the default fixed 7.4 kW on one phase) shows no 16 A per phase
        ("max_current_a: 16, phases: 3", "max_current_a: 32, phases: 1", "Current.Import"),
    ],
    ids=["profile-ignored", "ev-not-modelled"],
)
async def test_the_bundled_cut_scenario_fails_on_a_charger_breaking_it(
    tmp_path: Path, text: str, replacement: str, detail: str
) -> None:
    original = (SCENARIOS / "smart_charging_cuts_power.yaml").read_text()
    assert text in original
    path = tmp_path / "cut.yaml"
    path.write_text(textwrap.dedent(original.replace(text, replacement)))
    result = await run_scenario(load_scenario(path), RunOptions())
    failed = result.failed_step
    assert failed is not None and failed.kind == "expect_received", render(result)
    assert any(detail in line for line in failed.details), "\n".join(failed.details)


async def test_a_scenario_drives_the_ev_to_full_and_pauses_it(tmp_path: Path) -> None:
    path = tmp_path / "full.yaml"
    path.write_text(
        textwrap.dedent("""\
        charger:
          id: CP-EV-FULL
          time_scale: virtual
          configuration:
            MeterValueSampleInterval: 60
            MeterValuesSampledData: Power.Active.Import,SoC
        steps:
          - wait: {until: boot_accepted}
          # 2 kWh at 99 %: 20 Wh at 10 % of 3 680 W, full after 195.7 s
          - set_ev: {capacity_wh: 2000, soc: 99, max_current_a: 16, phases: 1}
          - plug_in: 1
          - present_tag: TAG-1
          - expect_received: {action: StatusNotification, payload: {status: Charging}}
          - expect_received:
              action: MeterValues
              payload: {meterValue: {$measurands: {Power.Active.Import: 368, SoC: 99}}}
              within: 60s
          - expect_received:
              action: StatusNotification
              payload: {status: SuspendedEV}
              within: 140s
          - expect_received:
              action: MeterValues
              payload: {meterValue: {$measurands: {Power.Active.Import: 0, SoC: 100}}}
              within: 2m
          - set_ev: {soc: 60}
          - expect_received: {action: StatusNotification, payload: {status: Charging}}
          - suspend: {by: ev}
          - expect_received: {action: StatusNotification, payload: {status: SuspendedEV}}
          - start_charging: 1
          - expect_received: {action: StatusNotification, payload: {status: Charging}}
          - expect_received:
              action: MeterValues
              payload: {meterValue: {$measurands: {Power.Active.Import: 3680, SoC: 63}}}  # +61 Wh
              within: 60s
        """)
    )
    result = await run_scenario(load_scenario(path), RunOptions())
    assert result.status == "passed", render(result)
