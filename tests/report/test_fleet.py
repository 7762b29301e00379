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
