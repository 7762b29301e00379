"""The page builder and ``cpsim report``: self-contained, escaped, no secret, clear errors."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from plotly.offline import get_plotlyjs

from chargepoint.cli import main
from chargepoint.report import read_report
from chargepoint.report.page import render_page
from chargepoint.report.records import (
    ChargerRun,
    MeterSample,
    RoundTrip,
    SequenceMessage,
    StatusChange,
)

T0 = datetime(2030, 1, 1, tzinfo=UTC)
HOSTILE = '</script><img src=x onerror="alert(1)">'


def charted_run() -> ChargerRun:
    run = ChargerRun(f"run {HOSTILE}", charge_point="CP1", status="failed", reason=HOSTILE)
    run.messages = [
        SequenceMessage(T0, True, "CALL", "DataTransfer", "u1", json.dumps({"data": HOSTILE}))
    ]
    run.messages_total = 1
    run.statuses = [
        StatusChange(T0, 1, "Available"),
        StatusChange(T0 + timedelta(seconds=5), 1, "Charging"),
    ]
    run.meters = [
        MeterSample(T0 + timedelta(seconds=s), 1, power_w=float(s * 100), power_offered_w=3700.0)
        for s in range(10)
    ]
    run.round_trips = [RoundTrip("Heartbeat", True, s / 100) for s in range(1, 5)]
    run.end = T0 + timedelta(seconds=10)
    return run


def test_the_page_inlines_plotly_once_and_fetches_nothing() -> None:
    page = render_page("t", [charted_run()])

    assert page.count("<script") == 1 + 3  # plotly.js, then one per chart
    assert page.count(get_plotlyjs()) == 1
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']?(https?:)?//""", page)
    assert render_page("t", [charted_run()]) == page  # same logs, same page


def test_what_came_from_the_logs_is_escaped() -> None:
    page = render_page("t", [charted_run()])
    assert HOSTILE not in page
    assert "&lt;/script&gt;&lt;img src=x onerror=" in page


def test_a_page_without_charts_carries_no_plotly() -> None:
    run = ChargerRun("messages only")
    run.messages = [SequenceMessage(T0, True, "CALL", "Heartbeat", "h1")]
    page = render_page("t", [run])
    assert "<script" not in page
    assert 'data-action="Heartbeat"' in page


def test_a_secret_in_a_foreign_frame_log_never_reaches_the_page(tmp_path: Path) -> None:
    frames = tmp_path / "other-csms.jsonl"
    secret = "00112233445566778899aabbccddeeff"
    frames.write_text(
        json.dumps(
            {
                "time": "2030-01-01T00:00:00Z",
                "direction": "sent",
                "charge_point": "CP1",
                "message": [
                    2,
                    "c1",
                    "ChangeConfiguration",
                    {"key": "AuthorizationKey", "value": secret},
                ],
            }
        )
        + "\n"
        + "2030-01-01 00:00:00.100 /dev/pts/1 << [9 bytes] ws text 1: x\n"
    )
    page = read_report(frames).html()
    assert secret not in page
    assert "ChangeConfiguration" in page


def report(*args: str):  # noqa: ANN201 - click's Result
    return CliRunner().invoke(main, ["report", *args])


def test_cli_writes_the_page_and_says_what_it_left_out(tmp_path: Path) -> None:
    (tmp_path / "timeline.jsonl").write_text(
        '{"time":"2030-01-01T00:00:00Z","kind":"status","connector":1,"status":"Available"}\n{"cut'
    )
    result = report(str(tmp_path))

    assert result.exit_code == 0, result.output
    assert (tmp_path / "report.html").is_file()
    assert result.stdout.startswith(f"wrote {tmp_path / 'report.html'} (")
    assert "left out: timeline.jsonl: its last line is cut" in result.stderr
    assert "its last line is cut" in (tmp_path / "report.html").read_text()


def test_cli_nothing_to_report_is_a_one_line_error(tmp_path: Path) -> None:
    result = report(str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(f"Error: {tmp_path}: nothing to report")
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_refuses_an_output_it_cannot_write(tmp_path: Path) -> None:
    (tmp_path / "timeline.jsonl").write_text(
        '{"time":"2030-01-01T00:00:00Z","kind":"status","connector":1,"status":"Available"}\n'
    )
    result = report(str(tmp_path), "-o", str(tmp_path / "missing" / "r.html"))
    assert result.exit_code == 2
    assert "cannot write the report" in result.stderr and "does not exist" in result.stderr
