"""The diagnostics file GetDiagnostics uploads (OCPP 1.6 §5.9): a tar.gz of the charger's logs.

§5.9 leaves the format free; this one holds, for the requested window (§6.25:
``startTime`` / ``stopTime`` bound the oldest and the latest data), every line of
the charger's own logs: the timeline (``timeline.jsonl``), the OCPP message log
and the AT trace, plus a ``manifest.json`` saying what was taken from where and
what was cut.  Secrets are masked in every line (:mod:`chargepoint.logmask`, the
AT trace's own masks, and any secret value the charger knows, e.g. its
AuthorizationKey), because the archive leaves the charger.

Bounds: each log is scanned over at most its last :data:`SCAN_MAX` bytes; a line
longer than :data:`LINE_MAX` is cut; the lines kept are the newest that fit in
``max_bytes`` (uncompressed, shared evenly between the logs).

Times: a timeline line (or a JSON log line) carries its own ``time`` (ISO 8601, UTC
unless it says otherwise); a text log line starts with the host's local time
(``2030-01-01 10:00:00.123``, as the AT trace and Python's logging write it).  A
line without a time (a traceback) belongs with the line before it.  Lines before
the first dated one are kept only without a ``startTime``.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal

from chargepoint.logmask import Scrubber
from chargepoint.timefmt import format_epoch, parse_epoch
from modem.at.trace import mask_text as mask_at_text

__all__ = [
    "ARCHIVE_MAX",
    "LINE_MAX",
    "SCAN_MAX",
    "DiagnosticsWindow",
    "LogSource",
    "build_archive",
]

SCAN_MAX: Final = 32 * 1024 * 1024
LINE_MAX: Final = 16 * 1024
ARCHIVE_MAX: Final = 4 * 1024 * 1024
"""Default bound on the logs' uncompressed bytes in one archive."""

_TEXT_TIME = re.compile(rb"^(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d)(?:[.,](\d{1,6}))?")
_JSON_TIME = re.compile(rb'"time"\s*:\s*"([^"]{10,40})"')


@dataclass(frozen=True)
class LogSource:
    """One log of the charger: ``name`` in the archive, the file, and how its lines say when."""

    name: str
    path: Path
    kind: Literal["timeline", "text"] = "text"


@dataclass(frozen=True)
class DiagnosticsWindow:
    """Epoch seconds (None: unbounded), both ends included."""

    start: float | None = None
    stop: float | None = None

    def holds(self, t: float) -> bool:
        return (self.start is None or t >= self.start) and (self.stop is None or t <= self.stop)


@dataclass
class _Taken:
    name: str
    path: str
    lines: int = 0
    size: int = 0
    cut: bool = False
    """Older lines of the window were left out to stay within the size bound."""
    note: str | None = None
    kept: deque[bytes] = field(default_factory=deque)

    def report(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "source": self.path, "lines": self.lines}
        out["bytes"] = self.size
        if self.cut:
            out["olderLinesLeftOut"] = True
        if self.note:
            out["note"] = self.note
        return out


def line_time(line: bytes, kind: str) -> float | None:
    """When the line was written (epoch seconds), or None when it does not say."""
    if kind == "timeline" or line.startswith(b"{"):  # a JSON log line (--log-format json)
        found = _JSON_TIME.search(line, 0, 200)
        return parse_epoch(found.group(1).decode("ascii", "replace")) if found else None
    found = _TEXT_TIME.match(line)
    if found is None:
        return None
    try:
        when = datetime.fromisoformat(found.group(1).decode("ascii").replace("T", " "))
    except ValueError:
        return None
    fraction = found.group(2)
    seconds = when.timestamp()  # naive: the host's local time, as the logs write it
    return seconds + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)


def _lines(path: Path) -> Iterator[bytes]:
    """The file's lines over its last SCAN_MAX bytes, each at most LINE_MAX (cut lines are
    marked); a first line cut by the scan bound is skipped."""
    with path.open("rb") as file:
        size = file.seek(0, io.SEEK_END)
        file.seek(max(0, size - SCAN_MAX))
        if size > SCAN_MAX:
            file.readline(LINE_MAX)
        while True:
            line = file.readline(LINE_MAX)
            if not line:
                return
            if not line.endswith(b"\n"):
                line += b" ...(line cut)\n"
                while True:  # the rest of the over-long line
                    rest = file.readline(LINE_MAX)
                    if not rest or rest.endswith(b"\n"):
                        break
            yield line


def _take(source: LogSource, window: DiagnosticsWindow, budget: int, scrub: Scrubber) -> _Taken:
    taken = _Taken(source.name, str(source.path))
    try:
        when: float | None = None
        for raw in _lines(source.path):
            stamp = line_time(raw, source.kind)
            when = stamp if stamp is not None else when
            inside = window.holds(when) if when is not None else window.start is None
            if not inside:
                continue
            text = raw.decode("utf-8", "replace")
            line = scrub.text(mask_at_text(text)).encode()
            taken.kept.append(line)
            taken.size += len(line)
            while taken.size > budget and taken.kept:
                taken.size -= len(taken.kept.popleft())
                taken.cut = True
    except FileNotFoundError:
        taken.note = "no such file (nothing was logged there yet)"
    except OSError as exc:
        taken.note = f"not readable: {exc.strerror}"
    taken.lines = len(taken.kept)
    return taken


def build_archive(
    sources: Iterable[LogSource],
    window: DiagnosticsWindow,
    created: float,
    charge_point_id: str,
    secrets: Iterable[str] = (),
    max_bytes: int = ARCHIVE_MAX,
) -> bytes:
    """The diagnostics tar.gz: each source's lines of ``window``, masked, newest kept
    within ``max_bytes``; a ``manifest.json`` says what was taken."""
    sources = list(sources)
    scrub = Scrubber()
    for secret in secrets:
        scrub.add(secret)
    budget = max_bytes // max(1, len(sources))
    taken = [_take(source, window, budget, scrub) for source in sources]
    manifest = {
        "chargePointId": charge_point_id,
        "created": format_epoch(created),
        "startTime": format_epoch(window.start) if window.start is not None else None,
        "stopTime": format_epoch(window.stop) if window.stop is not None else None,
        "files": [t.report() for t in taken],
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        _add(tar, "manifest.json", json.dumps(manifest, indent=2).encode() + b"\n", created)
        for t in taken:
            if t.note is None:
                _add(tar, t.name, b"".join(t.kept), created)
    return out.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(mtime)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))
