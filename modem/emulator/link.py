"""The serial side of the emulator: a pseudo-terminal or a ``socket://`` server.

Both behave like a UART that is always there: the emulator keeps running when
the host closes and reopens the port, and bytes written while nobody listens
on a TCP link are lost (a UART with nothing attached).  Pacing to the baud
rate lives here too, because it is a property of the wire, not of a dialect.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import tty
from typing import Protocol
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

READ_CHUNK = 4096


def parse_socket_url(url: str) -> tuple[str, int]:
    """``socket://127.0.0.1:7000`` -> ``("127.0.0.1", 7000)``; port 0 picks a free one."""
    parts = urlsplit(url)
    if parts.scheme != "socket" or not parts.hostname or parts.port is None:
        raise ValueError(f"expected socket://HOST:PORT, got {url!r}")
    return parts.hostname, parts.port


class SerialLink(Protocol):
    """What the command engine needs from the wire."""

    @property
    def url(self) -> str:
        """Something pyserial can open: a pty path or a ``socket://`` URL."""
        ...

    async def read(self) -> bytes:
        """Wait for bytes from the host (never returns ``b""``)."""
        ...

    async def write(self, data: bytes) -> None: ...

    async def aclose(self) -> None: ...


class Pacer:
    """Spreads bytes over time as a UART at ``baud`` 8N1 would (10 bits per byte).

    A virtual clock makes the average rate exact even though asyncio sleeps
    are coarse: a burst is delayed by what it would really take on the wire.
    """

    def __init__(self, baud: int | None) -> None:
        self._rate: float | None = None
        self._next = 0.0
        self.set_baud(baud)

    def set_baud(self, baud: int | None) -> None:
        self._rate = baud / 10.0 if baud else None

    @property
    def slice_size(self) -> int:
        """Bytes per ~10 ms of wire time: small enough for a smooth stream."""
        return max(1, int(self._rate / 100)) if self._rate else 1 << 16

    async def pace(self, nbytes: int) -> None:
        if self._rate is None:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._next = max(now, self._next) + nbytes / self._rate
        delay = self._next - now
        if delay > 0.0005:
            await asyncio.sleep(delay)


class PtyLink:
    """A pseudo-terminal whose slave path is handed to the host.

    The slave is put in raw mode (cooked mode would echo our own output back to
    us and turn CR into LF) and stays open here, otherwise reading the master
    fails with EIO whenever no host has the port open (reference D.1).
    """

    def __init__(self) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self._path = os.ttyname(self._slave)
        self._closed = False

    @property
    def url(self) -> str:
        return self._path

    async def _wait(self, writer: bool) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def ready() -> None:
            if not fut.done():
                fut.set_result(None)

        add, remove = (
            (loop.add_writer, loop.remove_writer)
            if writer
            else (loop.add_reader, loop.remove_reader)
        )
        add(self._master, ready)
        try:
            await fut
        finally:
            remove(self._master)

    async def read(self) -> bytes:
        while True:
            try:
                data = os.read(self._master, READ_CHUNK)
            except BlockingIOError:
                data = b""
            except OSError as exc:  # EIO cannot happen while we hold the slave, but be safe
                if exc.errno != errno.EIO:
                    raise
                await asyncio.sleep(0.05)
                continue
            if data:
                return data
            await self._wait(writer=False)

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self._master, view)
            except BlockingIOError:
                n = 0
            view = view[n:]
            if view:
                await self._wait(writer=True)

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self._master)
            os.close(self._slave)


class TcpServerLink:
    """``socket://host:port`` for pyserial: one host at a time, the newest wins.

    A new connection replaces the previous one (ser2net's "kickolduser"), so
    a host that died without closing its socket can never lock the port, and
    a test that reconnects does not race the emulator noticing the old close.
    """

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._server: asyncio.Server | None = None
        self._client: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._connected = asyncio.Event()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self._host, self._port)
        self._port = self._server.sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"socket://{self._host}:{self._port}"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._client is not None:
            log.warning("serial link: a new client replaces the previous one")
            self._client[1].close()
        self._client = (reader, writer)
        self._connected.set()

    def _drop_client(self) -> None:
        if self._client is not None:
            self._client[1].close()
        self._client = None
        self._connected.clear()

    async def read(self) -> bytes:
        while True:
            await self._connected.wait()
            client = self._client
            assert client is not None
            try:
                data = await client[0].read(READ_CHUNK)
            except ConnectionError:
                data = b""
            if client is not self._client:
                continue  # replaced meanwhile: whatever it sent is gone with it
            if data:
                return data
            self._drop_client()

    async def write(self, data: bytes) -> None:
        if self._client is None:
            return
        writer = self._client[1]
        try:
            writer.write(data)
            await writer.drain()
        except ConnectionError:
            self._drop_client()

    async def aclose(self) -> None:
        self._drop_client()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()


async def open_link(listen: str | None) -> SerialLink:
    """A pty when ``listen`` is None, else a TCP server for ``socket://HOST:PORT``."""
    if listen is None:
        return PtyLink()
    host, port = parse_socket_url(listen)
    link = TcpServerLink(host, port)
    await link.start()
    return link
