"""Keepalive on the direct and EC200U links, and the back-off between reconnects.

A link that goes silent (cellular NAT or radio loss kills TCP without a word) must be
declared dead within WebSocketPingInterval + the pong timeout and reopened.  The
charger runs as ``cpsim run`` builds it, against the local CSMS behind a TCP proxy
that can turn into a black hole; everything runs on the virtual-time loop
(:func:`chargepoint.virtualtime.run_virtual`), so an hour of pings takes a moment and
every deadline is checked to the exact loop second.  ``sansio`` is the WebSocket code
the EC200U link runs (over a host socket here instead of AT+QISEND).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from chargepoint.assembly import ChargerSpec, LinkSpec, build_link, build_station
from chargepoint.clocks import loop_clock
from chargepoint.core.settings import Identity
from chargepoint.csms.server import LocalCsms
from chargepoint.station import StationOptions
from chargepoint.station.runner import Backoff, run_station
from chargepoint.transport.base import Connection, Link, LinkClosed, pong_timeout
from chargepoint.transport.direct import DirectLink, WebsocketsConnection
from chargepoint.transport.tcp import TcpByteStream
from chargepoint.transport.transfer import FileTransfer
from chargepoint.transport.websocket import WebSocketOverStream
from chargepoint.transport.wsprotocol import WebSocketOverTransport
from chargepoint.virtualtime import run_virtual

Flavour = Literal["websockets", "sansio"]
FLAVOURS: list[Flavour] = ["websockets", "sansio"]
INTERVAL = 60.0  # OCPP's usual WebSocketPingInterval
TIMEOUT = pong_timeout(INTERVAL)  # 30 s
CLOSE_TIMEOUT = 5.0  # DirectLink's close_timeout: websockets' wait for the TCP close
OP_PING, OP_CLOSE = 0x9, 0x8


# --- a TCP proxy in front of the CSMS that can turn into a black hole -----------------


class ClientFrames:
    """Opcodes of the frames a client sends (after its HTTP upgrade), from raw bytes.

    Only the frame headers are read, so permessage-deflate does not matter."""

    def __init__(self) -> None:
        self.opcodes: list[int] = []
        self._buffer = b""
        self._upgraded = False

    def feed(self, data: bytes) -> None:
        self._buffer += data
        if not self._upgraded:
            head, sep, rest = self._buffer.partition(b"\r\n\r\n")
            if not sep:
                return
            self._upgraded, self._buffer = True, rest
        while len(self._buffer) >= 2:
            opcode, size = self._buffer[0] & 0x0F, self._buffer[1] & 0x7F
            start = 2
            if size == 126:
                start, size = 4, int.from_bytes(self._buffer[2:4], "big")
            elif size == 127:
                start, size = 10, int.from_bytes(self._buffer[2:10], "big")
            start += 4 if self._buffer[1] & 0x80 else 0
            if len(self._buffer) < start + size:
                return
            self.opcodes.append(opcode)
            self._buffer = self._buffer[start + size :]


@dataclass
class Leg:
    """One charger connection through the proxy."""

    frames: ClientFrames = field(default_factory=ClientFrames)
    silent: bool = False
    writers: list[asyncio.StreamWriter] = field(default_factory=list)


class BlackHoleProxy:
    """Forwards TCP to ``upstream_port``; :meth:`silence` makes every connection open at
    that moment swallow all bytes and EOFs in both directions, as a dead radio link
    does.  Later connections are forwarded again: the network is back."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.legs: list[Leg] = []
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"ws://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/ocpp"

    def silence(self) -> None:
        for leg in self.legs:
            leg.silent = True

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        leg = Leg()
        self.legs.append(leg)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        leg.writers += [writer, up_writer]

        async def pump(
            src: asyncio.StreamReader, dst: asyncio.StreamWriter, frames: ClientFrames | None
        ) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    if leg.silent:
                        continue
                    if frames is not None:
                        frames.feed(data)
                    dst.write(data)
                    await dst.drain()
                if not leg.silent:
                    dst.close()

        await asyncio.gather(pump(reader, up_writer, leg.frames), pump(up_reader, writer, None))

    async def __aenter__(self) -> BlackHoleProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for leg in self.legs:
            for writer in leg.writers:
                writer.close()


# --- a link that records when it connects and when its connections die ---------------


@dataclass
class Death:
    at: float
    code: int
    reason: str


class WatchedConnection:
    def __init__(self, inner: Connection, deaths: list[Death]) -> None:
        self.inner, self._deaths, self._dead = inner, deaths, False

    def _record(self, exc: LinkClosed) -> None:
        if not self._dead:
            self._dead = True
            self._deaths.append(Death(asyncio.get_running_loop().time(), exc.code, exc.reason))

    async def send(self, message: str) -> None:
        try:
            await self.inner.send(message)
        except LinkClosed as exc:
            self._record(exc)
            raise

    async def recv(self) -> str:
        try:
            return await self.inner.recv()
        except LinkClosed as exc:
            self._record(exc)
            raise

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.inner.close(code, reason)


class WatchedLink:
    def __init__(self, inner: Link) -> None:
        self.inner = inner
        self.connects: list[float] = []
        self.deaths: list[Death] = []
        self.connections: list[WatchedConnection] = []
        self.changed = asyncio.Event()

    @property
    def description(self) -> str:
        return self.inner.description

    async def connect(self) -> Connection:
        connection = WatchedConnection(await self.inner.connect(), self.deaths)
        self.connects.append(asyncio.get_running_loop().time())
        self.connections.append(connection)
        self.changed.set()
        return connection

    def file_transfer(self) -> FileTransfer:
        return self.inner.file_transfer()

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def wait_connects(self, n: int) -> None:
        while len(self.connects) < n:
            self.changed.clear()
            await self.changed.wait()


@contextlib.asynccontextmanager
async def charger(
    state_dir: Path, flavour: Flavour, ping_interval: float, backoff: Backoff
) -> AsyncIterator[tuple[LocalCsms, BlackHoleProxy, WatchedLink]]:
    """A charger built as ``cpsim run`` builds it, through the proxy to the local CSMS."""
    async with LocalCsms(port=0) as csms, BlackHoleProxy(csms.port) as proxy:
        station = build_station(
            ChargerSpec(
                Identity("CPKA"),
                StationOptions(
                    state_dir=state_dir,
                    config_overrides={"WebSocketPingInterval": str(int(ping_interval))},
                ),
                loop_clock(),
            )
        )
        link = WatchedLink(build_link(LinkSpec("direct", proxy.url, flavour=flavour), station))
        stop = asyncio.Event()
        task = asyncio.create_task(run_station(station, link, stop, backoff))
        try:
            await link.wait_connects(1)
            await csms.frames.wait_for(lambda f: f.action == "BootNotification", 30)
            yield csms, proxy, link
        finally:
            stop.set()
            await task


def boots(csms: LocalCsms) -> int:
    return sum(
        1
        for f in csms.frames.frames
        if f.direction == "received" and f.action == "BootNotification"
    )


# --- the charger against a link that goes silent --------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_silent_link_is_declared_dead_within_interval_plus_timeout_and_reopened(
    flavour: Flavour, tmp_path: Path
) -> None:
    seed = 11
    first_delay = Backoff(1.0, 60.0, rng=random.Random(seed)).next()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        backoff = Backoff(1.0, 60.0, rng=random.Random(seed))
        async with charger(tmp_path, flavour, INTERVAL, backoff) as (csms, proxy, link):
            connected = link.connects[0]
            await asyncio.sleep(1)  # booted and settled: the radio link dies now
            silenced = loop.time()
            proxy.silence()
            await link.wait_connects(2)
            dead = link.deaths[0]
            # The first ping after the silence goes unanswered: dead one pong timeout later.
            if flavour == "sansio":
                assert dead.at - silenced <= INTERVAL + TIMEOUT
                assert dead.at - connected == INTERVAL + TIMEOUT  # to the loop second
                assert dead.reason == f"no pong within {TIMEOUT:g} s of a keepalive ping"
            else:
                # websockets' keepalive sends its 1011 close at INTERVAL + TIMEOUT, then
                # waits close_timeout for the server to close TCP before recv() hears.
                assert dead.at - silenced <= INTERVAL + TIMEOUT + CLOSE_TIMEOUT
                assert dead.at - connected == INTERVAL + TIMEOUT + CLOSE_TIMEOUT
                assert dead.reason == "connection lost: keepalive ping timeout"
            assert dead.code == 1006  # no close frame was received (RFC 6455 §7.1.5)
            assert len(link.deaths) == 1
            # An accepted session of 90 s was stable: the back-off restarted at `first`.
            assert link.connects[1] - dead.at == pytest.approx(first_delay, abs=1e-9)
            await csms.frames.wait_for(
                lambda f: f.action == "BootNotification" and f.seq > 1 and boots(csms) == 2, 30
            )
            assert len(proxy.legs) == 2  # the second connection went through the proxy

    run_virtual(main())


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_pings_are_off_when_the_key_is_0(flavour: Flavour, tmp_path: Path) -> None:
    async def main() -> None:
        async with charger(tmp_path, flavour, 0, Backoff()) as (_csms, proxy, link):
            await asyncio.sleep(1)
            proxy.silence()  # nothing can notice: no pings, and heartbeats go unanswered
            before = len(proxy.legs[0].frames.opcodes)
            await asyncio.sleep(600)
            assert link.deaths == [] and len(link.connects) == 1
        assert before > 0 and OP_PING not in proxy.legs[0].frames.opcodes
        inner = link.connections[0].inner
        if isinstance(inner, WebSocketOverStream | WebSocketOverTransport):
            assert inner.pings_sent == 0
        else:
            assert isinstance(inner, WebsocketsConnection)
            assert inner._ws.keepalive_task is None

    run_virtual(main())


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_lively_server_keeps_the_link_up_for_many_intervals(
    flavour: Flavour, tmp_path: Path
) -> None:
    hours = 2

    async def main() -> None:
        async with charger(tmp_path, flavour, INTERVAL, Backoff()) as (_csms, proxy, link):
            await asyncio.sleep(hours * 3600 + 1)
            assert link.connects == [link.connects[0]] and link.deaths == []
            pings = proxy.legs[0].frames.opcodes.count(OP_PING)
            assert pings == hours * 3600 / INTERVAL  # one a minute, on the dot

    run_virtual(main())


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_the_direct_link_reads_interval_and_timeout_at_each_connect(flavour: Flavour) -> None:
    async def main() -> None:
        async with LocalCsms(port=0) as csms:
            station = build_station(ChargerSpec(Identity("CPW"), StationOptions(state_dir=None)))
            link = build_link(LinkSpec("direct", csms.url, flavour=flavour), station)
            assert isinstance(link, DirectLink)
            for interval, timeout in ((INTERVAL, 30.0), (2.0, 5.0), (300.0, 30.0), (0.0, None)):
                # as a ChangeConfiguration does; it applies from the next connect on
                assert station.config.set("WebSocketPingInterval", str(int(interval))) == (
                    "Accepted"
                )
                connection = await link.connect()
                if isinstance(connection, WebsocketsConnection):
                    assert connection._ws.ping_interval == (interval or None)
                    assert connection._ws.ping_timeout == timeout
                else:
                    assert isinstance(connection, WebSocketOverStream | WebSocketOverTransport)
                    assert connection._ping_interval == interval
                    assert connection._pong_timeout == (timeout or 0.0)
                await connection.close()

    run_virtual(main())


# --- the EC200U's WebSocket code against a raw TCP peer --------------------------------

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
Peer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    request = await reader.readuntil(b"\r\n\r\n")
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    writer.write(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
    )
    await writer.drain()


@contextlib.asynccontextmanager
async def raw_peer(peer: Peer) -> AsyncIterator[int]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        await peer(reader, writer)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


Adapter = Literal["stream", "transport"]
ADAPTERS: list[Adapter] = ["stream", "transport"]
"""The two Sans-I/O adapters: over a ByteStream (the modems' path) and on an asyncio
transport (the direct ws:// link a fleet runs); the same keepalive rules for both."""


async def open_ws(
    port: int, interval: float, timeout: float | None, adapter: Adapter = "stream"
) -> WebSocketOverStream | WebSocketOverTransport:
    url = f"ws://127.0.0.1:{port}/CP1"
    if adapter == "transport":
        return await WebSocketOverTransport.open(
            "127.0.0.1", port, url, ping_interval=interval, pong_timeout=timeout
        )
    stream = await TcpByteStream.open("127.0.0.1", port)
    return await WebSocketOverStream.open(stream, url, ping_interval=interval, pong_timeout=timeout)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_peer_deaf_to_pings_gets_1011_and_its_socket_closed(adapter: Adapter) -> None:
    """Handshake, then it reads everything and answers nothing."""
    heard: list[bytes] = []
    eof_at: list[float] = []

    async def deaf(reader: asyncio.StreamReader, _w: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            heard.append(data)
        eof_at.append(asyncio.get_running_loop().time())

    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with raw_peer(deaf) as port:
            ws = await open_ws(port, 10.0, 4.0, adapter)
            opened = loop.time()
            with pytest.raises(LinkClosed) as info:
                await ws.recv()
            assert loop.time() - opened == 10.0 + 4.0
            assert info.value.code == 1006
            with pytest.raises(LinkClosed):
                await ws.send('[2,"1","Heartbeat",{}]')
            await asyncio.sleep(0.1)
            assert eof_at and eof_at[0] - opened == pytest.approx(14.0, abs=0.01)
            frames = ClientFrames()
            frames.feed(b"\r\n\r\n" + b"".join(heard))
            assert frames.opcodes == [OP_PING, OP_CLOSE]
            close = b"".join(heard)[-2 - len(b"keepalive ping timeout") - 4 - 2 :]
            mask, body = close[2:6], close[6:]
            code = bytes(b ^ mask[i % 4] for i, b in enumerate(body))
            assert code == (1011).to_bytes(2, "big") + b"keepalive ping timeout"
            await ws.close()

    run_virtual(main())


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_any_bytes_from_the_peer_count_as_life(adapter: Adapter) -> None:
    """A peer that never answers a ping but talks every 7 s is alive; once it stops,
    the next unanswered ping ends the link."""
    go_quiet = asyncio.Event()

    async def chatty(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        text = b'[2,"x","Heartbeat",{}]'
        while not go_quiet.is_set():
            writer.write(bytes([0x81, len(text)]) + text)  # unmasked server text frame
            await writer.drain()
            await asyncio.sleep(7)
        await asyncio.sleep(3600)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        async with raw_peer(chatty) as port:
            ws = await open_ws(port, 10.0, 8.0, adapter)
            for _ in range(100):  # 700 s, 70 pings, none answered
                assert await ws.recv() == '[2,"x","Heartbeat",{}]'
            assert ws.pings_sent == 69
            go_quiet.set()
            quiet_from = loop.time()
            with pytest.raises(LinkClosed):
                while True:
                    await ws.recv()
            assert loop.time() - quiet_from <= 10.0 + 8.0 + 7.0
            await ws.close()

    run_virtual(main())


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_pong_timeout_longer_than_the_interval_delays_the_next_ping(adapter: Adapter) -> None:
    pings: list[float] = []

    async def slow_ponger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        while data := await reader.read(65536):
            if data[0] & 0x0F == OP_PING:
                pings.append(loop.time())
                await asyncio.sleep(3)
                writer.write(b"\x8a\x00")  # empty pong
                await writer.drain()

    async def main() -> None:
        async with raw_peer(slow_ponger) as port:
            ws = await open_ws(port, 2.0, 5.0, adapter)
            start = asyncio.get_running_loop().time()
            await asyncio.sleep(30)
            await ws.close()
        # every 2 s is due, but the next ping waits for the pong 3 s later
        assert [round(p - start, 6) for p in pings[:4]] == [2.0, 5.0, 8.0, 11.0]

    run_virtual(main())


# --- back-off ------------------------------------------------------------------------


def test_backoff_is_randomized_exponential_bounded_and_seedable() -> None:
    a, b = Backoff(1.0, 60.0, rng=random.Random(7)), Backoff(1.0, 60.0, rng=random.Random(7))
    seq_a, seq_b = [a.next() for _ in range(12)], [b.next() for _ in range(12)]
    assert seq_a == seq_b  # reproducible with a seed
    nominal = [min(60.0, 2.0**n) for n in range(12)]
    for delay, d in zip(seq_a, nominal, strict=True):
        assert 0.8 * d <= delay <= d <= 60.0  # bounded: never past the cap
    other = Backoff(1.0, 60.0, rng=random.Random(8))
    assert [other.next() for _ in range(12)] != seq_a  # randomized
    spread = {round(Backoff(1.0, 60.0).next(), 6) for _ in range(50)}
    assert len(spread) > 40  # unseeded chargers do not retry in step
    a.reset()
    assert 0.8 <= a.next() <= 1.0


def test_backoff_rejects_nonsense_bounds() -> None:
    for args in ((0.0, 60.0, 0.2), (10.0, 5.0, 0.2), (1.0, 60.0, 1.0), (1.0, 60.0, -0.1)):
        with pytest.raises(ValueError):
            Backoff(*args)


def test_a_link_accepted_then_dropped_at_once_keeps_backing_off(tmp_path: Path) -> None:
    """Rapid open/close cycles wedge modem stacks: a session that is accepted but drops
    within seconds must not reconnect at the minimum delay forever."""

    async def main() -> list[float]:
        backoff = Backoff(1.0, 60.0, rng=random.Random(3))
        async with charger(tmp_path, "sansio", 0, backoff) as (csms, _proxy, link):
            for n in range(2, 7):
                await csms.frames.wait_for(lambda _f, n=n: boots(csms) >= n - 1, 300)
                csms.drop("CPKA")
                await link.wait_connects(n)
            return [c - d.at for c, d in zip(link.connects[1:], link.deaths, strict=True)]

    gaps = run_virtual(main())
    twin = Backoff(1.0, 60.0, rng=random.Random(3))
    assert gaps == pytest.approx([twin.next() for _ in range(5)], abs=1e-6)
    assert gaps[-1] > 8 * 0.8
