"""The diagnostics archive (chargepoint.station.diagnostics): the window, the masking, the
bounds, on real files."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import datetime
from pathlib import Path

from chargepoint.station.diagnostics import (
    LINE_MAX,
    DiagnosticsWindow,
    LogSource,
    build_archive,
)
from chargepoint.timefmt import format_epoch, parse_epoch

KEY = "0123456789abcdef0123456789abcdef01234567"
T0 = parse_epoch("2030-01-01T10:00:00Z") or 0.0


def local(t: float) -> str:
    """How the AT trace and Python's logging stamp a line: the host's local time."""
    return datetime.fromtimestamp(t).isoformat(sep=" ", timespec="milliseconds")


def unpack(data: bytes) -> dict[str, str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {
            m.name: tar.extractfile(m).read().decode()  # type: ignore[union-attr]
            for m in tar.getmembers()
        }


def write_logs(tmp_path: Path) -> list[LogSource]:
    timeline = tmp_path / "timeline.jsonl"
    timeline.write_text(
        "".join(
            json.dumps({"time": format_epoch(T0 + 60 * i), "kind": "meter", "n": i}) + "\n"
            for i in range(10)
        )
    )
    trace = tmp_path / "at.log"
    trace.write_text(
        f'{local(T0)} /dev/ttyUSB2 >> AT+QICSGP=1,1,"apn","user","apnsecret",1\n'
        f'{local(T0 + 120)} /dev/ttyUSB2 >> AT+QIOPEN=1,0,"TCP","h",80\n'
        "    a continuation line without a time\n"
        f"{local(T0 + 300)} /dev/ttyUSB2 << ws://cp:urlsecret@h/ocpp\n"
        f"{local(T0 + 301)} /dev/ttyUSB2 << "
        f'[2,"1","ChangeConfiguration",{{"key":"AuthorizationKey","value":"{KEY}"}}]\n'
        f"{local(T0 + 302)} /dev/ttyUSB2 << Authorization: Basic Q1AxOnNlY3JldA==\n"
        f"{local(T0 + 303)} a stray {KEY} in free text\n"
    )
    return [LogSource("timeline.jsonl", timeline, "timeline"), LogSource("at.log", trace)]


def test_only_the_lines_of_the_window_are_taken(tmp_path: Path) -> None:
    window = DiagnosticsWindow(T0 + 100, T0 + 200)
    files = unpack(build_archive(write_logs(tmp_path), window, T0 + 999, "CP1", [KEY]))
    assert [json.loads(line)["n"] for line in files["timeline.jsonl"].splitlines()] == [2, 3]
    at = files["at.log"].splitlines()
    assert len(at) == 2 and "AT+QIOPEN" in at[0] and "continuation" in at[1]
    manifest = json.loads(files["manifest.json"])
    assert manifest["startTime"] == "2030-01-01T10:01:40.000Z"
    assert [f["lines"] for f in manifest["files"]] == [2, 2]


def test_no_window_takes_everything(tmp_path: Path) -> None:
    files = unpack(build_archive(write_logs(tmp_path), DiagnosticsWindow(), T0, "CP1", [KEY]))
    assert len(files["timeline.jsonl"].splitlines()) == 10
    assert len(files["at.log"].splitlines()) == 7


def test_no_secret_reaches_the_archive(tmp_path: Path) -> None:
    data = build_archive(write_logs(tmp_path), DiagnosticsWindow(), T0, "CP1", [KEY])
    text = "\n".join(unpack(data).values())
    for secret in (KEY, "apnsecret", "urlsecret", "Q1AxOnNlY3JldA=="):
        assert secret not in text
    assert "a stray *** in free text" in text
    assert '"user","***"' in text  # the APN password masked by the AT trace's own rule


def test_the_newest_lines_are_kept_within_the_size_bound(tmp_path: Path) -> None:
    log = tmp_path / "ocpp.log"
    log.write_text("".join(f"{local(T0 + i)} line {i:04d}\n" for i in range(1000)))
    data = build_archive([LogSource("ocpp.log", log)], DiagnosticsWindow(), T0, "CP1", [], 2000)
    files = unpack(data)
    lines = files["ocpp.log"].splitlines()
    assert len(files["ocpp.log"]) <= 2000
    assert lines[-1].endswith("line 0999") and not lines[0].endswith("line 0000")
    assert json.loads(files["manifest.json"])["files"][0]["olderLinesLeftOut"] is True


def test_an_over_long_line_is_cut_and_a_missing_log_is_noted(tmp_path: Path) -> None:
    log = tmp_path / "ocpp.log"
    log.write_text(f"{local(T0)} " + "x" * (3 * LINE_MAX) + "\n" + f"{local(T0 + 1)} next\n")
    sources = [LogSource("ocpp.log", log), LogSource("gone.log", tmp_path / "gone.log")]
    files = unpack(build_archive(sources, DiagnosticsWindow(), T0, "CP1"))
    lines = files["ocpp.log"].splitlines()
    assert len(lines) == 2 and lines[0].endswith("(line cut)") and lines[1].endswith("next")
    assert "gone.log" not in files
    assert "no such file" in json.loads(files["manifest.json"])["files"][1]["note"]
