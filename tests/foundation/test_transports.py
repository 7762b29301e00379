"""Both WebSocket implementations against real servers on loopback: same behaviour required.

The links are built as ``cpsim run`` builds them (``build_link`` from a charger's
settings), so the key and the headers reach the upgrade request the way they do there.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Literal

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

from chargepoint.assembly import ChargerSpec, LinkSpec, build_link, build_station
from chargepoint.core.settings import Identity
from chargepoint.csms.server import Credentials, LocalCsms
from chargepoint.transport.base import LinkClosed, LinkError
from chargepoint.transport.direct import DirectLink
from chargepoint.transport.handshake import Endpoint

Flavour = Literal["websockets", "sansio"]
FLAVOURS: list[Flavour] = ["websockets", "sansio"]
Handler = Callable[[ServerConnection], Awaitable[None]]


def direct(
    url: str,
    flavour: Flavour,
    cp_id: str = "CP1",
    password: str | None = None,
    headers: tuple[tuple[str, str], ...] = (),
) -> DirectLink:
    """The direct link of a charger ``cp_id`` whose AuthorizationKey is ``password``."""
    station = build_station(ChargerSpec(Identity(cp_id), password=password))
    link = build_link(LinkSpec("direct", url, headers=headers, flavour=flavour), station)
    assert isinstance(link, DirectLink)
    return link


async def _server(handler: Handler, subprotocols: list[str] | None = None) -> AsyncIterator[str]:
    protocols = [Subprotocol(p) for p in subprotocols] if subprotocols is not None else None
    async with serve(handler, "127.0.0.1", 0, subprotocols=protocols) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/ocpp"


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_fragmented_message_and_server_ping(flavour: Flavour) -> None:
    pongs: list[float] = []
    got: list[str] = []

    async def handler(ws: ServerConnection) -> None:
        await ws.send(['[2,"1",', '"Heartbeat",', "{}]"])  # three frames, one message
        pongs.append(await (await ws.ping(b"x")))
        got.append(str(await ws.recv()))
        await ws.wait_closed()

    async for url in _server(handler, ["ocpp1.6"]):
        conn = await direct(url, flavour).connect()
        assert await conn.recv() == '[2,"1","Heartbeat",{}]'
        await conn.send('[3,"1",{}]')
        for _ in range(50):
            if got:
                break
            await asyncio.sleep(0.05)
        assert got == ['[3,"1",{}]']
        assert len(pongs) == 1  # the client answered the server's ping
        await conn.close()


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_server_initiated_close_surfaces_from_recv_and_send(flavour: Flavour) -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.close(4001, "go away")

    async for url in _server(handler, ["ocpp1.6"]):
        conn = await direct(url, flavour).connect()
        with pytest.raises(LinkClosed) as info:
            await asyncio.wait_for(conn.recv(), 5)
        assert info.value.code == 4001
        with pytest.raises(LinkClosed):
            await conn.send('[2,"2","Heartbeat",{}]')


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_server_without_ocpp16_is_a_clear_failure(flavour: Flavour) -> None:
    async def handler(ws: ServerConnection) -> None:
        await ws.wait_closed()

    async for url in _server(handler, subprotocols=None):
        with pytest.raises(LinkError, match="did not accept subprotocol ocpp1.6"):
            await direct(url, flavour).connect()


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_http_401_is_a_clear_failure(flavour: Flavour) -> None:
    async with LocalCsms(port=0, credentials=Credentials(shared="0123456789abcdef")) as csms:
        wrong = direct(csms.url, flavour, password="not-the-password")
        with pytest.raises(LinkError, match="HTTP 401") as info:
            await wrong.connect()
        assert "CP1" in str(info.value) or csms.url.split("//")[1] in str(info.value)
        right = direct(csms.url, flavour, password="0123456789abcdef")
        conn = await right.connect()
        await conn.close()


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_extra_headers_reach_the_server_and_win_over_basic_auth(flavour: Flavour) -> None:
    seen: list[dict[str, str]] = []

    async def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        seen.append(dict(ws.request.headers.raw_items()))
        await ws.wait_closed()

    async for url in _server(handler, ["ocpp1.6"]):
        link = direct(
            url,
            flavour,
            "CP9",
            password="secret-secret-16",
            headers=(("Authorization", "eyJraw-token"), ("Origin", "http://example.test")),
        )
        conn = await link.connect()
        await conn.close()
    assert seen[0]["Authorization"] == "eyJraw-token"
    assert seen[0]["Origin"] == "http://example.test"
    assert seen[0]["Sec-WebSocket-Protocol"] == "ocpp1.6"
    basic = Endpoint(url, "CP9", password="pw").request_headers()
    assert basic == [("Authorization", "Basic " + base64.b64encode(b"CP9:pw").decode())]


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_unreachable_csms_names_the_url(flavour: Flavour) -> None:
    with pytest.raises(LinkError, match=r"ws://127\.0\.0\.1:1/ocpp/CP1"):
        await direct("ws://127.0.0.1:1/ocpp", flavour).connect()


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("url", ["ws://127.0.0.1:99999/ocpp", "ws://[::1/ocpp"])
async def test_invalid_url_is_a_link_error_naming_it(flavour: Flavour, url: str) -> None:
    with pytest.raises(LinkError, match="not a valid WebSocket URL") as info:
        await direct(url, flavour).connect()
    assert str(info.value).startswith(url + "/CP1: ")


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_wss_to_a_plain_server_gives_a_reason(flavour: Flavour) -> None:
    async with LocalCsms(port=0) as csms:
        url = csms.url.replace("ws://", "wss://")
        link = direct(url, flavour)
        link.open_timeout = 5
        with pytest.raises(LinkError) as info:
            await link.connect()
    reason = str(info.value).removeprefix(url + "/CP1:").strip()
    assert len(reason) > 3, f"no reason in {str(info.value)!r}"
