"""The ``emulate`` command as a user runs it: a real process, its first stdout line, SIGTERM."""

from __future__ import annotations

import asyncio
import re
import signal

from click.testing import CliRunner

from chargepoint.cli.emulate import emulate
from modem.emulator.chaos import sequence

from .atclient import STEP, AtHost, emulator_process


async def test_prints_pty_path_first_and_exits_0_on_sigterm() -> None:
    async with emulator_process("--dialect", "ec200u", "--baud", "115200") as (proc, first):
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
    async with emulator_process(*args) as (proc, first):
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


async def test_chaos_prints_one_line_per_fault_reproducibly() -> None:
    """``--chaos SEED``: the seed's faults, in order, one stdout line each (same every run)."""
    expected = [step.kind for step in sequence("ec200u", 7, 0.05, count=6)]
    for _ in range(2):
        async with emulator_process("--chaos", "7", "--chaos-interval", "0.05") as (proc, first):
            assert first.startswith("/dev/")
            assert proc.stdout is not None
            lines = [
                (await asyncio.wait_for(proc.stdout.readline(), STEP)).decode() for _ in expected
            ]
            assert all(re.match(r"chaos: t=\d+\.\ds \w+", line) for line in lines), lines
            assert [line.split()[2] for line in lines] == expected
            proc.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(proc.wait(), STEP) == 0
