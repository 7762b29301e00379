"""The ``emulate`` command as a user runs it: a real process, its first stdout line, SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from click.testing import CliRunner

from chargepoint.cli.emulate import emulate

from .atclient import STEP, AtHost

ROOT = Path(__file__).resolve().parents[2]


@contextlib.asynccontextmanager
async def cli(*args: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from chargepoint.cli.emulate import emulate; emulate()",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )
    try:
        assert proc.stdout is not None
        first = (await asyncio.wait_for(proc.stdout.readline(), 3 * STEP)).decode().rstrip("\n")
        yield proc, first
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_prints_pty_path_first_and_exits_0_on_sigterm() -> None:
    async with cli("--dialect", "ec200u", "--baud", "115200") as (proc, first):
        assert first.startswith("/dev/")
        host = await AtHost.open(first)
        assert await host.cmd("AT") == b"AT\r\r\nOK\r\n"
        assert await host.cmd("ATI") == (
            b"ATI\r\r\nQuectel\r\nEC200U\r\nRevision: EC200UCNAAR03A06M08\r\n\r\nOK\r\n"
        )
        await host.close()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), STEP) == 0


async def test_socket_listen_and_profile() -> None:
    args = ("--listen", "socket://127.0.0.1:0", "--profile", "weak-signal", "--latency-ms", "5")
    async with cli(*args) as (proc, first):
        assert first.startswith("socket://127.0.0.1:")
        host = await AtHost.open(first)
        assert await host.cmd("AT+CSQ") == b"AT+CSQ\r\r\n+CSQ: 15,99\r\n\r\nOK\r\n"
        await host.close()
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), STEP) == 0


def test_rejects_unknown_profile() -> None:
    result = CliRunner().invoke(emulate, ["--profile", "moon"])
    assert result.exit_code == 2
    assert "moon" in result.output
