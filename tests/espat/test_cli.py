"""``cpsim modem emulate --dialect esp-at`` for real: a process, its first line, SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
from contextlib import AbstractAsyncContextManager

from emulator.atclient import emulator_process

from .helpers import STEP, RawHost

OK = b"\r\nOK\r\n"


def emulate(*args: str) -> AbstractAsyncContextManager[tuple[asyncio.subprocess.Process, str]]:
    return emulator_process("--dialect", "esp-at", *args, timeout=3 * STEP)


async def test_pty_path_first_wifi_options_and_sigterm() -> None:
    async with emulate("--wifi-ssid", "lab", "--wifi-password", "pw") as (proc, first):
        assert first.startswith("/dev/")
        host = await RawHost.open(first)
        await host.cmd("ATE0", b"ATE0\r\n" + OK)
        await host.cmd('AT+CWJAP="lab","nope"', b"+CWJAP:2\r\n\r\nERROR\r\n")
        await host.cmd("AT+WSCFG=0,10,20,8192", OK)
        await host.close()
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), STEP) == 0


async def test_socket_listen_and_no_ws_firmware() -> None:
    async with emulate("--listen", "socket://127.0.0.1:0", "--no-ws", "--baud", "0") as (
        proc,
        first,
    ):
        assert first.startswith("socket://127.0.0.1:")
        host = await RawHost.open(first)
        await host.cmd("AT", b"AT\r\n" + OK)
        await host.cmd("AT+WSCFG=0,10,20,8192", b"AT+WSCFG=0,10,20,8192\r\n\r\nERROR\r\n")
        await host.close()
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), STEP) == 0


async def test_join_failure_and_short_pieces_options() -> None:
    args = ("--wifi-failure", "refused", "--ws-short-pieces", "5", "--baud", "0")
    async with emulate(*args, "--control", "socket://127.0.0.1:0") as (proc, first):
        host = await RawHost.open(first)
        await host.cmd("ATE0", b"ATE0\r\n" + OK)
        await host.cmd('AT+CWJAP="lab","pw"', b"+CWJAP:4\r\n\r\nERROR\r\n")
        await host.close()
        assert proc.stderr is not None
        line = (await asyncio.wait_for(proc.stderr.readline(), STEP)).decode()
        host_port = line.strip().removeprefix("control port: socket://").split(":")
        reader, writer = await asyncio.open_connection(*host_port)
        writer.write(b"status\n")
        status = json.loads(await asyncio.wait_for(reader.readline(), STEP))
        writer.close()
        assert (status["wifi_failure"], status["ws_piece_seed"]) == (4, 5)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), STEP) == 0
