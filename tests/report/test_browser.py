"""A report opened in headless Chromium (Debian's ``chromium``): it renders with no
console error, requests nothing from the network, and shows what the run did."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from chargepoint.cli import main

from .browser import find_chromium, visit_page
from .runs import modem_run, scenario_report

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed and could not be (.ci/run installs it with "
    "apt-get where apt-get exists): the report's browser test cannot run here",
)

# Waits (bounded) until plotly has drawn every chart, then says what a person sees.
WHAT_IS_SHOWN = """
(async () => {
  const charts = () => [...document.querySelectorAll('.plotly-graph-div')];
  for (let i = 0; i < 100 && !charts().every(c => c.querySelector('.main-svg')); i++) {
    await new Promise(r => setTimeout(r, 100));
  }
  const texts = sel => [...document.querySelectorAll(sel)].map(e => e.textContent);
  return {
    charts: charts().length,
    drawn: charts().filter(c => c.querySelector('.main-svg')).length,
    titles: texts('.gtitle'),
    legend: texts('.legendtext'),
    badges: texts('.badge'),
    rows: [...document.querySelectorAll('.seq-row[data-action]')]
      .map(r => r.dataset.action + ' ' + r.dataset.kind),
    at_blocks: texts('.seq-at summary'),
    notes: texts('.notes li'),
    facts: texts('.facts td'),
  };
})()
"""


def report_page(path: Path, *extra: str) -> Path:
    out = path / "report.html" if path.is_dir() else path.with_suffix(".html")
    result = CliRunner().invoke(main, ["report", str(path), "-o", str(out), *extra])
    assert result.exit_code == 0, result.output
    return out


def shown(page: Path) -> dict[str, Any]:
    assert CHROMIUM is not None
    visit = visit_page(CHROMIUM, page, WHAT_IS_SHOWN)
    assert visit.errors == []
    assert visit.requests == [], "a self-contained page fetches nothing"
    result = visit.result
    assert isinstance(result, dict)
    assert result["charts"] > 0 and result["drawn"] == result["charts"]
    return result


def test_a_modem_run_shows_its_messages_with_the_at_commands_beneath(tmp_path: Path) -> None:
    seen = shown(report_page(modem_run(tmp_path / "state")))

    assert {"Connector states", "Round-trip latency"} <= set(seen["titles"])
    assert any(t.startswith("Power, energy and SoC") for t in seen["titles"])
    assert "Charging" in seen["legend"] and "Available" in seen["legend"]
    rows = seen["rows"]
    for row in (
        "BootNotification CALL",
        "BootNotification RESULT",
        "RemoteStartTransaction CALL",
        "StartTransaction CALL",
        "MeterValues CALL",
        "RemoteStopTransaction CALL",
        "StopTransaction CALL",
    ):
        assert row in rows
    assert rows.index("RemoteStartTransaction CALL") < rows.index("StopTransaction CALL")
    # the modem's set-up first, then the AT lines that carried each message
    assert "set-up" in seen["at_blocks"][0]
    assert len(seen["at_blocks"]) > len(rows) // 2
    assert seen["notes"] == []


def test_a_scenario_shows_the_power_cut_to_the_limit(tmp_path: Path) -> None:
    directory = scenario_report(tmp_path / "rep")
    seen = shown(report_page(directory))

    assert seen["badges"] == ["passed"]
    assert "Power.Offered c1 (limit)" in seen["legend"]
    assert "SoC c1" in seen["legend"]
    assert "SetChargingProfile CALL" in seen["rows"]
    assert "ClearChargingProfile CALL" in seen["rows"]


def test_a_fleet_shows_its_boot_curve_and_percentiles(tmp_path: Path) -> None:
    from .test_fleet import write_fleet_report

    directory = write_fleet_report(tmp_path / "fleet", chargers=30)
    seen = shown(report_page(directory))

    assert {
        "Boot curve",
        "Connected chargers over time",
        "Message rate (sent + received)",
    } <= set(seen["titles"])
    assert any(t.startswith("Round-trip latency percentiles") for t in seen["titles"])
    facts = seen["facts"]
    assert facts[facts.index("booted") + 1] == "30"


def test_a_cellular_fleet_shows_its_sessions_and_link_faults(tmp_path: Path) -> None:
    from .test_fleet import write_sessions_and_faults

    seen = shown(report_page(write_sessions_and_faults(tmp_path / "fleet")))

    assert "Sessions and link faults over time" in seen["titles"]
    assert {"transactions started", "PDP deactivations", "chargers without the cell (now)"} <= set(
        seen["legend"]
    )
    facts = seen["facts"]
    assert facts[facts.index("link faults: PDP deactivations") + 1] == "3"
