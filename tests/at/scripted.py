"""A scripted modem: the far end of a socket pair or pty, driven step by step by a test.

Tests say exactly which bytes the "modem" sends and when, which is what the
driver's corner cases (URC between prompt and SEND OK, a stale OK) need.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tty
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

STEP = 5.0  # no single step of a test may hang longer than this


class ScriptedModem:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, eol: bytes = b"\r"
    ) -> None:
        self.eol = eol
        self.reader = reader
        self.writer = writer
        self.commands: list[str] = []

    async def command(self) -> str:
        """The next command line the host wrote (CR or CR LF removed)."""
        raw = await asyncio.wait_for(self.reader.readuntil(self.eol), STEP)
        line = raw.decode().strip("\r\n")
        if line == "":
            return await self.command()
        self.commands.append(line)
        return line

    async def expect(self, line: str) -> None:
        got = await self.command()
        assert got == line, f"host sent {got!r}, expected {line!r}"

    async def read_exact(self, n: int) -> bytes:
        return await asyncio.wait_for(self.reader.readexactly(n), STEP)

    async def nothing_more(self, wait: float = 0.05) -> None:
        """Assert the host wrote nothing else (within a short grace period)."""
        try:
            extra = await asyncio.wait_for(self.reader.read(1), wait)
        except TimeoutError:
            return
        raise AssertionError(f"host wrote {extra!r} unexpectedly")

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def serve(self, answer: Callable[[ScriptedModem, str], Awaitable[None]]) -> None:
        """Answer every command with ``answer`` until the host goes away."""
        while True:
            try:
                raw = await self.reader.readuntil(self.eol)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            line = raw.decode().strip("\r\n")
            if line:
                self.commands.append(line)
                await answer(self, line)
                await self.writer.drain()

    def close(self) -> None:
        self.writer.close()


@asynccontextmanager
async def socket_pair(
    eol: bytes = b"\r",
) -> AsyncIterator[tuple[ScriptedModem, asyncio.StreamReader, asyncio.StreamWriter]]:
    """(modem, host reader, host writer) over a connected Unix socket pair."""
    a, b = socket.socketpair()
    host_reader, host_writer = await asyncio.open_connection(sock=a)
    modem_reader, modem_writer = await asyncio.open_connection(sock=b)
    modem = ScriptedModem(modem_reader, modem_writer, eol)
    try:
        yield modem, host_reader, host_writer
    finally:
        modem_writer.close()
        host_writer.close()


@asynccontextmanager
async def pty_modem() -> AsyncIterator[tuple[ScriptedModem, str]]:
    """(modem, device path): a raw pty whose slave a host opens like a serial port."""
    master, slave = os.openpty()
    tty.setraw(slave)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    read_transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(master, "rb", 0)
    )
    write_transport, write_protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(os.dup(master), "wb", 0)
    )
    writer = asyncio.StreamWriter(write_transport, write_protocol, None, loop)
    try:
        yield ScriptedModem(reader, writer), os.ttyname(slave)
    finally:
        read_transport.close()
        write_transport.close()
        os.close(slave)
