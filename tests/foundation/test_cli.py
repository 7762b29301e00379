"""The command line as a user runs it: real processes, real sockets, signals."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from chargepoint.cli import main
from chargepoint.csms.server import LocalCsms

CPSIM = [sys.executable, "-m", "chargepoint"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_run_ctrl_c_closes_with_1000_and_exits_0(csms: LocalCsms, tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        *CPSIM,
        "run",
        "--id",
        "CP042",
        "--url",
        csms.url,
        "--state-dir",
        str(tmp_path),
        stderr=asyncio.subprocess.PIPE,
    )
    await csms.frames.wait_for(
        lambda f: f.action == "StatusNotification" and f.charge_point == "CP042", 20
    )
    session = csms.sessions["CP042"]
    proc.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err
    ws = session._connection.ws  # type: ignore[attr-defined]
    await asyncio.wait_for(ws.wait_closed(), 5)
    assert ws.close_code == 1000


def test_unknown_cli_values_are_usage_errors() -> None:
    for args in (
        ["run", "--id", "X", "--url", "ws://h/o", "--connectors", "zero"],
        ["csms", "--boot-status", "Maybe"],
        ["run", "--id", "X", "--url", "http://h/o"],
        ["run", "--id", "X", "--url", "ws://h/o", "--header", "no-colon"],
    ):
        done = subprocess.run(CPSIM + args, capture_output=True, text=True, timeout=30)
        assert done.returncode == 2, args
        assert "Usage:" in done.stderr or "Error:" in done.stderr
        assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args,message",
    [
        (["run", "--id", "X", "--url", "ws://"], "no host"),
        (["run", "--id", "X", "--url", "ws://h:99999/x"], "Port out of range"),
        (["run", "--id", "X", "--url", "ws://[::1/x"], "Invalid IPv6 URL"),
        (["run", "--id", "X", "--url", "ws://h:0/x"], "port 0"),
        (["run", "--id", "X", "--url", "ws://h/x?a=1"], "no ?query"),
        (["run", "--id", "X", "--url", "ws://h/x", "--log-level", "FOO"], "'FOO' is not one of"),
        (["csms", "--log-level", "loud"], "'loud' is not one of"),
        (["demo", "--log-level", "loud"], "'loud' is not one of"),
        (["scenario", "run", "scenarios/reset.yaml", "--log-level", "loud"], "'loud' is not one"),
        (["run", "--id", "", "--url", "ws://h/x"], "must not be empty"),
        (["run", "--id", "a/b", "--url", "ws://h/x"], "contains '/'"),
        (["run", "--id", "a b", "--url", "ws://h/x"], "contains ' '"),
        (["run", "--id", "CP:1", "--url", "ws://h/x"], "contains ':'"),
        (["run", "--id", "C" * 49, "--url", "ws://h/x"], "at most 48"),
        (["run", "--id", "X", "--url", "ws://h/x", "--password", ""], "must not be empty"),
        (["run", "--id", "X", "--url", "ws://h/x", "--password", "a\tb"], "control characters"),
        (["run", "--id", "..", "--url", "ws://h/x"], "dot-segment"),
        (["run", "--id", "X", "--url", "ws://h/x y"], "contains a space"),
        (["run", "--id", "X", "--url", "ws://h/x", "--security-profile", "3"], "--cert"),
        (["run", "--id", "X", "--url", "ws://h/x", "--header", "X: a\r\nB: c"], "carriage"),
    ],
)
def test_bad_values_are_usage_errors_naming_the_option(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "Invalid value for" in result.output and message in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_unreachable_csms_is_one_line_and_retries(tmp_path: Path) -> None:
    url = f"ws://127.0.0.1:{_free_port()}/ocpp"
    proc = subprocess.Popen(
        CPSIM
        + ["run", "--id", "CP7", "--url", url, "--state-dir", str(tmp_path)]
        + ["--log-level", "warning"],  # any case
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    lines = [line for line in err.splitlines() if "cannot connect" in line]
    assert len(lines) >= 2, err  # it retried
    assert f"{url}/CP7" in lines[0] and "retrying in" in lines[0]
    assert "Traceback" not in err


# cpsim csms call and the control API: tests/csms/.


KEY = "0123456789abcdef0123456789abcdef"  # an AuthorizationKey: 16 bytes as 32 hex digits


def test_csms_command_serves_logs_and_requires_auth(tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "frames.jsonl"
    server = subprocess.Popen(
        CPSIM
        + ["csms", "--port", str(port), "--log", str(log), "--password", KEY]
        + ["--http-port", "0", "--api-token", "t0ken"],
        stderr=subprocess.DEVNULL,
        text=True,
    )
    url = f"ws://127.0.0.1:{port}/ocpp"

    def charger(state: str, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            CPSIM
            + ["run", "--id", "CP1", "--url", url, "--state-dir", str(tmp_path / state)]
            + list(args),
            stderr=subprocess.PIPE,
            text=True,
        )

    def boots_seen() -> int:
        return log.read_text().count('"BootNotification"') if log.exists() else 0

    def run_until_booted(proc: subprocess.Popen[str]) -> str:
        seen = boots_seen()
        deadline = time.time() + 20
        while time.time() < deadline and boots_seen() == seen:
            time.sleep(0.2)
        time.sleep(0.5)  # let the boot's status reports through
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
        assert boots_seen() > seen, err
        return err

    try:
        for _ in range(100):
            if "ready" in _api(f"http://127.0.0.1:{port}/no-charger-id/"):
                break
            time.sleep(0.2)
        bad = charger("a", "--password", "ffffffffffffffffffffffffffffffff")
        time.sleep(3)
        bad.send_signal(signal.SIGINT)
        _, err = bad.communicate(timeout=10)
        assert "HTTP 401" in err
        run_until_booted(charger("b", "--password", KEY))
        records = [json.loads(line) for line in log.read_text().splitlines()]
        assert records[0]["direction"] == "received" and records[0]["charge_point"] == "CP1"
        assert records[0]["message"][2] == "BootNotification"
        assert {"seq", "time", "direction", "charge_point", "message"} <= set(records[0])
        # The key is kept in the state dir: the next run needs no --password.
        err = run_until_booted(charger("b"))
        assert "HTTP 401" not in err
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=10)
    assert server.returncode == 0


def _api(url: str) -> str:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2):
            return ""
    except urllib.error.HTTPError:
        return "ready"  # the OCPP port answers (a plain GET is no WebSocket handshake)
    except OSError:
        return ""


@pytest.mark.timeout(90)
def test_demo_exits_0_and_shows_the_exchange() -> None:
    done = subprocess.run(
        CPSIM + ["demo", "--step", "0.1"], capture_output=True, text=True, timeout=80
    )
    assert done.returncode == 0, done.stderr
    for action in (
        "BootNotification",
        "TriggerMessage",
        "RemoteStartTransaction",
        "MeterValues",
        "RemoteStopTransaction",
        "StopTransaction",
    ):
        assert action in done.stdout
