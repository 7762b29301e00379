"""The callback-driven WebSocket (:class:`WebSocketOverTransport`) a fleet runs on.

It is an asyncio ``Protocol``: the byte-level tests feed ``data_received`` directly,
one byte at a time, through a transport that records what the charger writes (a
real socket cannot be made to split a frame at every byte).  The rest runs over
real TCP: against raw peers for close codes, against the local CSMS for a charger
whose whole session runs without a task of its own.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from chargepoint.assembly import ChargerSpec, LinkSpec, build_link, build_station
from chargepoint.core.settings import Identity
from chargepoint.csms.server import LocalCsms
from chargepoint.station import StationOptions
from chargepoint.station.runner import Backoff, run_station
from chargepoint.transport.base import LinkClosed
from chargepoint.transport.push import PushConnection
from chargepoint.transport.websocket import MAX_MESSAGE, client_protocol
from chargepoint.transport.wsprotocol import WebSocketOverTransport

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
URL = "ws://127.0.0.1:9/CP1"


class RecordingTransport(asyncio.Transport):
    """What the charger writes; closing is recorded, nothing is sent anywhere."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True


class Sink:
    def __init__(self) -> None:
        self.messages: list[str] = []
        self.closed: list[LinkClosed] = []

    def message_received(self, text: str) -> None:
        self.messages.append(text)

    def link_closed(self, closed: LinkClosed) -> None:
        self.closed.append(closed)


def server_frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """An unmasked server frame (RFC 6455 §5.2), any length."""
    head = bytes([(0x80 if fin else 0) | opcode])
    if len(payload) < 126:
        head += bytes([len(payload)])
    elif len(payload) < 1 << 16:
        head += bytes([126]) + len(payload).to_bytes(2, "big")
    else:
        head += bytes([127]) + len(payload).to_bytes(8, "big")
    return head + payload


def client_frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, unmasked payload) of the masked frames a client wrote."""
    frames = []
    while data:
        opcode, size, start = data[0] & 0x0F, data[1] & 0x7F, 2
        if size == 126:
            size, start = int.from_bytes(data[2:4], "big"), 4
        elif size == 127:
            size, start = int.from_bytes(data[2:10], "big"), 10
        mask, body = data[start : start + 4], data[start + 4 : start + 4 + size]
        frames.append((opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(body))))
        data = data[start + 4 + size :]
    return frames


def upgrade_response(request: bytes) -> bytes:
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
    )


def opened() -> tuple[WebSocketOverTransport, RecordingTransport, bytes]:
    """A connection whose upgrade request was written; the 101 to feed it, not yet fed."""
    ws = WebSocketOverTransport(client_protocol(URL, None), URL, 0, 0)
    transport = RecordingTransport()
    ws.connection_made(transport)
    request = bytes(transport.written)
    assert request.startswith(b"GET /CP1 HTTP/1.1\r\n")
    transport.written.clear()
    return ws, transport, upgrade_response(request)


def feed_bytewise(ws: WebSocketOverTransport, data: bytes) -> None:
    for i in range(len(data)):
        ws.data_received(data[i : i + 1])


async def test_messages_split_at_every_byte_arrive_whole_and_in_order() -> None:
    ws, transport, response = opened()
    long_text = "x" * 70_000  # a 64-bit length field
    stream = (
        response
        + server_frame(0x1, b'[2,"1","Reset",', fin=False)  # a message in two fragments
        + server_frame(0x9, b"ping", fin=True)  # a ping between them (RFC 6455 §5.4)
        + server_frame(0x0, b'{"type":"Soft"}]')
        + server_frame(0x1, '[3,"2",{"k":"é"}]'.encode())
        + server_frame(0x1, long_text.encode())
    )
    feed_bytewise(ws, stream[:-40_000])
    sink = Sink()
    ws.deliver_to(sink)  # what came before deliver_to first, in order
    feed_bytewise(ws, stream[-40_000:])
    assert sink.messages == ['[2,"1","Reset",{"type":"Soft"}]', '[3,"2",{"k":"é"}]', long_text]
    assert client_frames(bytes(transport.written)) == [(0xA, b"ping")]  # the pong
    assert sink.closed == [] and not transport.closed


async def test_recv_returns_what_came_before_any_sink() -> None:
    ws, _transport, response = opened()
    feed_bytewise(ws, response + server_frame(0x1, b"[2]") + server_frame(0x1, b"[3]"))
    assert [await ws.recv(), await ws.recv()] == ["[2]", "[3]"]
    ws.data_received(server_frame(0x8, (1001).to_bytes(2, "big") + b"going away"))
    ws.eof_received()
    with pytest.raises(LinkClosed) as info:
        await ws.recv()
    assert (info.value.code, info.value.reason) == (1001, "going away")


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (server_frame(0x2, b"\x00\x01"), 1003),  # OCPP-J 1.6 §3: text frames only
        (server_frame(0x1, b"\xff\xfe"), 1007),  # not UTF-8
        (server_frame(0x1, b"x" * (MAX_MESSAGE + 1)), 1009),  # over 1 MiB
    ],
)
async def test_what_ocpp_j_refuses_gets_its_close_code(frame: bytes, code: int) -> None:
    ws, transport, response = opened()
    sink = Sink()
    ws.deliver_to(sink)
    feed_bytewise(ws, response)
    ws.data_received(frame)
    assert client_frames(bytes(transport.written))[0][0] == 0x8
    assert int.from_bytes(client_frames(bytes(transport.written))[0][1][:2], "big") == code
    assert sink.messages == []
    with pytest.raises(LinkClosed):
        ws.send_now("[2]")  # a close frame is out: no more messages
    # the CSMS answers the close and ends TCP: the link ends with the code (after a
    # message too large, websockets reads no more frames: 1006, naming our 1009)
    ws.data_received(server_frame(0x8, code.to_bytes(2, "big")))
    ws.eof_received()
    assert len(sink.closed) == 1
    if code == 1009:
        assert sink.closed[0].code == 1006 and "our close 1009" in sink.closed[0].reason
    else:
        assert sink.closed[0].code == code
    assert transport.closed


async def test_tcp_lost_without_a_close_frame_is_1006_and_sends_fail() -> None:
    ws, transport, response = opened()
    sink = Sink()
    feed_bytewise(ws, response)
    ws.deliver_to(sink)
    ws.send_now('[2,"1","Heartbeat",{}]')
    assert client_frames(bytes(transport.written)) == [(0x1, b'[2,"1","Heartbeat",{}]')]
    ws.connection_lost(ConnectionResetError())
    assert [c.code for c in sink.closed] == [1006]
    with pytest.raises(LinkClosed):
        ws.send_now("[2]")
    ws.deliver_to(Sink())  # a late sink hears of the end at once


# --- over real TCP ----------------------------------------------------------------------


def charger_tasks() -> list[asyncio.Task[Any]]:
    """Tasks running charger code (not the CSMS's, the test's or a raw peer's)."""
    found = []
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        where = code.co_filename if code is not None else ""
        if "/chargepoint/" in where and "/chargepoint/csms/" not in where:
            found.append(task)
    return found


async def raw_csms(behaviour: Any) -> tuple[asyncio.Server, int]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(upgrade_response(await reader.readuntil(b"\r\n\r\n")))
        await behaviour(reader, writer)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_close_runs_the_close_handshake_and_leaves_no_task() -> None:
    heard: list[bytes] = []

    async def echo_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read(65536)
        heard.append(data)
        writer.write(server_frame(0x8, (1000).to_bytes(2, "big")))
        await writer.drain()
        writer.close()

    server, port = await raw_csms(echo_close)
    async with server:
        ws = await WebSocketOverTransport.open("127.0.0.1", port, f"ws://127.0.0.1:{port}/CP1")
        assert isinstance(ws, PushConnection)
        assert charger_tasks() == []  # a connection holds no task
        await ws.close(1000, "bye")
        assert client_frames(heard[0]) == [(0x8, (1000).to_bytes(2, "big") + b"bye")]
        with pytest.raises(LinkClosed) as info:
            await ws.recv()
        assert info.value.code == 1000


async def test_a_refused_upgrade_names_the_status() -> None:
    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        with pytest.raises(Exception, match="HTTP 401 Unauthorized .check the charge-point id"):
            await WebSocketOverTransport.open("127.0.0.1", port, f"ws://127.0.0.1:{port}/CP1")


async def test_a_charger_on_it_runs_its_session_with_no_task_but_its_own(
    tmp_path: Path,
) -> None:
    """run_station over the direct sansio link: booted, keepalive pings and a Reset from
    the CSMS, and the only task is the one running the charger."""
    async with LocalCsms(port=0) as csms:
        station = build_station(
            ChargerSpec(Identity("CPT"), StationOptions(state_dir=tmp_path / os.urandom(4).hex()))
        )
        assert station.config.set("WebSocketPingInterval", "2") == "Accepted"
        link = build_link(LinkSpec("direct", csms.url, flavour="sansio"), station)
        stop = asyncio.Event()
        runner = asyncio.create_task(run_station(station, link, stop, Backoff(0.1, 0.2)))
        try:
            async with asyncio.timeout(20):
                while not station.online:
                    await station.changed()
                await asyncio.sleep(2.5)  # a keepalive ping and its pong
                # the charger's own task, and the one stop watcher of all that share stop
                assert sorted(t.get_name() for t in charger_tasks()) == [
                    runner.get_name(),
                    "stop-watch",
                ]
                await csms.call("CPT", "Reset", {"type": "Soft"})
                while station.online:  # the charger closes the link and reboots ...
                    await station.changed()
                while not station.online:  # ... and connects again
                    await station.changed()
        finally:
            stop.set()
            await runner
    boots = [f for f in csms.frames.frames if f.action == "BootNotification"]
    assert len(boots) == 2 and all(f.direction == "received" for f in boots)
