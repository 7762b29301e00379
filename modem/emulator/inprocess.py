"""An emulated modem in the host's own process: no pty, no socket, no thread.

A fleet of thousands of cellular chargers cannot open a pseudo-terminal per
charger (one file descriptor each, two with the slave) nor a thread per modem.
Here the emulator's :class:`~modem.emulator.engine.Engine` runs on the host's
event loop and the "UART" is a pair of in-memory buffers:

* host -> modem: the driver's :class:`asyncio.StreamWriter` writes into an
  :class:`InProcessLink` buffer the engine reads, paced by the engine's input
  :class:`~modem.emulator.link.Pacer` (10 bits per byte at the baud rate);
* modem -> host: the engine's paced output lands in the driver's
  :class:`asyncio.StreamReader` directly.

Pacing stays where it was (the engine paces whole chunks, in ~10 ms slices, so
there is no timer per byte); ``None`` or ``0`` baud means no pacing.  The port
the driver "opens" is named ``inprocess://<name>``: :meth:`InProcessModem.open_port`
has :func:`modem.serialport.open_port`'s signature, so it goes in a link's
settings as ``open_port=`` and the drivers need no change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from modem.emulator.config import EmulatorConfig
from modem.emulator.dialect import Dialect
from modem.emulator.engine import Engine
from modem.emulator.faults import Faults
from modem.emulator.runner import DIALECTS

SCHEME = "inprocess://"
HIGH_WATER = 64 * 1024
"""Host bytes waiting for the modem above which the host's writer is paused (RTS off)."""
LOW_WATER = 16 * 1024


class InProcessPortError(ValueError):
    """A host asked for an ``inprocess://`` port this modem is not."""


class _HostTransport(asyncio.Transport):
    """The host's end of the wire: writes go to the modem's input buffer."""

    def __init__(self, link: InProcessLink) -> None:
        super().__init__()
        self._link = link
        self._protocol: asyncio.BaseProtocol | None = None
        self._closing = False
        self._paused = False

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self._protocol is not None
        return self._protocol

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or not data:
            return
        self._link.from_host(bytes(data))
        if not self._paused and self._link.pending > HIGH_WATER:
            self._paused = True
            if isinstance(self._protocol, asyncio.Protocol):
                self._protocol.pause_writing()

    def drained(self) -> None:
        """The modem took bytes: resume a paused writer below the low water mark."""
        if self._paused and self._link.pending <= LOW_WATER:
            self._paused = False
            if isinstance(self._protocol, asyncio.Protocol):
                self._protocol.resume_writing()

    def get_write_buffer_size(self) -> int:
        return self._link.pending

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._link.host_closed(self)
        protocol = self._protocol
        if protocol is not None:
            asyncio.get_running_loop().call_soon(protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()

    def can_write_eof(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._link.url if name == "peername" else default


class InProcessLink:
    """The emulator's side of the in-memory UART (a :class:`~modem.emulator.link.SerialLink`).

    Like a UART with nothing attached, bytes the modem writes while no host has
    the port open are lost, and the modem keeps running when the host reopens.
    ``sent_to_host`` / ``received_from_host`` count bytes as they cross the wire
    (after pacing), for a test or a fleet report.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._inbound = bytearray()
        self._arrived = asyncio.Event()
        self._reader: asyncio.StreamReader | None = None
        self._transport: _HostTransport | None = None
        self.sent_to_host = 0
        self.received_from_host = 0
        self._output_taps: list[Callable[[bytes], None]] = []

    def tap_output(self, tap: Callable[[bytes], None]) -> Callable[[], None]:
        """Call ``tap`` with every chunk the modem writes to the host, as it crosses the
        wire (after pacing); returns the function that removes the tap."""
        self._output_taps.append(tap)
        return lambda: self._output_taps.remove(tap)

    @property
    def url(self) -> str:
        return SCHEME + self.name

    @property
    def pending(self) -> int:
        """Host bytes written but not yet read by the modem."""
        return len(self._inbound)

    # -- the host's side ------------------------------------------------------
    def attach(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A fresh (reader, writer) for a host opening the port; an earlier host is cut off."""
        if self._transport is not None:
            self._transport.close()
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=2**16)
        protocol = asyncio.StreamReaderProtocol(reader)
        transport = _HostTransport(self)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        self._reader, self._transport = reader, transport
        self._inbound.clear()
        return reader, asyncio.StreamWriter(transport, protocol, reader, loop)

    def from_host(self, data: bytes) -> None:
        self._inbound += data
        self._arrived.set()

    def host_closed(self, transport: _HostTransport) -> None:
        if transport is self._transport:
            self._transport, self._reader = None, None

    # -- SerialLink -------------------------------------------------------------
    async def read(self) -> bytes:
        while not self._inbound:
            self._arrived.clear()
            await self._arrived.wait()
        data = bytes(self._inbound)
        self._inbound.clear()
        self.received_from_host += len(data)
        if self._transport is not None:
            self._transport.drained()
        return data

    async def write(self, data: bytes) -> None:
        reader = self._reader
        if reader is None:
            return  # nobody on the port: the bytes are lost
        self.sent_to_host += len(data)
        for tap in self._output_taps:
            tap(data)
        reader.feed_data(data)

    async def aclose(self) -> None:
        if self._transport is not None:
            self._transport.close()
        if self._reader is not None:
            self._reader.feed_eof()
        self._reader, self._transport = None, None


class InProcessModem:
    """One emulated modem on the running loop, reachable as ``inprocess://<name>``.

    ``async with InProcessModem(config, "CP00001") as modem:`` then give
    ``modem.open_port`` to the link settings (``ModemSettings(modem.url,
    open_port=modem.open_port)``); ``modem.faults`` injects faults.
    """

    def __init__(self, config: EmulatorConfig, name: str) -> None:
        if config.dialect not in DIALECTS:
            raise ValueError(f"unknown dialect {config.dialect!r}; known: {', '.join(DIALECTS)}")
        self.config = config
        self.link = InProcessLink(name)
        self._engine: Engine | None = None

    @property
    def url(self) -> str:
        return self.link.url

    def start(self) -> None:
        """Power on (on the running loop)."""
        if self._engine is None:
            self._engine = Engine(self.link, self.config, DIALECTS[self.config.dialect])
            self._engine.start()

    @property
    def running(self) -> bool:
        """Powered on: its port was opened (or :meth:`start` called)."""
        return self._engine is not None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError(f"{self.url}: modem not started")
        return self._engine

    @property
    def faults(self) -> Faults:
        return Faults(self.engine)

    @property
    def dialect(self) -> Dialect:
        return self.engine.dialect

    async def open_port(
        self, url: str, baudrate: int = 115200, *, rtscts: bool = False
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """:data:`modem.serialport.PortOpener` for this modem's ``inprocess://`` port.

        ``baudrate`` is the host's UART setting; the wire runs at the modem's
        (``config.baud``), as a mismatch would not work on a real board either.
        """
        if url != self.url:
            raise InProcessPortError(f"{url!r}: this in-process modem is {self.url!r}")
        self.start()
        return self.link.attach()

    async def aclose(self) -> None:
        if self._engine is not None:
            await self._engine.aclose()
            self._engine = None
        await self.link.aclose()

    async def __aenter__(self) -> InProcessModem:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
