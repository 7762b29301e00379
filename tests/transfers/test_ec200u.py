"""EC200U transfers through the real emulator: HTTP on a second QI socket, OCPP stays up.

The emulated module opens real TCP connections on loopback: socket 0 carries a
WebSocket to an echo server (the OCPP link), socket 1 the HTTP transfer to the
standard library's HTTP server.  The serial bytes are tapped to check what the
driver really sent.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

from chargepoint.transport.base import Connection
from chargepoint.transport.ec200u import Ec200uLink, ModemSettings
from chargepoint.transport.handshake import Endpoint
from chargepoint.transport.transfer import TransferError, UnsupportedScheme
from modem.emulator import run_emulator
from modem.emulator.config import Timing
from modem.emulator.control import handle_command
from modem.quectel import QuectelModem

from .conftest import FileServer

IMAGE = bytes(range(256)) * 256  # 64 kB: 44 x AT+QIRD of 1500


async def echo(ws: ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


@pytest.fixture
async def rig() -> AsyncIterator[tuple[Any, Ec200uLink, Connection, bytearray]]:
    async with (
        run_emulator("ec200u", baud=0, timing=Timing().scaled(0.05)) as emu,
        serve(echo, "127.0.0.1", 0, subprotocols=[Subprotocol("ocpp1.6")]) as server,
    ):
        port = server.sockets[0].getsockname()[1] if server.sockets else 0
        serial_in = bytearray()  # every byte the driver wrote to the module
        emu.engine.tap_input(serial_in.extend)
        link = Ec200uLink(
            Endpoint(f"ws://127.0.0.1:{port}/ocpp", "CP1"),
            ModemSettings(emu.port_url, apn="internet"),
        )
        conn = await link.connect()
        try:
            yield emu, link, conn, serial_in
        finally:
            await conn.close()
            await link.aclose()


async def ocpp_round_trips(conn: Connection, n: int) -> None:
    for i in range(n):
        await conn.send(f'[2,"{i}","Heartbeat",{{}}]')
        assert await conn.recv() == f'[2,"{i}","Heartbeat",{{}}]'


async def test_download_and_upload_on_a_second_socket_while_ocpp_runs(
    rig: tuple[Any, Ec200uLink, Connection, bytearray],
    file_server: FileServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    emu, link, conn, serial_in = rig
    caplog.set_level(logging.INFO, logger="chargepoint.transport.transfers_ec200u")
    file_server.files["/fw/v2.bin"] = IMAGE
    transfer = link.file_transfer()
    emu.faults.transfer_slow(len(IMAGE) * 4)  # a slow server: a quarter of a second
    got, _ = await asyncio.gather(
        transfer.download(f"{file_server.url}/fw/v2.bin", len(IMAGE)),
        ocpp_round_trips(conn, 5),  # the WebSocket keeps talking meanwhile
    )
    assert got == IMAGE
    await transfer.upload(f"{file_server.url}/diag/", "CP1.zip", IMAGE[:5000])
    assert file_server.uploads == {"/diag/CP1.zip": IMAGE[:5000]}
    await ocpp_round_trips(conn, 1)

    wire = bytes(serial_in)
    # both sockets were served at once: socket 0 was read while socket 1 was open
    first_transfer = wire[wire.index(b"AT+QIOPEN=1,1,") : wire.index(b"AT+QICLOSE=1\r")]
    assert b"AT+QIRD=0," in first_transfer and b"AT+QIRD=1," in first_transfer
    assert wire.count(b'AT+QIOPEN=1,0,"TCP"') == 1  # the OCPP socket was never reopened
    assert wire.count(b'AT+QIOPEN=1,1,"TCP","127.0.0.1"') == 2  # one per transfer
    assert wire.count(b"AT+QICLOSE=1\r") == 2
    sends = [int(n) for n in re.findall(rb"AT\+QISEND=1,(\d+)\r", wire)]
    assert max(sends) <= 1460 and sum(sends) > 5000  # the PUT body went in pieces
    assert list(emu.dialect.state.sockets) == [0]  # socket 1 freed, socket 0 still up
    assert emu.dialect.http_violations == []  # the requests were valid HTTP/1.1
    assert [r.header_values("Host") for r in file_server.seen] == [
        [file_server.url.removeprefix("http://")]
    ] * 2
    # the log says which way the bytes went (an upload is not a "transfer from")
    said = [r.getMessage() for r in caplog.records if "on connectID 1" in r.getMessage()]
    assert said == [
        f"download from {file_server.url}/fw/v2.bin on connectID 1",
        f"upload to {file_server.url}/diag/CP1.zip on connectID 1",
    ]


async def test_a_download_cut_half_way(
    rig: tuple[Any, Ec200uLink, Connection, bytearray], file_server: FileServer
) -> None:
    emu, link, conn, _ = rig
    file_server.files["/fw/v2.bin"] = IMAGE
    emu.faults.transfer_cut()  # half-way through the announced length
    with pytest.raises(TransferError, match=f"cut after {len(IMAGE) // 2} of {len(IMAGE)} bytes"):
        await link.file_transfer().download(f"{file_server.url}/fw/v2.bin", len(IMAGE))
    await ocpp_round_trips(conn, 1)  # the OCPP link did not notice
    assert list(emu.dialect.state.sockets) == [0]
    # the next try gets the whole file
    assert await link.file_transfer().download(f"{file_server.url}/fw/v2.bin", len(IMAGE)) == IMAGE


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://fw.example/v2.bin", r"AT\+QFTP\* commands, whose details"),
        ("ftps://fw.example/v2.bin", r"ftps:// through the EC200U"),
    ],
)
async def test_schemes_it_cannot_carry_say_why(url: str, reason: str) -> None:
    link = Ec200uLink(Endpoint("ws://127.0.0.1:9/ocpp", "CP1"), ModemSettings("/dev/null"))
    with pytest.raises(UnsupportedScheme, match=reason):
        await link.file_transfer().download(url, 100)
    with pytest.raises(UnsupportedScheme, match=reason):
        await link.file_transfer().upload(url, "d.zip", b"x")


async def test_an_upload_cut_half_way(
    rig: tuple[Any, Ec200uLink, Connection, bytearray], file_server: FileServer
) -> None:
    emu, link, conn, _ = rig
    assert handle_command(emu.faults, "transfer-cut 3000") == ["ok"]  # the control port
    assert emu.faults.status()["pending_cuts"] == [3000]
    with pytest.raises(TransferError, match="connection lost while sending"):
        await link.file_transfer().upload(f"{file_server.url}/diag", "d.zip", IMAGE[:20000])
    assert file_server.uploads == {}
    await ocpp_round_trips(conn, 1)
    assert list(emu.dialect.state.sockets) == [0]


async def test_the_emulator_checks_the_http_it_carries(file_server: FileServer) -> None:
    async with run_emulator("ec200u", baud=0, timing=Timing().scaled(0.05)) as emu:
        modem = await QuectelModem.open(emu.port_url)
        try:
            await modem.bring_up("internet")
            host, port = file_server.url.removeprefix("http://").split(":")
            sock = await modem.open_tcp(host, int(port), connect_id=3)
            await sock.write(b"GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
            await asyncio.wait_for(sock.read(), 5)  # the server's 404
            await sock.close()
            sock = await modem.open_tcp(host, int(port), connect_id=4)
            await sock.write(b"PUT /y HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nabcd")
            await asyncio.wait_for(sock.read(), 5)
            await sock.close()
        finally:
            await modem.aclose()
        assert emu.dialect.http_violations == [
            f"socket 3 to {host}:{port}: not valid HTTP/1.1: Found multiple Host: headers",
            f"socket 4 to {host}:{port}: 2 bytes after the request's body "
            "(Content-Length smaller than the body sent?)",
        ]
