"""The WebSocket adapter the EC200U path uses leaves no task behind a connection.

After reconnects, an old connection's keepalive task used to wake up, ping a
closing protocol (InvalidState) and die unobserved: "Task exception was never
retrieved" on Ctrl+C.  These run over a host TCP socket: the adapter is the
same code whatever stream is under it.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from chargepoint.transport.base import LinkClosed
from chargepoint.transport.tcp import TcpByteStream
from chargepoint.transport.websocket import WebSocketOverStream

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
STEP = 10.0
CLOSE_1001 = b"\x88\x02\x03\xe9"  # server close frame (unmasked), code 1001

Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


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


@asynccontextmanager
async def csms(behaviour: Behaviour) -> AsyncIterator[int]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handshake(reader, writer)
        await behaviour(reader, writer)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


@pytest.fixture
async def loop_errors() -> list[dict[str, Any]]:
    """What asyncio would print as 'Task exception was never retrieved' and the like."""
    errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: errors.append(ctx))
    return errors


def ws_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("ws-")]


async def open_ws(port: int, ping_interval: float) -> WebSocketOverStream:
    stream = await TcpByteStream.open("127.0.0.1", port)
    return await WebSocketOverStream.open(
        stream, f"ws://127.0.0.1:{port}/CP001", ping_interval=ping_interval
    )


def drop_on(go: asyncio.Event) -> Behaviour:
    """The CSMS (or the network) ends TCP without a close frame once the test says so."""

    async def drop(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await go.wait()
        w.close()

    return drop


async def test_a_dropped_connection_ends_its_keepalive_at_once() -> None:
    go = asyncio.Event()
    async with csms(drop_on(go)) as port:
        ws = await open_ws(port, ping_interval=60)
        assert sorted(t.get_name() for t in ws_tasks()) == ["ws-keepalive", "ws-reader"]
        go.set()
        with pytest.raises(LinkClosed):
            await asyncio.wait_for(ws.recv(), STEP)
        async with asyncio.timeout(STEP):  # not after the 60 s ping interval
            while ws_tasks():  # noqa: ASYNC110 -- no event marks "all tasks gone"
                await asyncio.sleep(0.01)


async def test_keepalive_never_pings_a_closed_connection(
    loop_errors: list[dict[str, Any]],
) -> None:
    """The runner reconnects without closing a lost connection: its keepalive must not
    wake up later and ping a closed protocol (InvalidState, never retrieved)."""
    go = asyncio.Event()
    async with csms(drop_on(go)) as port:
        ws = await open_ws(port, ping_interval=0.05)
        go.set()
        with pytest.raises(LinkClosed):
            await asyncio.wait_for(ws.recv(), STEP)
        async with asyncio.timeout(STEP):
            while ws_tasks():  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    del ws
    gc.collect()
    await asyncio.sleep(0)
    assert [e.get("message") for e in loop_errors] == []


async def test_close_leaves_no_task_behind() -> None:
    stop = asyncio.Event()

    async def close_frame_then_linger(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(CLOSE_1001)  # and TCP stays open: the protocol stays CLOSING
        await w.drain()
        await stop.wait()

    async with csms(close_frame_then_linger) as port:
        ws = await open_ws(port, ping_interval=0.05)
        await asyncio.sleep(0.2)  # a few pings while CLOSING
        await asyncio.wait_for(ws.close(), STEP)
        assert ws_tasks() == []
        stop.set()
