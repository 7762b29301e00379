"""A plain TCP socket as a :class:`modem.stream.ByteStream`.

It lets the Sans-I/O WebSocket adapter run over a host socket exactly as it runs
over a modem's socket, so both paths share one WebSocket implementation and
one set of tests.
"""

from __future__ import annotations

import asyncio
import contextlib

from modem.stream import StreamClosed


class TcpByteStream:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, host: str, port: int, timeout: float = 10.0) -> TcpByteStream:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def read(self) -> bytes:
        try:
            return await self._reader.read(65536)
        except (ConnectionError, OSError):
            return b""

    async def write(self, data: bytes) -> None:
        if self._writer.is_closing():
            raise StreamClosed("TCP socket closed")
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            raise StreamClosed(f"TCP write failed: {exc}") from exc

    async def close(self) -> None:
        if not self._writer.is_closing():
            self._writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self._writer.wait_closed()
