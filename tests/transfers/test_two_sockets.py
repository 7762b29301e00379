"""Two QI sockets at once: the OCPP WebSocket on 0, an HTTP transfer on 1 (modem-at.md A.16 (a)).

The parser is fed the interleaved modem output split at every byte; the driver,
against the scripted EC200U, routes each socket's URCs to its own socket and an
h11 download runs over socket 1 while socket 0 keeps its bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from at.scripted import socket_pair
from quectel.fakeqi import FakeQI

from chargepoint.transport.http11 import HttpClient, HttpTarget
from chargepoint.transport.transfer import TransferError
from modem.at import ATDriver, ATParser, Event, Line, Ok, Payload, Prompt, SendResult, Urc
from modem.quectel import QUECTEL, QuectelModem
from modem.stream import ByteStream

STEP = 5.0
FRAME = b"\x81\x03abc"  # a WebSocket text frame for socket 0
HTTP = (
    b"HTTP/1.1 200 OK\r\nContent-Length: 24\r\n\r\n"
    b'\r\nOK\r\n+QIURC: "closed",0\r\n\x1a'  # a body full of modem words
)
GET = b"GET /fw.bin HTTP/1.1\r\nHost: 10.0.0.2\r\n\r\n"

TRANSCRIPT = b"".join(
    [
        b'AT+QIOPEN=1,1,"TCP","10.0.0.2",80,0,0\r\r\nOK\r\n',
        b'\r\n+QIURC: "recv",0\r\n\r\n+QIOPEN: 1,0\r\n',
        b"AT+QISEND=1,%d\r\r\n> " % len(GET),
        b'\r\n+QIURC: "recv",1\r\n\r\nSEND OK\r\n',
        b"AT+QIRD=0,1500\r\r\n+QIRD: %d\r\n" % len(FRAME) + FRAME + b"\r\n\r\nOK\r\n",
        b"AT+QIRD=1,1500\r\r\n+QIRD: %d\r\n" % len(HTTP) + HTTP + b"\r\n",
        b'\r\n+QIURC: "closed",1\r\n\r\nOK\r\n',
        b"AT+QIRD=1,1500\r\r\n+QIRD: 0\r\n\r\nOK\r\n",
        b"AT+QICLOSE=1\r\r\nOK\r\n",
    ]
)
EXPECTED: list[Event] = [
    Line('AT+QIOPEN=1,1,"TCP","10.0.0.2",80,0,0'),
    Ok(),
    Urc('+QIURC: "recv",0'),
    Urc("+QIOPEN: 1,0"),
    Line(f"AT+QISEND=1,{len(GET)}"),
    Prompt(),
    Urc('+QIURC: "recv",1'),
    SendResult(True),
    Line("AT+QIRD=0,1500"),
    Payload(f"+QIRD: {len(FRAME)}", FRAME),
    Ok(),
    Line("AT+QIRD=1,1500"),
    Payload(f"+QIRD: {len(HTTP)}", HTTP),
    Urc('+QIURC: "closed",1'),
    Ok(),
    Line("AT+QIRD=1,1500"),
    Payload("+QIRD: 0", b""),
    Ok(),
    Line("AT+QICLOSE=1"),
    Ok(),
]


def parse(chunks: list[bytes]) -> list[Event]:
    parser = ATParser(QUECTEL)
    events: list[Event] = []
    for chunk in chunks:
        parser.receive_data(chunk)
        events += parser.events()
    parser.receive_eof()
    return events + parser.events()


@pytest.mark.parametrize("split", range(len(TRANSCRIPT) + 1))
def test_interleaved_sockets_parse_at_every_split(split: int) -> None:
    assert parse([TRANSCRIPT[:split], TRANSCRIPT[split:]]) == EXPECTED


def test_interleaved_sockets_one_byte_at_a_time() -> None:
    assert parse([TRANSCRIPT[i : i + 1] for i in range(len(TRANSCRIPT))]) == EXPECTED


@pytest.fixture
async def rig() -> AsyncIterator[tuple[QuectelModem, FakeQI]]:
    async with socket_pair() as (scripted, reader, writer):
        fake = FakeQI(scripted)
        server = asyncio.create_task(scripted.serve(fake.answer))
        driver = ATDriver(reader, writer, dialect=QUECTEL, port="fake")
        modem = QuectelModem(driver, poll_interval=30.0, send_backoff=(0.01,))
        fake.active = True
        await modem.activate(1, "internet")
        yield modem, fake
        await modem.aclose()
        server.cancel()
        assert fake.violations == []


async def test_urcs_are_routed_by_socket_id(rig: tuple[QuectelModem, FakeQI]) -> None:
    modem, fake = rig
    ocpp = await modem.open_tcp("csms", 80, connect_id=0)
    assert modem.free_connect_id(avoid=(0,)) == 1
    transfer = await modem.open_tcp("fw", 80, connect_id=modem.free_connect_id(avoid=(0,)))
    assert modem.free_connect_id(avoid=(0,)) == 2
    fake.deliver(1, b"http bytes")
    fake.deliver(0, FRAME)
    assert await asyncio.wait_for(transfer.read(), STEP) == b"http bytes"
    assert await asyncio.wait_for(ocpp.read(), STEP) == FRAME
    fake.deliver(1, b" and the rest")
    fake.peer_close(1)
    assert await asyncio.wait_for(transfer.read(), STEP) == b" and the rest"
    assert await asyncio.wait_for(transfer.read(), STEP) == b""  # socket 1 ended ...
    await ocpp.write(b"still here")  # ... socket 0 did not
    fake.deliver(0, b"pong")
    assert await asyncio.wait_for(ocpp.read(), STEP) == b"pong"
    assert bytes(fake.sent[0]) == b"still here"
    assert "AT+QICLOSE=1" in fake.modem.commands and "AT+QICLOSE=0" not in fake.modem.commands


async def test_an_h11_download_over_socket_1(rig: tuple[QuectelModem, FakeQI]) -> None:
    modem, fake = rig
    ocpp = await modem.open_tcp("csms", 80, connect_id=0)
    body = bytes(range(256)) * 20  # 5120 bytes: four AT+QIRD, every byte value
    fake.greeting = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body

    async def open_stream(target: HttpTarget) -> ByteStream:
        return await modem.open_tcp(target.host, target.port, connect_id=1)

    client = HttpClient(open_stream, idle_timeout=STEP)
    assert await client.get("http://fw.example/fw.bin", len(body)) == body
    assert bytes(fake.sent[1]).startswith(b"GET /fw.bin HTTP/1.1\r\nHost: fw.example\r\n")
    assert "AT+QICLOSE=1" in fake.modem.commands  # freed once the body was complete
    assert ocpp.is_open

    fake.greeting = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:100]
    task = asyncio.create_task(client.get("http://fw.example/fw.bin", len(body)))
    async with asyncio.timeout(STEP):
        while fake.modem.commands.count("AT+QIRD=1,1500") < 6:  # 4 + 1 (+QIRD: 0), then ours
            await asyncio.sleep(0.01)
    fake.peer_close(1)  # the network cut it
    with pytest.raises(TransferError, match=f"cut after 100 of {len(body)} bytes"):
        await asyncio.wait_for(task, STEP)
    assert ocpp.is_open
