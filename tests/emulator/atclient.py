"""Test-side helpers: a raw-bytes AT host and a loopback TCP peer.

The host deliberately knows nothing about AT beyond "a final result ends a
response": tests assert exact bytes, so they catch framing regressions that a
smarter driver would paper over.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import serial_asyncio_fast

from modem.emulator import Emulator, Timing, run_emulator
from modem.emulator.ec200u import Ec200u

STEP = 5.0  # no single wait in a test may last longer
FAST = Timing().scaled(0.05)
ROOT = Path(__file__).resolve().parents[2]
FINALS = (b"\r\nOK\r\n", b"\r\nERROR\r\n", b"\r\nSEND OK\r\n", b"\r\nSEND FAIL\r\n")


class AtHost:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, url: str) -> AtHost:
        reader, writer = await serial_asyncio_fast.open_serial_connection(url=url, baudrate=115200)
        return cls(reader, writer)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), STEP)

    def write(self, data: bytes) -> None:
        self.writer.write(data)

    async def read_exactly(self, n: int) -> bytes:
        try:
            return await asyncio.wait_for(self.reader.readexactly(n), STEP)
        except asyncio.IncompleteReadError as exc:
            raise AssertionError(f"link closed after {exc.partial!r}") from exc
        except TimeoutError as exc:
            raise AssertionError(f"timed out waiting for {n} bytes") from exc

    async def expect(self, expected: bytes) -> None:
        """The next bytes on the wire are exactly ``expected``."""
        got = await self.read_exactly(len(expected))
        assert got == expected

    async def read_until(self, marker: bytes) -> bytes:
        try:
            return await asyncio.wait_for(self.reader.readuntil(marker), STEP)
        except TimeoutError as exc:
            raise AssertionError(f"timed out waiting for {marker!r}") from exc

    async def response(self) -> bytes:
        """Everything up to and including the next final result code."""
        buf = b""
        while not any(buf.endswith(f) for f in FINALS) and not _cme_final(buf):
            buf += await self.read_exactly(1)
        return buf

    async def cmd(self, line: str | bytes) -> bytes:
        """Send a command line (CR added) and return its response (echo included)."""
        self.write((line.encode() if isinstance(line, str) else line) + b"\r")
        return await self.response()


def _cme_final(buf: bytes) -> bool:
    start = buf.rfind(b"\r\n+CME ERROR: ", 0, len(buf) - 2)
    return start >= 0 and buf.endswith(b"\r\n") and b"\r\n" not in buf[start + 2 : -2]


@contextlib.asynccontextmanager
async def session(echo: bool = False, **options: Any) -> AsyncIterator[tuple[Emulator, AtHost]]:
    """An emulator (fast network timing unless given) and a host on its pty."""
    options.setdefault("timing", FAST)
    async with run_emulator("ec200u", control="socket://127.0.0.1:0", **options) as emu:
        host = await AtHost.open(emu.port_url)
        try:
            if not echo:
                assert await host.cmd("ATE0") == b"ATE0\r\r\nOK\r\n"
            yield emu, host
        finally:
            await host.close()


def modem(emu: Emulator) -> Ec200u:
    dialect = emu.dialect
    assert isinstance(dialect, Ec200u)
    return dialect


async def eventually(predicate: Any, what: str) -> None:
    """Wait (bounded) until ``predicate()`` holds: state, not timing, is asserted."""
    for _ in range(int(STEP / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


class Peer:
    """One accepted connection on the test's TCP server."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def read_exactly(self, n: int) -> bytes:
        return await asyncio.wait_for(self.reader.readexactly(n), STEP)

    async def closed_by_modem(self) -> bool:
        """True once the modem side has closed: reads (and discards) until EOF, bounded."""
        try:
            await asyncio.wait_for(self.reader.read(), STEP)
        except ConnectionError:
            return True
        except TimeoutError:
            return False
        return True

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    def close(self) -> None:
        self.writer.close()


class TcpServer:
    """A loopback server standing in for the CSMS; hands accepted connections to the test."""

    def __init__(self) -> None:
        self._accepted: asyncio.Queue[Peer] = asyncio.Queue()
        self._peers: list[Peer] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> TcpServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for peer in self._peers:
            peer.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = Peer(reader, writer)
        self._peers.append(peer)
        await self._accepted.put(peer)

    async def accepted(self) -> Peer:
        return await asyncio.wait_for(self._accepted.get(), STEP)


async def open_socket(host: AtHost, server: TcpServer, conn_id: int = 0) -> Peer:
    """Activate context 1 (if needed) and connect ``conn_id`` to ``server``; echo must be off."""
    if b"+QIACT: 1," not in await host.cmd("AT+QIACT?"):
        assert await host.cmd('AT+QICSGP=1,1,"internet","","",1') == b"\r\nOK\r\n"
        assert await host.cmd("AT+QIACT=1") == b"\r\nOK\r\n"
    host.write(f'AT+QIOPEN=1,{conn_id},"TCP","127.0.0.1",{server.port},0,0\r'.encode())
    await host.expect(b"\r\nOK\r\n")
    await host.expect(f"\r\n+QIOPEN: {conn_id},0\r\n".encode())
    return await server.accepted()


@contextlib.asynccontextmanager
async def emulator_process(
    *args: str, timeout: float = 3 * STEP
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """``cpsim modem emulate ARGS`` as a real process, and the first line it prints."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from chargepoint.cli.emulate import emulate; emulate()",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        first = (await asyncio.wait_for(proc.stdout.readline(), timeout)).decode().rstrip("\n")
        yield proc, first
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
