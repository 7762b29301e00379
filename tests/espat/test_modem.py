"""EspAtModem and EspAtWebSocket over a pty to the ESP-AT emulator, a real WebSocket behind it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from modem.at import ATCommandError, ATRestarted, Error
from modem.espat import (
    CommandTooLong,
    EspAtModem,
    MessageTooLarge,
    NoWebSocketSupport,
    WebSocketOpenError,
    WifiError,
)
from modem.stream import StreamClosed

from .helpers import (
    PASSWORD,
    SSID,
    STEP,
    RawHost,
    WsServer,
    esp,
    esp_emulator,
    esp_modem,
    eventually,
)

AUTH = [("Authorization", "Basic Q1AxOnB3")]


@pytest.fixture
async def server() -> AsyncIterator[WsServer]:
    async with WsServer().running() as srv:
        yield srv


def data_transfer(size: int, text: str = 'é€ ] \\" [') -> str:
    """A CALL of about ``size`` bytes whose payload has brackets, escapes and multi-byte text."""
    filler = (text * (size // len(text.encode()) + 1))[: size // 2]
    message = json.dumps(
        [2, "42", "DataTransfer", {"vendorId": "v", "data": filler}], ensure_ascii=False
    )
    return message


async def test_bring_up_open_and_exchange(tmp_path: Path, server: WsServer) -> None:
    async with esp_modem(tmp_path) as (modem, emu):
        ws = await modem.open_websocket(
            server.url(), headers=AUTH, ping_interval=30, ping_timeout=60
        )
        peer = await server.accepted()
        await ws.send('[2,"1","Heartbeat",{}]')
        assert await asyncio.wait_for(peer.recv(), STEP) == '[2,"1","Heartbeat",{}]'
        await peer.send('[3,"1",{"currentTime":"2026-01-01T00:00:00Z"}]')
        assert await asyncio.wait_for(ws.recv(), STEP) == (
            '[3,"1",{"currentTime":"2026-01-01T00:00:00Z"}]'
        )
        assert server.requests[-1].headers["Authorization"] == "Basic Q1AxOnB3"
        assert peer.subprotocol == "ocpp1.6"
        assert esp(emu).state.links[0].config.ping_interval == 30
        await ws.close()
    log = (tmp_path / "at.log").read_text()
    commands = re.findall(r">> (AT\S*)", log)
    # AT: the probe; the first bring-up of a run always joins (it checks the password)
    assert commands[:4] == ["AT", "ATE0", "AT+CWMODE=1", 'AT+CWJAP="cpsim-lab","***"']
    assert "s3cret" not in log
    assert "AT+WSCFG=0,30,60,8192" in commands
    assert "Authorization: ***" in log and "Q1AxOnB3" not in log
    assert f'AT+WSOPEN=0,"{server.url()}","ocpp1.6",20000' in log


@pytest.mark.parametrize("buffer_size,size", [(1024, 5000), (1024, 3000), (8192, 20000)])
async def test_messages_longer_than_a_chunk_and_the_buffer(
    tmp_path: Path, server: WsServer, buffer_size: int, size: int
) -> None:
    async with esp_modem(tmp_path) as (modem, _):
        ws = await modem.open_websocket(server.url(), buffer_size=buffer_size)
        peer = await server.accepted()
        big = data_transfer(size)
        await peer.send(big)
        await peer.send('[2,"43","Heartbeat",{}]')  # right behind it: boundaries must hold
        assert await asyncio.wait_for(ws.recv(), STEP) == big
        assert await asyncio.wait_for(ws.recv(), STEP) == '[2,"43","Heartbeat",{}]'
        await ws.close()
    records = re.findall(r"<< \+WS_DATA:0,(\d+),", (tmp_path / "at.log").read_text())
    assert len(records) >= len(big.encode()) // buffer_size + 1
    assert max(int(n) for n in records) == buffer_size


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_short_and_fragmented_pieces_are_reassembled(
    tmp_path: Path, server: WsServer, seed: int
) -> None:
    """Pieces shorter than the buffer (a slow link), and a message sent as several frames."""
    async with esp_modem(tmp_path, ws_piece_seed=seed) as (modem, _):
        ws = await modem.open_websocket(server.url(), buffer_size=1024)
        peer = await server.accepted()
        big = data_transfer(5000)
        sent = [big, '[2,"43","Heartbeat",{}]', *(json.dumps([3, str(i), {}]) for i in range(20))]
        for message in sent:
            await peer.send(message)
        cut = len(big) // 3
        await peer.send([big[:cut], big[cut : 2 * cut], big[2 * cut :]])  # three frames
        for message in [*sent, big]:
            assert await asyncio.wait_for(ws.recv(), STEP) == message
        await ws.close()
    records = re.findall(r"<< \+WS_DATA:0,(\d+),", (tmp_path / "at.log").read_text())
    frames = [*sent, big[:cut], big[cut : 2 * cut], big[2 * cut :]]
    full_pieces = sum(-(-len(frame.encode()) // 1024) for frame in frames)
    assert len(records) > full_pieces  # short pieces did occur


async def test_long_text_that_is_not_json_does_not_swallow_what_follows(
    tmp_path: Path, server: WsServer
) -> None:
    async with esp_modem(tmp_path) as (modem, _):
        ws = await modem.open_websocket(server.url(), buffer_size=1024)
        peer = await server.accepted()
        text = "x" * 1024 + "[ a second record that opens a bracket and never closes it"
        await peer.send(text)
        await peer.send('[2,"44","Heartbeat",{}]')
        assert await asyncio.wait_for(ws.recv(), STEP) == text  # whole, as the CSMS sent it
        assert await asyncio.wait_for(ws.recv(), STEP) == '[2,"44","Heartbeat",{}]'
        await ws.close()


async def test_many_messages_back_to_back(tmp_path: Path, server: WsServer) -> None:
    async with esp_modem(tmp_path, baud=115200) as (modem, _):
        ws = await modem.open_websocket(server.url(), buffer_size=1024)
        peer = await server.accepted()
        sent = [json.dumps([2, str(i), "Heartbeat", {}]) for i in range(100)]
        for message in sent:
            await peer.send(message)
        assert [await asyncio.wait_for(ws.recv(), STEP) for _ in sent] == sent
        await ws.close()


async def test_over_limit_message_is_refused_before_sending(
    tmp_path: Path, server: WsServer
) -> None:
    async with esp_modem(tmp_path) as (modem, _):
        ws = await modem.open_websocket(server.url(), buffer_size=1024)
        peer = await server.accepted()
        exact = "[" + "1," * 505 + "12]"  # 1014 bytes: buffer_size - 10
        assert len(exact) == ws.max_send == 1014
        await ws.send(exact)
        assert await asyncio.wait_for(peer.recv(), STEP) == exact
        with pytest.raises(MessageTooLarge, match=r"1015-byte message.*at most 1014.*not sent"):
            await ws.send("[" + "1," * 505 + "123]")
        await ws.send('[2,"2","Heartbeat",{}]')  # the link is still fine
        assert await asyncio.wait_for(peer.recv(), STEP) == '[2,"2","Heartbeat",{}]'
        await ws.close()
    assert "AT+WSSEND=0,1015" not in (tmp_path / "at.log").read_text()


async def test_server_close_ends_the_stream(tmp_path: Path, server: WsServer) -> None:
    async with esp_modem(tmp_path) as (modem, emu):
        ws = await modem.open_websocket(server.url())
        peer = await server.accepted()
        await peer.close(4001, "go away")
        with pytest.raises(StreamClosed, match=r"\+WS_CLOSED:0: the CSMS closed"):
            await asyncio.wait_for(ws.recv(), STEP)
        with pytest.raises(StreamClosed):
            await ws.send("[]")
        again = await modem.open_websocket(server.url())  # the module freed the link
        await server.accepted()
        await again.close()
    log = (tmp_path / "at.log").read_text()
    after_close = log[log.index("+WS_CLOSED:0") : log.rindex(">> AT+WSCFG")]
    assert "AT+WSCLOSE" not in after_close and "AT+WSOPEN?" not in after_close  # freed


async def test_dropped_link_is_released(tmp_path: Path, server: WsServer) -> None:
    async with esp_modem(tmp_path) as (modem, emu):
        ws = await modem.open_websocket(server.url())
        await server.accepted()
        emu.faults.drop_tcp(0)
        with pytest.raises(StreamClosed, match=r"\+WS_DISCONNECTED:0"):
            await asyncio.wait_for(ws.recv(), STEP)
        await eventually(lambda: not esp(emu).state.links, "AT+WSCLOSE freed the kept link")
        again = await modem.open_websocket(server.url())
        await server.accepted()
        await again.close()


async def test_clean_close_sends_1000_then_wsclose(tmp_path: Path, server: WsServer) -> None:
    async with esp_modem(tmp_path) as (modem, emu):
        ws = await modem.open_websocket(server.url())
        peer = await server.accepted()
        await ws.close(1000, "bye")
        await asyncio.wait_for(peer.wait_closed(), STEP)
        assert (peer.close_code, peer.close_reason) == (1000, "bye")
        await ws.close()  # twice is fine
        with pytest.raises(StreamClosed, match="closed by this host"):
            await ws.recv()
        assert not esp(emu).state.links
    log = (tmp_path / "at.log").read_text()
    close_frame = log.index(">> AT+WSSEND=0,5,8")
    assert log.index("+WS_CLOSED:0", close_frame) < log.index(">> AT+WSCLOSE=0", close_frame)


async def test_invalid_utf8_fails_the_link_with_1007(tmp_path: Path, server: WsServer) -> None:
    async with esp_modem(tmp_path) as (modem, _):
        ws = await modem.open_websocket(server.url())
        peer = await server.accepted()
        await peer.send(b'[2,"1","DataTransfer",{"data":"\xff"}]', text=True)
        with pytest.raises(StreamClosed, match="invalid UTF-8"):
            await asyncio.wait_for(ws.recv(), STEP)
        await asyncio.wait_for(peer.wait_closed(), STEP)
        assert peer.close_code == 1007


async def test_server_pings_are_answered_by_the_module(tmp_path: Path, server: WsServer) -> None:
    async with esp_modem(tmp_path) as (modem, _):
        ws = await modem.open_websocket(server.url())
        peer = await server.accepted()
        await asyncio.wait_for(await peer.ping(b"x"), STEP)
        await peer.send("[]")
        assert await asyncio.wait_for(ws.recv(), STEP) == "[]"
        assert modem.driver.garbage_bytes == 0
        await ws.close()


async def test_module_reset_during_wsopen_fails_it_at_once(
    tmp_path: Path, server: WsServer
) -> None:
    async with esp_modem(tmp_path) as (modem, emu):
        server.hold = asyncio.Event()  # the CSMS takes its time: AT+WSOPEN blocks
        opening = asyncio.create_task(modem.open_websocket(server.url(), timeout=20))
        await asyncio.wait_for(server.holding.wait(), STEP)
        emu.faults.reboot()
        async with asyncio.timeout(5):  # not the 20 s WSOPEN budget
            with pytest.raises((ATRestarted, WebSocketOpenError), match="restarted"):
                await opening
        server.hold.set()
        assert modem.needs_init


async def test_module_reset_ends_links_and_reinitialises(tmp_path: Path, server: WsServer) -> None:
    async with esp_modem(tmp_path) as (modem, emu):
        ws = await modem.open_websocket(server.url())
        await server.accepted()
        emu.faults.reboot()
        with pytest.raises(StreamClosed, match=r"restarted \(ready\)"):
            await asyncio.wait_for(ws.recv(), STEP)
        assert modem.needs_init
        await modem.bring_up(SSID, PASSWORD)
        again = await modem.open_websocket(server.url())
        await server.accepted()
        await again.close()
    assert (tmp_path / "at.log").read_text().count(">> ATE0") == 2


async def test_wifi_loss_and_return_are_tracked(tmp_path: Path, server: WsServer) -> None:
    async with esp_modem(tmp_path) as (modem, emu):
        ws = await modem.open_websocket(server.url())
        await server.accepted()
        emu.faults.wifi_drop()
        with pytest.raises(StreamClosed, match="WS_DISCONNECTED"):
            await asyncio.wait_for(ws.recv(), STEP)
        await eventually(lambda: modem.wifi_up, "WIFI GOT IP after the AP came back")


async def test_a_link_left_open_by_a_previous_run_is_closed_first(
    tmp_path: Path, server: WsServer
) -> None:
    async with esp_emulator() as emu:
        first = await EspAtModem.open(emu.port_url)
        await first.bring_up(SSID, PASSWORD)
        await first.open_websocket(server.url())
        await first.driver.aclose()  # the host dies; the module keeps the link
        # and loses its TCP while no driver listens: held in state 3.  A bare reader opens
        # first (pyserial flushes input on open) to see the URC that no driver will.
        nobody = await RawHost.open(emu.port_url)
        emu.faults.drop_tcp(0)
        await nobody.expect(b"+WS_DISCONNECTED:0\r\n")
        await nobody.close()
        assert 0 in esp(emu).state.links
        second = await EspAtModem.open(emu.port_url, at_log=tmp_path / "at.log")
        await second.bring_up(SSID, PASSWORD)
        ws = await second.open_websocket(server.url())
        await ws.close()
        await second.aclose()
    log = (tmp_path / "at.log").read_text()
    assert log.count(">> AT+CWJAP=") == 1  # a new run joins with its own credentials
    assert log.index(">> AT+WSOPEN?") < log.index(">> AT+WSCLOSE=0") < log.index(">> AT+WSCFG")


async def test_a_wrong_password_is_noticed_on_the_ap_the_module_is_on(
    tmp_path: Path, server: WsServer
) -> None:
    """The module still holds the AP from an earlier run; new credentials are still checked."""
    async with esp_emulator() as emu:
        earlier = await EspAtModem.open(emu.port_url)
        await earlier.bring_up(SSID, PASSWORD)
        await earlier.aclose()
        assert esp(emu).state.ssid == SSID
        modem = await EspAtModem.open(emu.port_url, at_log=tmp_path / "at.log")
        try:
            with pytest.raises(WifiError, match=r'Wi-Fi "cpsim-lab": wrong password') as info:
                await modem.bring_up(SSID, "wrong")
            assert info.value.code == 2
            await modem.bring_up(SSID, PASSWORD)
            emu.faults.reboot()  # a later bring-up of the same run: the association is kept
            await eventually(lambda: modem.needs_init, "ready seen")
            await eventually(lambda: modem.wifi_up, "the module re-joined its AP by itself")
            await modem.bring_up(SSID, PASSWORD)
            ws = await modem.open_websocket(server.url())
            await server.accepted()
            await ws.close()
        finally:
            await modem.aclose()
    log = (tmp_path / "at.log").read_text()
    assert log.count(">> AT+CWJAP=") == 2  # the wrong password, then the right one; not after
    assert log.count(">> ATE0") == 2


async def test_wrong_password_and_missing_ap_are_named(tmp_path: Path) -> None:
    async with esp_emulator() as emu:
        modem = await EspAtModem.open(emu.port_url)
        try:
            with pytest.raises(WifiError, match=r'Wi-Fi "cpsim-lab": wrong password') as info:
                await modem.bring_up(SSID, "nope")
            assert info.value.code == 2
            with pytest.raises(WifiError, match=r'Wi-Fi "lab-5g": access point not found'):
                await modem.bring_up("lab-5g", PASSWORD)
            assert not modem.wifi_up
        finally:
            await modem.aclose()


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (1, "connection timeout: the access point did not answer in time"),
        (4, "connection failed: the access point refused this station"),
    ],
)
async def test_an_ap_that_times_out_or_refuses_is_named(failure: int, reason: str) -> None:
    async with esp_emulator(wifi_failure=failure) as emu:
        modem = await EspAtModem.open(emu.port_url)
        try:
            with pytest.raises(WifiError, match=f'Wi-Fi "cpsim-lab": {reason}') as info:
                await asyncio.wait_for(modem.bring_up(SSID, PASSWORD), STEP)
            assert info.value.code == failure
            assert f"(+CWJAP:{failure})" in str(info.value)
            assert not modem.wifi_up
        finally:
            await modem.aclose()


async def test_firmware_without_websocket_support(tmp_path: Path, server: WsServer) -> None:
    async with esp_modem(tmp_path, ws_commands=False) as (modem, _):
        with pytest.raises(NoWebSocketSupport) as info:
            await modem.open_websocket(server.url())
    assert str(info.value) == (
        "AT+WSCFG -> ERROR: this ESP-AT firmware was built without WebSocket support; "
        "rebuild ESP-AT with menuconfig: Component config > AT > AT WebSocket command "
        "support enabled, and flash it"
    )


async def test_wsopen_refused_at_once_or_timed_out_says_which(
    tmp_path: Path, server: WsServer
) -> None:
    async with esp_modem(tmp_path) as (modem, _):
        with pytest.raises(WebSocketOpenError) as refused:
            await modem.open_websocket("ws://127.0.0.1:9/ocpp/CP1", timeout=5)
        assert re.search(
            r"AT\+WSOPEN -> ERROR after \d+\.\d s, refused before its 5 s timeout\. .*"
            "nothing listens at that host and port",
            str(refused.value),
        ), refused.value
        server.hold = asyncio.Event()  # the CSMS accepts TCP but never answers the upgrade
        with pytest.raises(WebSocketOpenError) as timed_out:
            await modem.open_websocket(server.url(), timeout=1)
        server.hold.set()
        assert "AT+WSOPEN -> ERROR: timed out after 1 s (its 1 s <timeout_ms>)" in str(
            timed_out.value
        )
        assert "not reachable from this Wi-Fi" in str(timed_out.value)


async def test_too_long_url_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    async with esp_modem(tmp_path) as (modem, _):
        before = (tmp_path / "at.log").read_text()
        with pytest.raises(CommandTooLong, match="256 bytes"):
            await modem.open_websocket("ws://csms.example.com/ocpp/" + "C" * 230)
        with pytest.raises(CommandTooLong) as header:
            await modem.open_websocket("ws://csms/ocpp/CP1", headers=[("X-Token", "t" * 300)])
        assert str(header.value) == (
            'the WebSocket header X-Token ("X-Token: <value>") is 309 bytes; ESP-AT accepts '
            "at most 256 bytes per AT+WSHEAD header: shorten the X-Token value"
        )
        assert (tmp_path / "at.log").read_text() == before


class _BusyDriver:
    """Answers ``busy p...`` to the first ``busy`` commands, then OK."""

    def __init__(self, busy: int) -> None:
        self.busy = busy
        self.sent: list[str] = []

    def add_urc_handler(self, handler: object) -> None: ...

    def add_lost_handler(self, handler: object) -> None: ...

    def start(self) -> None: ...

    async def command(self, command: str, timeout: float | None = None) -> object:
        self.sent.append(command)
        if self.busy:
            self.busy -= 1
            raise ATCommandError(command, Error("busy p..."))
        return object()


async def test_busy_is_retried_then_reported() -> None:
    driver = _BusyDriver(busy=2)
    modem = EspAtModem(driver, busy_backoff=(0, 0))  # type: ignore[arg-type]
    await modem.command("AT")
    assert driver.sent == ["AT", "AT", "AT"]
    driver.busy = 5
    with pytest.raises(ATCommandError, match="busy"):
        await modem.command("AT")


async def test_closing_mid_traffic_ends_promptly(tmp_path: Path, server: WsServer) -> None:
    """A close while the CSMS streams and the host sends: close frame, +WS_CLOSED, AT+WSCLOSE."""
    async with esp_modem(tmp_path, baud=115200) as (modem, emu):
        ws = await modem.open_websocket(server.url(), buffer_size=1024)
        peer = await server.accepted()

        async def flood() -> None:
            with contextlib.suppress(ConnectionClosed):
                for i in range(10_000):
                    await peer.send(data_transfer(3000))
                    await peer.send(json.dumps([2, str(i), "Heartbeat", {}]))

        async def chatter() -> None:
            with contextlib.suppress(StreamClosed):
                while True:
                    await ws.send('[2,"h","Heartbeat",{}]')

        tasks = [asyncio.create_task(flood()), asyncio.create_task(chatter())]
        assert "DataTransfer" in await asyncio.wait_for(ws.recv(), STEP)  # traffic flows
        await asyncio.wait_for(ws.close(), STEP)
        await asyncio.wait_for(asyncio.gather(*tasks), STEP)
        assert peer.close_code == 1000
        assert not esp(emu).state.links
    log = (tmp_path / "at.log").read_text()
    after_close_frame = log[log.index(">> AT+WSSEND=0,2,8") :]
    assert ">> AT+WSSEND=0,22" not in after_close_frame  # no data after our close frame
