"""The local CSMS's HTTP side over real HTTP (aiohttp's client), and raw WebSocket chargers.

A raw charger is a websockets client that answers the CSMS's calls as the test says
(a result, a CALLERROR, or nothing): faster than a full station, and it lets a test
make a charger misbehave.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from chargepoint.csms.server import LocalCsms

Answer = Callable[[str, dict[str, Any]], list[Any] | None]
"""(action, payload) -> the frame to send back after [type, id], or None for silence."""


class Api:
    """Requests to one LocalCsms's HTTP side; the token is sent unless told otherwise."""

    def __init__(self, csms: LocalCsms, session: aiohttp.ClientSession) -> None:
        self.csms, self.session = csms, session

    async def request(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        token: str | None = "the right one",
        headers: dict[str, str] | None = None,
        data: Any = None,
    ) -> tuple[int, Any]:
        sent = dict(headers or {})
        if token == "the right one":
            token = self.csms.api_token
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        async with self.session.request(
            method, self.csms.api_url + path, json=json_body, headers=sent, data=data
        ) as response:
            raw = await response.read()
            body = json.loads(raw) if response.content_type == "application/json" else raw
            return response.status, body

    async def get(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        return await self.request("POST", path, body, **kwargs)


@pytest.fixture
async def api(csms: LocalCsms) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(csms, session)


def accept_all(action: str, payload: dict[str, Any]) -> list[Any] | None:
    return [{"status": "Accepted"}]


@pytest.fixture
async def raw_charger(csms: LocalCsms) -> AsyncIterator[Callable[..., Any]]:
    tasks: list[asyncio.Task[None]] = []
    sockets: list[ClientConnection] = []

    async def start(cp_id: str = "CPX", answer: Answer = accept_all) -> ClientConnection:
        ws = await connect(f"{csms.url}/{cp_id}", subprotocols=[Subprotocol("ocpp1.6")])

        async def serve() -> None:
            with contextlib.suppress(ConnectionClosed):
                async for text in ws:
                    frame = json.loads(text)
                    if frame[0] == 2:
                        reply = answer(frame[2], frame[3])
                        if reply is not None:
                            await ws.send(
                                json.dumps([3 if len(reply) == 1 else 4, frame[1], *reply])
                            )

        tasks.append(asyncio.create_task(serve()))
        sockets.append(ws)
        await csms.wait_connected(cp_id)
        return ws

    yield start
    for ws in sockets:
        await ws.close()
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
