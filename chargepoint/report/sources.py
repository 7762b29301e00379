"""What a path holds that a report can show, and the charger runs read from it.

``cpsim report PATH`` accepts:

* a scenario report dir (``cpsim scenario run --report DIR``): per scenario ``<name>.json``
  naming its ``frames_file`` and ``timeline_file``; one section per scenario;
* a ``cpsim run`` state dir: ``timeline.jsonl``, plus any frame log (``cpsim csms --log``)
  and AT trace (``--at-log``) found beside it or given with ``--frames`` / ``--at-log``;
* a fleet report dir (:mod:`.fleet`);
* one log file of any of these kinds.

A file's kind is told from its first line, not its name: a JSON object with
``direction`` and ``message`` is a frame log, one with ``time`` and ``kind`` a timeline,
a line ``YYYY-MM-DD HH:MM:SS.mmm PORT >> ...`` an AT trace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Final

from .parse import (
    apply_frames,
    apply_timeline,
    at_trace_line,
    attach_at_lines,
    frame_charge_points,
    messages_from_timeline,
)
from .reading import (
    ReadStats,
    ReportInputError,
    json_lines,
    raw_lines,
    read_head,
    read_json_document,
    text_lines,
)
from .records import AtTraceLine, ChargerRun, SequenceMessage

FILES_MAX: Final = 500
"""Files of one dir looked at; more are named in a note."""
RUNS_MAX: Final = 50
"""Scenario sections in one page; more are named in a note."""


class LogKind(Enum):
    TIMELINE = "timeline"
    FRAMES = "frames"
    AT_TRACE = "AT trace"


def sniff(path: Path) -> LogKind | None:
    """What kind of log ``path`` is, from its first non-blank line; None if none of ours."""
    head = read_head(path)
    for raw in head.splitlines()[:5]:
        line = raw.strip()
        if not line:
            continue
        if line.startswith(b"{"):
            try:
                first = json.loads(line)
            except ValueError:
                return None
            if isinstance(first, dict) and "direction" in first and "message" in first:
                return LogKind.FRAMES
            if isinstance(first, dict) and "time" in first and "kind" in first:
                return LogKind.TIMELINE
            return None
        text = line.decode("utf-8", "replace")
        return LogKind.AT_TRACE if at_trace_line(text) is not None else None
    return None


@dataclass
class ChargerLogs:
    """The logs of one charger run (any of them may be missing)."""

    title: str
    timeline: Path | None = None
    frames: Path | None = None
    at_trace: Path | None = None
    result: dict[str, Any] = field(default_factory=dict)
    """A scenario's result document (title, status, reason)."""


def find_charger_logs(
    path: Path, frames: Path | None = None, at_trace: Path | None = None
) -> tuple[list[ChargerLogs], list[str]]:
    """The charger runs in ``path`` and the notes on what was left out."""
    notes: list[str] = []
    if path.is_file():
        logs = ChargerLogs(path.name)
        _assign(logs, path, sniff(path))
        found = [logs] if (logs.timeline or logs.frames or logs.at_trace) else []
    else:
        found = _scan_dir(path, notes)
    if (frames or at_trace) and not found:
        found = [ChargerLogs(path.name)]
    for logs in found:
        logs.frames = frames or logs.frames
        logs.at_trace = at_trace or logs.at_trace
    if len(found) > RUNS_MAX:
        notes.append(f"{len(found)} runs found; the first {RUNS_MAX} are shown")
        found = found[:RUNS_MAX]
    return found, notes


def _assign(logs: ChargerLogs, path: Path, kind: LogKind | None) -> None:
    if kind is LogKind.TIMELINE and logs.timeline is None:
        logs.timeline = path
    elif kind is LogKind.FRAMES and logs.frames is None:
        logs.frames = path
    elif kind is LogKind.AT_TRACE and logs.at_trace is None:
        logs.at_trace = path


def _scan_dir(path: Path, notes: list[str]) -> list[ChargerLogs]:
    try:
        entries = sorted(p for p in path.iterdir() if p.is_file())
    except OSError as exc:
        raise ReportInputError(f"{path}: cannot be listed: {exc.strerror}") from exc
    if len(entries) > FILES_MAX:
        notes.append(f"{path}: {len(entries)} files; only the first {FILES_MAX} were looked at")
        entries = entries[:FILES_MAX]
    runs: list[ChargerLogs] = []
    claimed: set[Path] = set()
    for entry in entries:
        if entry.suffix != ".json":
            continue
        result = read_json_document(entry)
        if result is None or not ("frames_file" in result or "timeline_file" in result):
            continue
        logs = ChargerLogs(str(result.get("title") or entry.stem), result=result)
        for key in ("frames_file", "timeline_file"):
            name = result.get(key)
            if isinstance(name, str) and (entry.parent / name).is_file():
                found = entry.parent / Path(name).name
                claimed.add(found)
                _assign(logs, found, LogKind.FRAMES if key == "frames_file" else LogKind.TIMELINE)
        runs.append(logs)
    loose = ChargerLogs(path.resolve().name)
    for entry in entries:
        if entry in claimed or entry.suffix in (".json", ".html", ".sqlite3", ".lock"):
            continue
        kind = sniff(entry)
        if kind is None:
            continue
        before = (loose.timeline, loose.frames, loose.at_trace)
        _assign(loose, entry, kind)
        if before == (loose.timeline, loose.frames, loose.at_trace):
            notes.append(f"{entry.name}: a second {kind.value} beside another; not shown")
    if loose.timeline or loose.frames or loose.at_trace:
        runs.append(loose)
    return runs


def read_charger_run(logs: ChargerLogs) -> ChargerRun:
    """Read and join the logs of one run (each bounded: see :mod:`.reading`)."""
    result = logs.result
    run = ChargerRun(
        logs.title, status=str(result.get("status", "")), reason=str(result.get("reason", ""))
    )
    timeline_messages: list[dict[str, Any]] = []
    if logs.timeline is not None:
        stats = ReadStats(logs.timeline)
        timeline_messages = apply_timeline(run, json_lines(stats))
        _sourced(run, stats, "timeline")
    messages: list[SequenceMessage] = []
    if logs.frames is not None:
        messages = _frames(run, logs.frames)
        run.diagram_clock = "CSMS clock, UTC"
    if not messages:
        messages = messages_from_timeline(run, timeline_messages)
        run.diagram_clock = "charger clock, UTC"
    if run.messages_total > len(messages):
        run.notes.append(
            f"the sequence diagram shows the first {len(messages)} of {run.messages_total} messages"
        )
    run.messages = messages
    if logs.at_trace is not None:
        stats = ReadStats(logs.at_trace)
        lines: list[AtTraceLine] = []
        for number, text in text_lines(stats):
            line = at_trace_line(text)
            if line is None:
                if text.strip():
                    stats.bad(number)
                continue
            lines.append(line)
        run.at_total = len(lines)
        run.setup_at_lines = attach_at_lines(messages, lines, run.link_up)
        _sourced(run, stats, "AT trace")
    run.meters.sort(key=lambda m: m.time)
    run.statuses.sort(key=lambda s: s.time)
    return run


def _frames(run: ChargerRun, path: Path) -> list[SequenceMessage]:
    stats = ReadStats(path)
    counts = frame_charge_points(line for _n, line, _ended in raw_lines(stats))
    chosen = max(counts, key=lambda cp: counts[cp]) if counts else ""
    run.charge_point = chosen
    if len(counts) > 1:
        run.notes.append(
            f"{path.name}: frames of {chosen} shown; {len(counts) - 1} other charger(s) "
            f"({sum(counts.values()) - counts[chosen]} frames) left out"
        )
    stats = ReadStats(path)
    frames = (f for f in json_lines(stats) if str(f.get("charge_point", "")) == chosen)
    messages = apply_frames(run, frames)
    _sourced(run, stats, "frame log")
    return messages


def _sourced(run: ChargerRun, stats: ReadStats, what: str) -> None:
    run.sources.append(f"{what}: {stats.path} ({stats.lines} lines)")
    run.notes.extend(stats.notes())
