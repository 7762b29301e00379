"""The ESP-AT emulator on the wire: exact bytes of reference B, behind it a real WebSocket."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from modem.emulator import Emulator
from modem.espat import quote

from .helpers import PASSWORD, SSID, RawHost, WsServer, esp, esp_emulator

PROMPT = b"\r\nOK\r\n\r\n>"
OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"


@pytest.fixture
async def server() -> AsyncIterator[WsServer]:
    async with WsServer().running() as srv:
        yield srv


async def online_host(emu: Emulator) -> RawHost:
    host = await RawHost.open(emu.port_url)
    await host.cmd("ATE0", b"ATE0\r\n" + OK)  # echo is on after power-up
    await host.cmd(
        f"AT+CWJAP={quote(SSID)},{quote(PASSWORD)}", b"WIFI CONNECTED\r\nWIFI GOT IP\r\n" + OK
    )
    return host


async def open_link(host: RawHost, server: WsServer, buffer: int = 1024) -> None:
    await host.cmd(f"AT+WSCFG=0,30,60,{buffer}", OK)
    await host.cmd(f'AT+WSOPEN=0,"{server.url()}","ocpp1.6",5000', b"+WS_CONNECTED:0\r\n" + OK)


async def test_basics_and_wifi_failures() -> None:
    async with esp_emulator() as emu:
        host = await RawHost.open(emu.port_url)
        await host.cmd("AT", b"AT\r\n" + OK)
        host.write("AT\n")  # ESP-AT wants CR LF: a bare LF ends the line but is refused
        await host.expect(b"AT\n" + ERROR)
        await host.cmd("ATE0", b"ATE0\r\n" + OK)
        await host.cmd("AT+CWMODE?", b"+CWMODE:1\r\n" + OK)
        await host.cmd("AT+CWJAP?", b"No AP\r\n" + OK)
        await host.cmd(f'AT+CWJAP={quote(SSID)},"wrong"', b"+CWJAP:2\r\n" + ERROR)
        await host.cmd(f'AT+CWJAP="elsewhere",{quote(PASSWORD)}', b"+CWJAP:3\r\n" + ERROR)
        await host.cmd(
            f"AT+CWJAP={quote(SSID)},{quote(PASSWORD)}", b"WIFI CONNECTED\r\nWIFI GOT IP\r\n" + OK
        )
        host.write("AT+CWJAP?\r\n")
        await host.expect(f"+CWJAP:{quote(SSID)},".encode())
        await host.close()


@pytest.mark.parametrize("failure", [1, 4])
async def test_join_failure_option(failure: int) -> None:
    """``wifi_failure``: +CWJAP:1 (after the join timeout) or +CWJAP:4, whatever the password."""
    async with esp_emulator(wifi_failure=failure) as emu:
        host = await RawHost.open(emu.port_url)
        await host.cmd("ATE0", b"ATE0\r\n" + OK)
        await host.cmd(
            f"AT+CWJAP={quote(SSID)},{quote(PASSWORD)}", b"+CWJAP:%d\r\n" % failure + ERROR
        )
        await host.cmd(f'AT+CWJAP="elsewhere",{quote(PASSWORD)}', b"+CWJAP:3\r\n" + ERROR)
        await host.cmd("AT+CWJAP?", b"No AP\r\n" + OK)
        assert emu.faults.status()["wifi_failure"] == failure
        await host.close()


async def test_a_session_byte_by_byte(server: WsServer) -> None:
    async with esp_emulator() as emu:
        host = await online_host(emu)
        await host.cmd("AT+WSCFG=0,30,60,1024", OK)
        header = b"Authorization: Basic Q1AxOnB3"
        await host.cmd(f"AT+WSHEAD={len(header)}", PROMPT)
        host.write(header)
        await host.expect(OK)
        await host.cmd("AT+WSHEAD?", b'+WSHEAD:0,"Authorization: Basic Q1AxOnB3"\r\n' + OK)
        await host.cmd(f'AT+WSOPEN=0,"{server.url()}","ocpp1.6",5000', b"+WS_CONNECTED:0\r\n" + OK)
        peer = await server.accepted()
        request = server.requests[-1]
        assert request.headers["Authorization"] == "Basic Q1AxOnB3"
        assert request.headers["User-Agent"] == "ESP32 Websocket Client"
        assert peer.subprotocol == "ocpp1.6"
        await host.cmd("AT+WSSEND=0,5", PROMPT)
        host.write(b"he\r\nl")  # raw bytes, CR LF included, counted not parsed
        await host.expect(b"\r\nSEND OK\r\n")
        assert await asyncio.wait_for(peer.recv(), 5) == "he\r\nl"
        message = bytes(range(32, 127)) * 26 + b"\r\nOK\r\n"  # 2476 bytes: three records
        await peer.send(message, text=True)
        for start in range(0, len(message), 1024):
            piece = message[start : start + 1024]
            await host.expect(b"+WS_DATA:0,%d," % len(piece) + piece + b"\r\n")
        await host.cmd("AT+WSOPEN?", f'+WSOPEN:0,2,"{server.url()}"\r\n'.encode() + OK)
        await host.close()


async def test_send_limits_and_no_fin_parameter(server: WsServer) -> None:
    async with esp_emulator() as emu:
        host = await online_host(emu)
        await host.cmd("AT+WSSEND=0,4", ERROR)  # no link
        await open_link(host, server)
        peer = await server.accepted()
        await host.cmd("AT+WSSEND=0,1015", ERROR)  # buffer_size - 10 = 1014
        await host.cmd("AT+WSSEND=0,4,1,1000,0", ERROR)  # <fin> is master-only
        await host.cmd("AT+WSSEND=0,1014", PROMPT)
        host.write(b"x" * 1014)
        await host.expect(b"\r\nSEND OK\r\n")
        assert len(await asyncio.wait_for(peer.recv(), 5)) == 1014
        await host.cmd("AT+WSOPEN=0," + quote("ws://x/" + "a" * 250), ERROR)  # > 256 bytes
        await host.close()


async def test_payload_after_the_prompt_is_payload_though_data_queued_behind_it(
    server: WsServer,
) -> None:
    """A +WS_DATA record queued right behind the prompt (the CSMS talked at that moment)
    must not turn the host's timely payload into "written before the prompt"."""
    async with esp_emulator(baud=9600) as emu:  # a slow line: the record takes ~0.2 s
        host = await online_host(emu)
        await open_link(host, server)
        await server.accepted()
        output = emu.engine.output
        send = output.send
        record = b"+WS_DATA:0,180," + b"[" + b"x" * 178 + b"]" + b"\r\n"

        def send_then_data(data: bytes) -> int:
            end = send(data)
            if data.endswith(PROMPT):
                send(record)
            return end

        output.send = send_then_data  # type: ignore[method-assign]
        host.write("AT+WSSEND=0,4\r\n")
        await host.expect(PROMPT)
        host.write(b"ping")  # at once, as a driver does
        await host.expect(record + b"\r\nSEND OK\r\n")
        await host.close()


async def test_busy_while_wsopen_blocks(server: WsServer) -> None:
    async with esp_emulator() as emu:
        host = await online_host(emu)
        server.hold = asyncio.Event()
        host.write(f'AT+WSOPEN=0,"{server.url()}","ocpp1.6",5000\r\n')
        await asyncio.wait_for(server.holding.wait(), 5)  # the handshake is under way
        host.write("AT\r\n")
        await host.expect(b"busy p...\r\n")
        server.hold.set()
        await host.expect(b"+WS_CONNECTED:0\r\n" + OK)
        await host.cmd("AT", OK)  # the busy AT was dropped, not queued
        await host.close()


async def test_pings_and_pongs_are_silent(server: WsServer) -> None:
    async with esp_emulator() as emu:
        host = await online_host(emu)
        await open_link(host, server)
        peer = await server.accepted()
        await asyncio.wait_for(await peer.ping(b"csms"), 5)  # answered by the module
        await host.cmd("AT+WSSEND=0,4,9", PROMPT)  # the host's own ping
        host.write(b"host")
        await host.expect(b"\r\nSEND OK\r\n")
        await host.cmd("AT", OK)  # nothing printed for either ping or pong
        await host.close()


async def test_server_close_is_ws_closed_and_frees_the_link(server: WsServer) -> None:
    async with esp_emulator() as emu:
        host = await online_host(emu)
        await open_link(host, server)
        peer = await server.accepted()
        await peer.close(4000, "bye")
        await host.expect(b"+WS_CLOSED:0\r\n")
        await host.cmd("AT+WSOPEN?", OK)
        await open_link(host, server)  # the id is free again
        await host.close()


async def test_host_close_frame_then_ws_closed(server: WsServer) -> None:
    async with esp_emulator() as emu:
        host = await online_host(emu)
        await open_link(host, server)
        peer = await server.accepted()
        await host.cmd("AT+WSSEND=0,2,8", PROMPT)
        host.write(b"\x03\xe8")
        await host.expect(b"\r\nSEND OK\r\n+WS_CLOSED:0\r\n")
        await host.cmd("AT+WSCLOSE=0", OK)
        await asyncio.wait_for(peer.wait_closed(), 5)
        assert peer.close_code == 1000
        await host.close()


async def test_drop_keeps_the_link_until_wsclose(server: WsServer) -> None:
    async with esp_emulator() as emu:
        host = await online_host(emu)
        await open_link(host, server)
        await server.accepted()
        emu.faults.drop_tcp(0)
        await host.expect(b"+WS_DISCONNECTED:0\r\n")
        await host.cmd("AT+WSOPEN?", f'+WSOPEN:0,3,"{server.url()}"\r\n'.encode() + OK)
        await host.cmd(f'AT+WSOPEN=0,"{server.url()}"', ERROR)  # still allocated
        await host.cmd("AT+WSCLOSE=0", OK)
        await open_link(host, server)
        await host.close()


async def test_auto_reconnect_option(server: WsServer) -> None:
    async with esp_emulator(ws_auto_reconnect=True) as emu:
        host = await online_host(emu)
        await open_link(host, server)
        await server.accepted()
        emu.faults.drop_tcp()
        await host.expect(b"+WS_DISCONNECTED:0\r\n+WS_CONNECTED:0\r\n")
        await server.accepted()
        await host.close()


async def test_wifi_drop_and_reset(server: WsServer) -> None:
    async with esp_emulator() as emu:
        host = await online_host(emu)
        await open_link(host, server)
        await server.accepted()
        emu.faults.wifi_drop()
        await host.expect(b"WIFI DISCONNECT\r\n+WS_DISCONNECTED:0\r\n")
        await host.expect(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n")  # the AP is back
        emu.faults.reboot()
        await host.expect(b"ready\r\nWIFI CONNECTED\r\nWIFI GOT IP\r\n")  # AP kept in flash
        await host.cmd("AT", b"AT\r\n" + OK)  # echo is on again
        assert esp(emu).state.links == {}
        await host.close()


async def test_firmware_without_websocket_commands() -> None:
    async with esp_emulator(ws_commands=False) as emu:
        host = await online_host(emu)
        await host.cmd("AT+WSCFG=0,30,60,8192", ERROR)
        await host.cmd("AT+WSOPEN?", ERROR)
        await host.close()


async def test_status_and_control_port(server: WsServer) -> None:
    async with esp_emulator(control="socket://127.0.0.1:0") as emu:
        host = await online_host(emu)
        await open_link(host, server, buffer=4096)
        status = emu.faults.status()
        assert status["wifi"]["ssid"] == SSID
        assert status["links"][0]["buffer_size"] == 4096
        assert status["links"][0]["ping"] == [30, 60]
        url = emu.control_url
        assert url is not None
        reader, writer = await asyncio.open_connection(*url.removeprefix("socket://").split(":"))
        writer.write(b"wifi-drop\n")
        assert await asyncio.wait_for(reader.readline(), 5) == b"ok\n"
        writer.close()
        await host.expect(b"WIFI DISCONNECT\r\n+WS_DISCONNECTED:0\r\n")
        await host.close()


async def test_station_address_dns_and_ping() -> None:
    """The IP-level commands a field test sends, in Espressif's formats, resolved for real."""
    async with esp_emulator() as emu:
        host = await RawHost.open(emu.port_url)
        await host.cmd("ATE0", b"ATE0\r\n" + OK)
        offline = b'+CIPSTA:ip:"0.0.0.0"\r\n+CIPSTA:gateway:"0.0.0.0"\r\n'
        await host.cmd("AT+CIPSTA?", offline + b'+CIPSTA:netmask:"0.0.0.0"\r\n' + OK)
        await host.cmd('AT+CIPDOMAIN="localhost"', ERROR)  # no Wi-Fi, no DNS
        await host.cmd(
            f"AT+CWJAP={quote(SSID)},{quote(PASSWORD)}", b"WIFI CONNECTED\r\nWIFI GOT IP\r\n" + OK
        )
        await host.cmd(
            "AT+CIPSTA?",
            b'+CIPSTA:ip:"192.168.4.23"\r\n+CIPSTA:gateway:"192.168.4.1"\r\n'
            b'+CIPSTA:netmask:"255.255.255.0"\r\n' + OK,
        )
        await host.cmd('AT+CIPDOMAIN="localhost",2', b'+CIPDOMAIN:"127.0.0.1"\r\n' + OK)
        await host.cmd('AT+CIPDOMAIN="10.1.2.3"', b'+CIPDOMAIN:"10.1.2.3"\r\n' + OK)
        await host.cmd('AT+CIPDOMAIN="csms.example.invalid"', ERROR)  # RFC 6761: never resolves
        host.write('AT+PING="localhost"\r\n')
        reply = await asyncio.wait_for(host.reader.readuntil(OK), 5)
        assert re.fullmatch(rb"\+PING:\d+\r\n" + re.escape(OK), reply), reply
        await host.cmd('AT+PING="csms.example.invalid"', b"+PING:TIMEOUT\r\n" + ERROR)
        await host.close()


async def test_each_frame_of_a_fragmented_message_is_cut_on_its_own(server: WsServer) -> None:
    """A piece never spans two frames: fragments of 100, 2000 and 50 bytes at buffer 1024."""
    async with esp_emulator() as emu:
        host = await online_host(emu)
        await open_link(host, server)
        peer = await server.accepted()
        await peer.send(["a" * 100, "b" * 2000, "c" * 50])  # one message, three frames
        for piece in (b"a" * 100, b"b" * 1024, b"b" * 976, b"c" * 50):
            await host.expect(b"+WS_DATA:0,%d," % len(piece) + piece + b"\r\n")
        await host.close()


async def test_short_pieces_option(server: WsServer) -> None:
    """``ws_piece_seed``: pieces of random length, same bytes, reproducible."""

    async def records(seed: int) -> list[int]:
        async with esp_emulator(ws_piece_seed=seed) as emu:
            host = await online_host(emu)
            await open_link(host, server)
            peer = await server.accepted()
            message = bytes(range(48, 48 + 64)) * 50  # 3200 bytes
            await peer.send(message, text=True)
            sizes, got = [], b""
            while len(got) < len(message):
                header = await asyncio.wait_for(host.reader.readuntil(b","), 5)
                assert header.startswith(b"+WS_DATA:0,")
                size = int((await asyncio.wait_for(host.reader.readuntil(b","), 5))[:-1])
                got += await host.reader.readexactly(size)
                await host.expect(b"\r\n")
                sizes.append(size)
            assert got == message
            await host.close()
            return sizes

    sizes = await records(7)
    assert len(sizes) > 4 and max(sizes) <= 1024  # full pieces would be 1024, 1024, 1024, 128
    assert await records(7) == sizes
