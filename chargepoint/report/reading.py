"""Bounded reading of the logs a report is made from: JSON lines and text lines.

Every file is read from its start up to :data:`FILE_MAX` bytes (a report of an enormous
log shows its beginning and says where it stopped); a line longer than :data:`LINE_MAX`
is skipped without being held in memory; a line that is not a JSON object (a line cut
by a kill -9, a stray print) is skipped.  Nothing is skipped silently: each reader
counts what it left out in its :class:`ReadStats`, whose :meth:`ReadStats.notes` the
page shows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

FILE_MAX: Final = 64 * 1024 * 1024
"""Bytes read from one log; the rest is left out, and the page says so."""
LINE_MAX: Final = 1024 * 1024
"""A longer line is skipped (no OCPP frame or AT trace line of ours comes near it)."""
NOTED_LINES: Final = 3
"""How many bad line numbers a note names before it only counts them."""


class ReportInputError(Exception):
    """A report cannot be made from this input (nothing to report, an unreadable file)."""


@dataclass
class ReadStats:
    """What one reader took from one file and what it left out."""

    path: Path
    size: int = 0
    lines: int = 0
    bad_lines: list[int] = field(default_factory=list)
    """Numbers (1-based) of the first :data:`NOTED_LINES` lines that were not understood."""
    bad_count: int = 0
    long_count: int = 0
    cut_at: int | None = None
    """Bytes read when the file was longer than the bound (the rest was not read)."""
    truncated_tail: bool = False
    """The last line had no newline and was not understood: a log cut mid-write."""

    def bad(self, number: int) -> None:
        self.bad_count += 1
        if len(self.bad_lines) < NOTED_LINES:
            self.bad_lines.append(number)

    def notes(self) -> list[str]:
        """One sentence per kind of thing left out, naming the file."""
        name = self.path.name
        out: list[str] = []
        if self.cut_at is not None:
            out.append(
                f"{name}: read the first {_mib(self.cut_at)} of {_mib(self.size)}; "
                "the rest is not in this report"
            )
        if self.truncated_tail:
            out.append(f"{name}: its last line is cut (written while the run was stopped?)")
        others = self.bad_count - (1 if self.truncated_tail else 0)
        if others > 0:
            shown = ", ".join(str(n) for n in self.bad_lines[:NOTED_LINES])
            more = (
                f" and {others - len(self.bad_lines)} more" if others > len(self.bad_lines) else ""
            )
            out.append(
                f"{name}: skipped {others} line(s) that are not understood (line {shown}{more})"
            )
        if self.long_count:
            out.append(f"{name}: skipped {self.long_count} line(s) longer than {_mib(LINE_MAX)}")
        return out


def _mib(size: int) -> str:
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


def raw_lines(stats: ReadStats, limit: int | None = None) -> Iterator[tuple[int, bytes, bool]]:
    """``(number, line without its newline, had_newline)`` for each line within the bounds
    (``limit`` bytes, default :data:`FILE_MAX`)."""
    limit = FILE_MAX if limit is None else limit
    try:
        handle = stats.path.open("rb")
    except OSError as exc:
        raise ReportInputError(f"{stats.path}: cannot be read: {exc.strerror}") from exc
    with handle:
        try:
            stats.size = stats.path.stat().st_size
        except OSError:
            stats.size = 0
        read = 0
        number = 0
        while True:
            line = handle.readline(LINE_MAX + 1)
            if not line:
                return
            if read + len(line) > limit:
                stats.cut_at = read  # only whole lines within the bound are read
                return
            read += len(line)
            number += 1
            if len(line) > LINE_MAX and not line.endswith(b"\n"):
                read += _skip_rest_of_line(handle)
                stats.long_count += 1
                continue
            stats.lines = number
            ended = line.endswith(b"\n")
            yield number, line.rstrip(b"\r\n"), ended


def _skip_rest_of_line(handle: Any) -> int:
    skipped = 0
    while True:
        chunk = handle.readline(LINE_MAX)
        skipped += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return skipped


def json_lines(stats: ReadStats, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """Each JSON object line of ``stats.path``; blank lines are ignored, others counted bad."""
    for number, line, ended in raw_lines(stats, limit):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            value = None
        if isinstance(value, dict):
            yield value
            continue
        stats.bad(number)
        if not ended:
            stats.truncated_tail = True


def text_lines(stats: ReadStats, limit: int | None = None) -> Iterator[tuple[int, str]]:
    """Each line of a text log, decoded as UTF-8 (undecodable bytes replaced)."""
    for number, line, _ended in raw_lines(stats, limit):
        yield number, line.decode("utf-8", "replace")


def read_head(path: Path, size: int = 64 * 1024) -> bytes:
    """The first ``size`` bytes of ``path`` (to tell what kind of log it is), or b""."""
    try:
        with path.open("rb") as handle:
            return handle.read(size)
    except OSError:
        return b""


def read_json_document(path: Path, limit: int = 16 * 1024 * 1024) -> dict[str, Any] | None:
    """A small JSON file (a scenario result, a fleet summary) as a dict, or None when it is
    too large, unreadable or not a JSON object."""
    try:
        if path.stat().st_size > limit:
            return None
        value = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None
