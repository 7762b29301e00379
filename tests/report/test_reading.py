"""Bounded reading: what is skipped is counted and said, never silently dropped."""

from __future__ import annotations

from pathlib import Path

from chargepoint.report import reading
from chargepoint.report.reading import ReadStats, json_lines, text_lines


def test_a_line_cut_by_a_kill_is_the_truncated_tail(tmp_path: Path) -> None:
    log = tmp_path / "timeline.jsonl"
    log.write_text('{"kind": "a"}\n{"kind": "b"}\n{"kind": "c", "ti')
    stats = ReadStats(log)

    assert [r["kind"] for r in json_lines(stats)] == ["a", "b"]
    assert stats.truncated_tail
    assert stats.notes() == [
        "timeline.jsonl: its last line is cut (written while the run was stopped?)"
    ]


def test_bad_lines_are_named_by_number_then_counted(tmp_path: Path) -> None:
    log = tmp_path / "frames.jsonl"
    lines = ['{"ok": 1}', "not json", "[1, 2]", "", '"text"', "{broken", "{also", '{"ok": 2}']
    log.write_text("\n".join(lines) + "\n")
    stats = ReadStats(log)

    assert [r["ok"] for r in json_lines(stats)] == [1, 2]
    assert not stats.truncated_tail
    assert stats.notes() == [
        "frames.jsonl: skipped 5 line(s) that are not understood (line 2, 3, 5 and 2 more)"
    ]


def test_an_enormous_line_is_skipped_without_being_held(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(reading, "LINE_MAX", 100)
    log = tmp_path / "big.jsonl"
    log.write_text('{"n": 1}\n' + '{"pad": "' + "x" * 1000 + '"}\n{"n": 2}\n')
    stats = ReadStats(log)

    assert [r["n"] for r in json_lines(stats)] == [1, 2]
    assert stats.long_count == 1
    assert "skipped 1 line(s) longer than 0.1 KiB" in stats.notes()[0]


def test_an_enormous_log_is_read_up_to_the_bound_and_says_so(tmp_path: Path) -> None:
    log = tmp_path / "at.log"
    log.write_text("".join(f"line {n}\n" for n in range(10_000)))
    stats = ReadStats(log)

    read = list(text_lines(stats, limit=1000))

    assert read[0] == (1, "line 0")
    assert 100 < len(read) < 200
    assert stats.cut_at is not None and stats.cut_at <= 1000 + 16
    assert stats.notes()[0].startswith("at.log: read the first 1.0 KiB of ")
    assert "the rest is not in this report" in stats.notes()[0]


def test_a_log_within_the_bound_has_no_note(tmp_path: Path) -> None:
    log = tmp_path / "timeline.jsonl"
    log.write_text('{"kind": "a"}\n')
    stats = ReadStats(log)
    assert len(list(json_lines(stats))) == 1
    assert stats.notes() == []
