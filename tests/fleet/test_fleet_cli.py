"""``cpsim fleet`` as a user runs it: real processes against the real local CSMS."""

from __future__ import annotations

import asyncio
import json
import resource
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from chargepoint.csms.handlers import CsmsPolicy
from chargepoint.csms.server import LocalCsms
from chargepoint.security.pki import init_pki

CPSIM = [sys.executable, "-m", "chargepoint"]


def cpsim(*args: str) -> Result:
    from chargepoint.cli import main

    return CliRunner().invoke(main, list(args))


def last_line(result: Result) -> str:
    lines = (result.stderr or result.stdout).strip().splitlines()
    return lines[-1] if lines else ""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _fleet(*args: str, rlimit: tuple[int, int] | None = None) -> tuple[int, str]:
    def limit() -> None:
        if rlimit is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, rlimit)

    process = await asyncio.create_subprocess_exec(
        *CPSIM, "fleet", "--quiet", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, preexec_fn=limit,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, (out + err).decode()


def _events(report: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (report / "events.jsonl").read_text().splitlines()]


def test_duplicate_ids_and_bad_shards_are_usage_errors() -> None:
    result = cpsim("fleet", "-n", "20", "--id-template", "CP{:.0e}", "--url", "ws://h/o")
    assert result.exit_code == 2
    assert "duplicate ids: 10 and 11" in result.stderr
    result = cpsim("fleet", "-n", "20", "--shard", "3/3", "--url", "ws://h/o")
    assert result.exit_code == 2
    assert "I must be from 0 to 2" in last_line(result)
    result = cpsim("fleet", "-n", "20", "--link", "lora", "--url", "ws://h/o")
    assert result.exit_code == 2
    assert "--link lora: unknown" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "ws://csms:99999/o"], "--url: not a WebSocket URL: Port out of range"),
        (["--url", "ws://cp:s3cret@csms:0/o"], "--url: not a WebSocket URL: port 0"),
        (["--url", "ws://h/o", "--id-template", "CP{:999999999999d}"], "width or precision"),
        (["--url", "ws://h/o", "--shard-from-env", "3"], "JOB_COMPLETION_INDEX=7 must be from"),
        (["--url", "ws://h/o", "--link", "ec200u", "--link-option", "connect-slots=0"], "a whole"),
    ],
)
def test_bad_input_is_one_error_line_before_anything_starts(
    args: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOB_COMPLETION_INDEX", "7")
    result = cpsim("fleet", "-n", "20", *args)
    assert result.exit_code == 2
    assert message in last_line(result)
    assert "s3cret" not in result.output
    assert "Traceback" not in result.output


async def test_more_chargers_than_file_descriptors_is_refused_with_the_numbers() -> None:
    code, text = await _fleet("-n", "500", "--url", "ws://127.0.0.1:1/o", rlimit=(128, 128))
    assert code == 2
    assert "500 chargers need about 564 file descriptors" in text
    assert "the hard limit is 128" in text
    assert "Traceback" not in text


async def test_the_soft_limit_is_raised_to_the_hard_one(tmp_path: Path) -> None:
    script = (
        "import resource; from chargepoint.fleet import raise_fd_limit;"
        "b = raise_fd_limit(500); print(b.enough, resource.getrlimit(resource.RLIMIT_NOFILE)[0])"
    )

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 2048))

    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE, preexec_fn=limit
    )
    out, _ = await process.communicate()
    assert out.decode().split() == ["True", "2048"]


async def test_fifty_chargers_boot_heartbeat_and_stop_cleanly(tmp_path: Path) -> None:
    report = tmp_path / "report"
    policy = CsmsPolicy(heartbeat_interval=1)
    async with LocalCsms(port=0, policy=policy) as csms:
        url = f"ws://127.0.0.1:{csms.port}/ocpp"
        code, text = await _fleet(
            "-n", "50", "--url", url, "--duration", "4", "--report", str(report),
            "--state-dir", str(tmp_path / "state"),
        )  # fmt: skip
        ids = {f"CP{n:05d}" for n in range(1, 51)}
        booted = {f.charge_point for f in csms.frames.frames if f.action == "BootNotification"}
        beating = {f.charge_point for f in csms.frames.frames if f.action == "Heartbeat"}
    assert code == 0, text
    assert booted == ids
    assert beating == ids
    summary = json.loads((report / "summary.json").read_text())
    assert summary["booted"] == 50 and summary["never_booted"] == 0
    assert summary["latency_ms"]["count"] >= 50 * 2
    events = _events(report)
    by_kind: dict[str, set[str]] = {}
    for event in events:
        by_kind.setdefault(event["event"], set()).add(event["cp"])
    assert by_kind["connected"] == by_kind["booted"] == ids
    # stopped cleanly: every charger closed its link itself, with 1000
    closes = [e for e in events if e["event"] == "disconnected"]
    assert {e["cp"] for e in closes} == ids
    assert all("code 1000" in e["reason"] or "(1000)" in e["reason"] for e in closes)
    samples = (report / "samples.jsonl").read_text().splitlines()
    assert json.loads(samples[-1])["booted"] == 50


async def test_three_shards_run_every_id_once(tmp_path: Path) -> None:
    async with LocalCsms(port=0) as csms:
        url = f"ws://127.0.0.1:{csms.port}/ocpp"
        results = await asyncio.gather(
            *(
                _fleet(
                    "-n",
                    "31",
                    "--shard",
                    f"{i}/3",
                    "--url",
                    url,
                    "--duration",
                    "3",
                    "--report",
                    str(tmp_path / f"r{i}"),
                    "--state-dir",
                    str(tmp_path / f"s{i}"),
                )  # fmt: skip
                for i in range(3)
            )
        )
        booted = [f.charge_point for f in csms.frames.frames if f.action == "BootNotification"]
    assert [code for code, _ in results] == [0, 0, 0], results
    per_shard = [
        {e["cp"] for e in _events(tmp_path / f"r{i}") if e["event"] == "booted"} for i in range(3)
    ]
    assert not (per_shard[0] & per_shard[1] or per_shard[1] & per_shard[2])
    assert per_shard[0] | per_shard[1] | per_shard[2] == {f"CP{n:05d}" for n in range(1, 32)}
    assert sorted(booted) == sorted(per_shard[0] | per_shard[1] | per_shard[2])


@pytest.mark.parametrize("link", ["direct", "esp-at"])
async def test_a_csms_unreachable_for_part_of_the_fleet(tmp_path: Path, link: str) -> None:
    report = tmp_path / "report"
    async with LocalCsms(port=0) as csms:
        urls = tmp_path / "urls.txt"
        dead = f"ws://127.0.0.1:{closed_port()}/ocpp"
        urls.write_text(f"ws://127.0.0.1:{csms.port}/ocpp\n# the other one is down\n{dead}\n")
        code, text = await _fleet(
            "-n", "10", "--urls-file", str(urls), "--link", link, "--duration", "4",
            "--report", str(report),
        )  # fmt: skip
    assert code == 1  # some never booted: a failed check
    summary = json.loads((report / "summary.json").read_text())
    assert summary["booted"] == 5 and summary["never_booted"] == 5
    [(reason, chargers)] = summary["failures"].items()
    assert chargers == 5
    # grouped by the CSMS (its base URL) and the cause, not per charger
    assert reason.startswith(f"{dead}: ")
    assert "Connect call failed" in reason or "refused" in reason.lower(), reason
    assert "CP0" not in reason
    assert f"never booted: 5 chargers: {dead}: " in text
    assert "Traceback" not in text


async def test_ctrl_c_before_the_duration_is_over_is_130_with_the_report(tmp_path: Path) -> None:
    report = tmp_path / "report"
    async with LocalCsms(port=0) as csms:
        process = await asyncio.create_subprocess_exec(
            *CPSIM, "fleet", "--quiet", "-n", "5", "--url", f"ws://127.0.0.1:{csms.port}/o",
            "--duration", "1h", "--report", str(report),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        await csms.frames.wait_for(
            lambda f: f.charge_point == "CP00005" and f.action == "StatusNotification", 30
        )
        process.send_signal(signal.SIGINT)
        out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 130
    summary = json.loads((report / "summary.json").read_text())
    assert summary["booted"] == 5 and summary["ended_by"] == "stop"
    assert "Traceback" not in (out + err).decode()


async def test_sessions_and_link_faults_reach_the_summary_samples_and_report(
    tmp_path: Path,
) -> None:
    report = tmp_path / "report"
    async with LocalCsms(port=0) as csms:
        code, text = await _fleet(
            "-n", "6", "--url", csms.url, "--link", "ec200u", "--seed", "4",
            "--profile", "lte-good,pdp=900/h", "--duration", "10",
            "--transactions", "rate=1200/h,duration=1m..2m,invalid=50%,seed=2",
            "--report", str(report),
        )  # fmt: skip
        starts = len(csms.frames.calls(None, "StartTransaction"))
    assert code == 0, text
    summary = json.loads((report / "summary.json").read_text())
    faults, sessions = summary["link_faults"], summary["transactions"]
    assert faults["pdp_deactivations"] > 0  # 6 chargers x 900/h x ~8 s: ~12 expected
    assert 0 < faults["dropped_by_pdp"] <= faults["pdp_deactivations"]
    assert sessions["started"] >= starts > 0  # some StartTransactions were still queued
    assert sessions["invalid_tags"] > 0
    assert f"link faults: PDP deactivations: {faults['pdp_deactivations']}," in text
    last = json.loads((report / "samples.jsonl").read_text().splitlines()[-1])
    assert last["link_faults"]["pdp_deactivations"] > 0 and "started" in last["transactions"]
    page = cpsim("report", str(report), "-o", str(tmp_path / "fleet.html"))
    assert page.exit_code == 0, page.output
    html = (tmp_path / "fleet.html").read_text()
    assert "Sessions and link faults over time" in html
    assert "link faults: PDP deactivations" in html
    assert "Traceback" not in text


async def test_a_wss_fleet_trusts_its_ca_file_and_refuses_another(tmp_path: Path) -> None:
    pki = init_pki(tmp_path / "pki", ("CP001",))
    other = init_pki(tmp_path / "other", ("CP001",))
    csms = LocalCsms(port=0, tls_cert=pki.csms.cert_path, tls_key=pki.csms.key_path)
    async with csms:
        url = f"wss://127.0.0.1:{csms.port}/ocpp"
        code, text = await _fleet("-n", "5", "--url", url, "--ca-file", str(pki.ca.cert_path),
                                  "--duration", "3")  # fmt: skip
        assert code == 0, text
        booted = {f.charge_point for f in csms.frames.frames if f.action == "BootNotification"}
        assert booted == {f"CP{n:05d}" for n in range(1, 6)}
        code, text = await _fleet("-n", "5", "--url", url, "--ca-file", str(other.ca.cert_path),
                                  "--duration", "3")  # fmt: skip
    assert code == 1
    assert "never booted: 5 chargers: " in text
    assert "not signed by a CA given with --ca-file" in text and "Traceback" not in text


def test_ca_file_mistakes_are_usage_errors(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.pem")
    result = cpsim("fleet", "-n", "2", "--url", "wss://h/o", "--ca-file", missing)
    assert result.exit_code == 2 and "no such file" in result.stderr
    ca = init_pki(tmp_path / "pki", ("CP001",)).ca.cert_path
    result = cpsim("fleet", "-n", "2", "--url", "ws://h/o", "--ca-file", str(ca))
    assert result.exit_code == 2 and "--ca-file: for wss:// URLs" in result.stderr
    result = cpsim(
        "fleet", "-n", "2", "--url", "wss://h/o", "--link", "esp-at", "--ca-file", str(ca)
    )
    assert result.exit_code == 2 and "only with --link direct" in result.stderr
