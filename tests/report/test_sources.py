"""Which logs a path holds, and the runs read from them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chargepoint.report import ReportInputError, read_report
from chargepoint.report.sources import LogKind, find_charger_logs, sniff

from .runs import scenario_report

TIMELINE_LINE = (
    '{"time":"2030-01-01T00:00:00.000Z","kind":"status","connector":1,"status":"Available"}\n'
)
AT_LINE = "2030-01-01 00:00:00.000 /dev/pts/3 >> AT+CPIN?\n"


def frames_line(cp: str, uid: str) -> str:
    return (
        json.dumps(
            {
                "seq": 1,
                "time": "2030-01-01T00:00:00.000+00:00",
                "direction": "received",
                "charge_point": cp,
                "message": [2, uid, "Heartbeat", {}],
            }
        )
        + "\n"
    )


def test_a_log_is_known_by_its_first_line_not_its_name(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("\n" + TIMELINE_LINE)
    (tmp_path / "b.log").write_text(frames_line("CP1", "u1"))
    (tmp_path / "c.jsonl").write_text(AT_LINE)
    (tmp_path / "d.jsonl").write_text('{"unrelated": true}\n')
    (tmp_path / "e.bin").write_bytes(b"\x00\x01\x02")

    assert sniff(tmp_path / "a.txt") is LogKind.TIMELINE
    assert sniff(tmp_path / "b.log") is LogKind.FRAMES
    assert sniff(tmp_path / "c.jsonl") is LogKind.AT_TRACE
    assert sniff(tmp_path / "d.jsonl") is None
    assert sniff(tmp_path / "e.bin") is None


def test_a_scenario_report_dir_is_one_section_per_scenario(tmp_path: Path) -> None:
    directory = scenario_report(tmp_path / "rep")
    content = read_report(directory)

    [run] = content.runs
    assert run.title == "A ChargePointMaxProfile of 3.7 kW cuts an 11 kW session"
    assert run.status == "passed"
    assert run.charge_point == "CP-SMART-CUT-01"
    assert {m.action for m in run.messages} >= {"SetChargingProfile", "StopTransaction"}
    assert max(m.power_offered_w or 0 for m in run.meters) == 22080
    assert 3700 in {m.power_offered_w for m in run.meters}
    assert content.notes == [] and run.notes == []


def test_a_state_dir_joins_the_logs_found_beside_its_timeline(tmp_path: Path) -> None:
    (tmp_path / "timeline.jsonl").write_text(TIMELINE_LINE)
    (tmp_path / "csms.log").write_text(frames_line("CP1", "u1"))
    (tmp_path / "trace.txt").write_text(AT_LINE)
    (tmp_path / "cpsim.sqlite3").write_bytes(b"SQLite format 3\x00")
    (tmp_path / "timeline-old.jsonl").write_text(TIMELINE_LINE)

    [logs], notes = find_charger_logs(tmp_path)

    assert logs.timeline == tmp_path / "timeline-old.jsonl"  # sorted by name; the other noted
    assert logs.frames == tmp_path / "csms.log"
    assert logs.at_trace == tmp_path / "trace.txt"
    assert notes == ["timeline.jsonl: a second timeline beside another; not shown"]


def test_logs_given_on_the_command_line_are_added(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "timeline.jsonl").write_text(TIMELINE_LINE)
    frames = tmp_path / "elsewhere.jsonl"
    frames.write_text(frames_line("CP9", "u1"))

    content = read_report(state, frames=frames)
    assert content.runs[0].charge_point == "CP9"


def test_a_csms_log_of_many_chargers_shows_the_busiest_and_says_so(tmp_path: Path) -> None:
    log = tmp_path / "csms.jsonl"
    log.write_text(
        frames_line("CP1", "a")
        + frames_line("CP2", "b")
        + frames_line("CP2", "c")
        + frames_line("CP3", "d")
    )
    [run] = read_report(log).runs
    assert run.charge_point == "CP2"
    assert len(run.messages) == 2
    assert run.notes == ["csms.jsonl: frames of CP2 shown; 2 other charger(s) (2 frames) left out"]


def test_a_dir_with_nothing_to_report_says_what_it_looked_for(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(ReportInputError, match="nothing to report: no scenario result"):
        read_report(tmp_path)


def test_logs_with_nothing_readable_say_what_was_skipped(tmp_path: Path) -> None:
    (tmp_path / "timeline.jsonl").write_text(
        '{"time":"2030-01-01T00:00:00Z","kind":"x"}\n{broken\n'
    )
    with pytest.raises(ReportInputError, match=r"hold no message.*skipped 1 line\(s\)"):
        read_report(tmp_path)
