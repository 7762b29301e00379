"""Test-side pieces for the ESP-AT path: a raw-bytes host, a WebSocket server, the emulator."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import serial_asyncio_fast
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from modem.emulator import Emulator, Timing, run_emulator
from modem.emulator.espat import EspAt
from modem.espat import EspAtModem

STEP = 10.0  # no single wait in a test may last longer
FAST = Timing().scaled(0.02)
SSID = "cpsim-lab"
PASSWORD = 's3cret,"pw\\'  # needs every ESP-AT escape


class RawHost:
    """Bytes in, bytes out: tests assert exact wire bytes, so nothing is interpreted here."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, url: str) -> RawHost:
        return cls(*await serial_asyncio_fast.open_serial_connection(url=url, baudrate=115200))

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), STEP)

    def write(self, data: bytes | str) -> None:
        self.writer.write(data.encode() if isinstance(data, str) else data)

    async def expect(self, expected: bytes) -> None:
        got = await asyncio.wait_for(self.reader.readexactly(len(expected)), STEP)
        assert got == expected

    async def cmd(self, line: str, answer: bytes) -> None:
        """Send ``line`` + CR LF; the next bytes must be exactly ``answer``."""
        self.write(line + "\r\n")
        await self.expect(answer)


class WsServer:
    """A loopback WebSocket server standing in for the CSMS; hands connections to the test.

    ``hold`` makes the next handshake wait until the test sets it (a slow CSMS).
    """

    def __init__(self) -> None:
        self._accepted: asyncio.Queue[ServerConnection] = asyncio.Queue()
        self.requests: list[Request] = []
        self.hold: asyncio.Event | None = None
        self.holding = asyncio.Event()
        self.port = 0

    def url(self, path: str = "/ocpp/CP1") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    async def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        self.requests.append(request)
        if self.hold is not None:
            self.holding.set()
            await self.hold.wait()
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        await self._accepted.put(ws)
        await ws.wait_closed()

    async def accepted(self) -> ServerConnection:
        return await asyncio.wait_for(self._accepted.get(), STEP)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[WsServer]:
        async with serve(
            self._handler,
            "127.0.0.1",
            0,
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            process_request=self._process_request,
        ) as server:
            self.port = server.sockets[0].getsockname()[1]
            yield self


@contextlib.asynccontextmanager
async def esp_emulator(**options: Any) -> AsyncIterator[Emulator]:
    options.setdefault("timing", FAST)
    options.setdefault("baud", None)
    options.setdefault("wifi_ssid", SSID)
    options.setdefault("wifi_password", PASSWORD)
    async with run_emulator("esp-at", **options) as emu:
        yield emu


@contextlib.asynccontextmanager
async def esp_modem(tmp_path: Path, **options: Any) -> AsyncIterator[tuple[EspAtModem, Emulator]]:
    """The driver on the emulator's pty, Wi-Fi up; the AT trace in ``tmp_path/at.log``."""
    async with esp_emulator(**options) as emu:
        modem = await EspAtModem.open(emu.port_url, at_log=tmp_path / "at.log")
        try:
            await asyncio.wait_for(modem.bring_up(SSID, PASSWORD), STEP)
            yield modem, emu
        finally:
            await modem.aclose()


def esp(emu: Emulator) -> EspAt:
    dialect = emu.dialect
    assert isinstance(dialect, EspAt)
    return dialect


async def eventually(predicate: Callable[[], bool], what: str) -> None:
    """Wait (bounded) for state that offers no event to wait on."""
    async with asyncio.timeout(STEP):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert predicate(), what
