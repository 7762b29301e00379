"""Transfers through the ESP-AT link: the real driver, the real emulator (a real HTTP
client inside), a real local HTTP server, while the OCPP WebSocket stays connected."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from espat.helpers import (
    PASSWORD,
    SSID,
    STEP,
    WsServer,
    esp,
    esp_emulator,
    esp_modem,
    eventually,
)

from chargepoint.transport.espat import EspAtConnection, EspAtLink, EspAtSettings
from chargepoint.transport.handshake import Endpoint
from chargepoint.transport.transfer import TransferError, TransferTooLarge, UnsupportedScheme
from modem.emulator import Emulator
from modem.espat.errors import HttpTransferError

from .conftest import LocalHttpFiles

# Binary, with what a line reader would trip over: CR LF, OK, ERROR, record headers.
IMAGE = random.Random(12).randbytes(48 * 1024) + b"\r\nOK\r\n+HTTPCGET:5,\r\nERROR\r\n"


@pytest.fixture
async def ws_server() -> AsyncIterator[WsServer]:
    async with WsServer().running() as srv:
        yield srv


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with esp_emulator(baud=921600) as emu:
        yield emu


@pytest.fixture
async def link(emulator: Emulator, ws_server: WsServer, tmp_path: Path) -> AsyncIterator[EspAtLink]:
    settings = EspAtSettings(
        emulator.port_url, SSID, PASSWORD, baud=921600, at_log=tmp_path / "at.log"
    )
    link = EspAtLink(Endpoint(ws_server.url("/ocpp"), "CP1"), settings)
    try:
        yield link
    finally:
        await link.aclose()


def typed(emulator: Emulator) -> bytearray:
    """Every byte the host writes to the module from now on."""
    seen = bytearray()
    emulator.engine.tap_input(seen.extend)
    return seen


async def test_download_while_the_websocket_stays_connected(
    link: EspAtLink, ws_server: WsServer, emulator: Emulator, http_server: LocalHttpFiles
) -> None:
    http_server.files["/fw/cp-2.0.bin"] = IMAGE
    conn = await asyncio.wait_for(link.connect(), STEP)
    assert isinstance(conn, EspAtConnection)
    csms = await ws_server.accepted()
    emulator.faults.transfer_slow(len(IMAGE))  # a second: time for WebSocket traffic
    download = asyncio.create_task(
        link.file_transfer().download(http_server.url("/fw/cp-2.0.bin"), 1 << 20)
    )
    await eventually(lambda: len(http_server.requests) == 2, "GETSIZE, then the download")
    await csms.send('[2,"7","Heartbeat",{}]')  # +WS_DATA between the HTTP records
    assert await asyncio.wait_for(conn.recv(), STEP) == '[2,"7","Heartbeat",{}]'
    assert not download.done()
    sent = asyncio.create_task(conn.send('[3,"7",{}]'))  # waits: the module is busy
    assert await asyncio.wait_for(csms.recv(), STEP) == '[3,"7",{}]'
    assert download.done(), "the WebSocket send went out before the transfer ended"
    assert await download == IMAGE
    await sent
    assert http_server.requests == [("GET", "/fw/cp-2.0.bin")] * 2


async def test_cut_download_fails_naming_what_came(
    link: EspAtLink, emulator: Emulator, http_server: LocalHttpFiles
) -> None:
    http_server.files["/fw.bin"] = IMAGE
    emulator.faults.transfer_cut(1000)
    with pytest.raises(TransferError, match=rf"cut: 1000 of the {len(IMAGE)} bytes") as info:
        await asyncio.wait_for(
            link.file_transfer().download(http_server.url("/fw.bin"), 1 << 20), STEP
        )
    assert not isinstance(info.value, TransferTooLarge)
    # the module is usable at once: the next download is whole
    assert await link.file_transfer().download(http_server.url("/fw.bin"), 1 << 20) == IMAGE


async def test_too_large_is_refused_before_any_body_byte(
    link: EspAtLink, emulator: Emulator, http_server: LocalHttpFiles
) -> None:
    http_server.files["/big.bin"] = IMAGE
    wire = typed(emulator)
    with pytest.raises(
        TransferTooLarge, match=rf"{len(IMAGE)} bytes announced.*nothing downloaded"
    ):
        await link.file_transfer().download(http_server.url("/big.bin"), len(IMAGE) - 1)
    assert b"AT+HTTPGETSIZE=" in wire and b"AT+HTTPCGET=" not in wire


async def test_long_url_goes_through_urlcfg_and_is_cleared_after(
    link: EspAtLink, emulator: Emulator, http_server: LocalHttpFiles
) -> None:
    path = "/signed/fw.bin?sig=" + "a1,b2" * 60  # a signed URL: over 256 bytes, commas
    http_server.files[path] = b"firmware"
    wire = typed(emulator)
    url = http_server.url(path)
    assert await link.file_transfer().download(url, 1024) == b"firmware"
    assert b"AT+HTTPURLCFG=%d\r\n" % len(url) in wire and wire.endswith(b"AT+HTTPURLCFG=0\r\n")
    assert esp(emulator).state.http_url is None
    # a short one goes inline, its comma and quote escaped (reference B.1)
    http_server.files['/a,b"c.bin'] = b"short"
    assert await link.file_transfer().download(http_server.url('/a,b"c.bin'), 1024) == b"short"
    assert b'AT+HTTPCGET="http://127.0.0.1:%d/a\\,b\\"c.bin",' % http_server.port in wire


async def test_upload_puts_then_falls_back_to_post_on_old_firmware(
    link: EspAtLink,
    emulator: Emulator,
    http_server: LocalHttpFiles,
    caplog: pytest.LogCaptureFixture,
) -> None:
    archive = random.Random(3).randbytes(20_000)
    transfer = link.file_transfer()
    await transfer.upload(http_server.url("/diag/"), "CP1 diag.zip", archive)
    assert http_server.uploads["/diag/CP1%20diag.zip"] == (
        "PUT",
        archive,
        "application/octet-stream",
    )
    esp(emulator).http_put = False  # firmware before v3.0: no AT+HTTPCPUT
    with caplog.at_level(logging.WARNING):
        await transfer.upload(http_server.url("/diag"), "again.zip", b"x" * 10)
    assert http_server.uploads["/diag/again.zip"][:2] == ("POST", b"x" * 10)
    assert "no AT+HTTPCPUT" in caplog.text and "AT+HTTPCPOST" in caplog.text


async def test_refusals_say_why(
    link: EspAtLink, http_server: LocalHttpFiles, tmp_path: Path
) -> None:
    transfer = link.file_transfer()
    with pytest.raises(UnsupportedScheme, match="no FTP commands"):
        await transfer.download("ftp://user:pw@files.example/fw.bin", 1024)
    with pytest.raises(
        TransferError, match=r"ERROR after a 18-byte answer.*HTTP status >= 400"
    ) as info:
        await transfer.upload(http_server.url("/forbidden/"), "d.zip", b"data")
    assert "ESP-AT shows no code" in str(info.value)
    with pytest.raises(TransferError, match="SEND FAIL: the server could not be reached"):
        await transfer.upload("http://127.0.0.1:1/diag", "d.zip", b"data")
    with pytest.raises(TransferError, match="no Content-Length"):
        await transfer.download(http_server.url("/chunked"), 1024)
    with pytest.raises(TransferError, match="status >= 400") as missing:
        await transfer.download(f"http://user:s3cret@127.0.0.1:{http_server.port}/nope", 1024)
    assert "s3cret" not in str(missing.value)
    assert "s3cret" not in (tmp_path / "at.log").read_text()  # the AT trace masks it too


async def test_a_server_that_stalls_past_the_module_timeout_is_a_cut(
    http_server: LocalHttpFiles, tmp_path: Path
) -> None:
    """The module gives up on a silent read after its <timeout> and still says OK: only
    the size check tells the body was cut."""
    async with esp_modem(tmp_path) as (modem, _emu):
        modem.http.network_timeout = 0.3  # <timeout> 300 ms: the server stalls longer
        with pytest.raises(HttpTransferError, match="cut: 1000 of the 2000 bytes"):
            await asyncio.wait_for(modem.http.download(http_server.url("/stall"), 4096), STEP)
        assert 'AT+HTTPCGET="' in (tmp_path / "at.log").read_text()
