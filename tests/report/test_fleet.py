"""A fleet report dir, written by the fleet's own writer, read back for the page."""

from __future__ import annotations

from pathlib import Path

import pytest

from chargepoint.report import ReportInputError, read_report
from chargepoint.report.fleet import (
    EVENTS,
    SAMPLES,
    SUMMARY,
    figures,
    is_fleet_dir,
    read_fleet,
    summary_rows,
)


def write_fleet_report(directory: Path, chargers: int) -> Path:
    """``chargers`` that connect and boot 0.1 s apart (one reconnects), sampled once a second,
    with the summary the fleet writes at its end."""
    fleet_report = pytest.importorskip("chargepoint.fleet.report")
    writer = fleet_report.FleetReportWriter(directory)
    messages = 0
    for n in range(chargers):
        t = round(0.1 * n, 3)
        cp = f"CP{n + 1:05d}"
        writer.event({"t": t, "cp": cp, "event": "connected", "url": "ws://127.0.0.1/ocpp"})
        writer.event({"t": t + 0.02, "cp": cp, "event": "booted"})
    writer.event({"t": 1.5, "cp": "CP00001", "event": "disconnected", "reason": "closed"})
    writer.event({"t": 2.5, "cp": "CP00001", "event": "connected", "url": "ws://127.0.0.1/ocpp"})
    writer.event({"t": 2.6, "cp": "CP00001", "event": "booted"})
    for second in range(1, 6):
        up = min(chargers, second * 10)
        messages += up * 4
        writer.sample(
            {
                "t": float(second),
                "started": up,
                "connected": up,
                "booted": up,
                "sent": messages // 2,
                "received": messages // 2,
                "errors": 0,
            }
        )
    writer.summary(
        {
            "started": "2030-01-01T00:00:00+00:00",
            "duration_s": 5.0,
            "count": chargers,
            "shard": "0/1",
            "booted": chargers,
            "never_booted": 0,
            "failures": {},
            "latency_ms": {"count": 400, "p50": 1.5, "p90": 4.0, "p99": 9.0, "max": 12.5},
            "all_booted_s": round(0.1 * (chargers - 1) + 0.02, 3),
        }
    )
    writer.close()
    return directory


def test_the_fleet_writer_and_the_report_agree_on_file_names() -> None:
    fleet_report = pytest.importorskip("chargepoint.fleet.report")
    assert (EVENTS, SAMPLES, SUMMARY) == (
        fleet_report.EVENTS,
        fleet_report.SAMPLES,
        fleet_report.SUMMARY,
    )


def test_boot_curve_counts_each_charger_once(tmp_path: Path) -> None:
    directory = write_fleet_report(tmp_path, chargers=12)
    assert is_fleet_dir(directory)
    digest = read_fleet(directory)

    assert len(digest.boot_times) == 12  # CP00001's second boot is not a new charger
    assert digest.boot_times[0] == pytest.approx(0.02)
    assert digest.events["connected"] == 13
    assert digest.samples[0].t == 0  # the curve starts from nothing
    assert [s.connected for s in digest.samples[1:3]] == [10, 12]
    assert len(figures(digest)) == 4
    assert ("booted", "12") in summary_rows(digest)
    assert digest.notes == []


def test_a_fleet_cut_mid_write_is_reported_with_what_was_skipped(tmp_path: Path) -> None:
    directory = write_fleet_report(tmp_path, chargers=5)
    (directory / SUMMARY).unlink()
    with (directory / EVENTS).open("a") as events:
        events.write('{"t": 9.0, "cp": "CP0')  # killed mid-line

    digest = read_report(directory).fleet
    assert digest is not None
    assert len(digest.boot_times) == 5
    assert any("did not finish" in n for n in digest.notes)
    assert any("last line is cut" in n for n in digest.notes)
    assert ("chargers in the events", "5") in summary_rows(digest)


def test_an_empty_fleet_dir_is_nothing_to_report(tmp_path: Path) -> None:
    (tmp_path / EVENTS).write_text("")
    (tmp_path / SAMPLES).write_text("")
    with pytest.raises(ReportInputError, match="nothing to report"):
        read_report(tmp_path)


def write_sessions_and_faults(directory: Path) -> Path:
    """Ten chargers for six seconds with generated sessions and a cellular profile's
    faults (an outage of 4 chargers from 3 s to 5 s), as the fleet's writer puts them."""
    fleet_report = pytest.importorskip("chargepoint.fleet.report")
    writer = fleet_report.FleetReportWriter(directory)
    for second in range(1, 7):
        faults = {
            "send_fails": second,
            "pdp_deactivations": second // 2,
            "cell_outages": 1 if second >= 3 else 0,
            "outage_chargers": 4 if second >= 3 else 0,
            "cell_lost_now": 4 if 3 <= second < 5 else 0,
            "dropped_by_send_fail": 0,
            "dropped_by_pdp": second // 2,
            "dropped_by_outage": 3 if second >= 3 else 0,
        }
        sessions = {"started": 2 * second, "stopped": second, "invalid_tags": 1, "refused": 1}
        writer.sample(
            {"t": float(second), "connected": 10, "booted": 10, "sent": 0, "received": 0,
             "errors": 0, "link_faults": faults, "transactions": sessions}
        )  # fmt: skip
    writer.summary(
        {
            "count": 10,
            "booted": 10,
            "transactions": {"started": 12, "stopped": 6, "energy_kwh": 41.5},
            "link_faults": {"pdp_deactivations": 3, "dropped_by_outage": 3, "bogus": "x"},
        }
    )
    writer.close()
    return directory


def test_sessions_and_link_faults_are_drawn_over_time(tmp_path: Path) -> None:
    write_sessions_and_faults(tmp_path)
    digest = read_fleet(tmp_path)
    [chart] = [f for f in figures(digest) if "link faults" in f.layout.title.text]
    traces = {t.name: list(t.y) for t in chart.data}
    assert traces["transactions started"][-1] == 12
    assert traces["PDP deactivations"] == [0, 0, 1, 1, 2, 2, 3]  # from 0 at the start
    assert traces["connections dropped by a fault"][-1] == 6
    assert traces["chargers without the cell (now)"] == [0, 0, 0, 4, 4, 0, 0]
    rows = dict(summary_rows(digest))
    assert rows["sessions: energy of stopped transactions (kWh)"] == "41.5"
    assert rows["link faults: connections dropped by an outage"] == "3"
    assert not any("bogus" in label for label in rows)


def test_a_fleet_without_sessions_or_faults_has_no_such_chart(tmp_path: Path) -> None:
    digest = read_fleet(write_fleet_report(tmp_path, chargers=3))
    assert not any("link faults" in f.layout.title.text for f in figures(digest))
