"""A module slower than the driver's timeout, or silent altogether: the link recovers.

The bug (issue 11): an AT+WSSEND that reached its timeout left the link
marked open on the host ("link 0 is already open" at every reconnect) and up
in the module (the CSMS kept a dead WebSocket).  Now a link in doubt is closed
in the module before that id is opened again, and a module that answers
nothing is reset by the watchdog (AT, AT+RST, ready).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from modem.espat import EspAtModem
from modem.espat.modem import ModuleUnresponsive
from modem.stream import StreamClosed

from .helpers import PASSWORD, SSID, STEP, WsServer, esp, esp_emulator, eventually
from .test_emulator import ERROR, OK, PROMPT, online_host, open_link

# Short driver timeouts keep the tests quick; the emulator's faults are longer.
TIMEOUTS = {
    "AT+WSSEND=": 1.0,
    "AT+WSCLOSE=": 1.0,
    "AT+WSOPEN?": 1.0,
    "silent payload phase": 2.0,  # the driver's wait for a send that timed out before its prompt
}
HEARTBEAT = '[2,"1","Heartbeat",{}]'


@pytest.fixture
async def server() -> AsyncIterator[WsServer]:
    async with WsServer().running() as srv:
        yield srv


async def _modem(url: str, tmp_path: Path) -> EspAtModem:
    modem = await EspAtModem.open(url, at_log=tmp_path / "at.log", timeouts=TIMEOUTS)
    modem.probe_within = 1.0
    modem.ready_timeout = 3.0
    await asyncio.wait_for(modem.bring_up(SSID, PASSWORD), STEP)
    return modem


@pytest.mark.parametrize("phase", ["prompt", "result", "late_prompt"])
async def test_a_wssend_answered_after_the_timeout_is_closed_then_reopened(
    tmp_path: Path, server: WsServer, phase: str
) -> None:
    """``prompt``/``result``: the module is stuck in AT+WSSEND (busy p...) and drops
    the frame; ``late_prompt`` (the shared fault): the prompt alone is late, the
    frame then goes out on the old link, which is closed all the same."""
    async with esp_emulator() as emu:
        modem = await _modem(emu.port_url, tmp_path)
        try:
            ws = await modem.open_websocket(server.url())
            peer = await server.accepted()
            if phase == "late_prompt":
                emu.faults.late_prompt(2.5)
            else:
                esp(emu).wssend_late(2.5, phase=phase)
            with pytest.raises(StreamClosed, match="link state unknown"):
                await ws.send(HEARTBEAT)
            # The module does not keep the CSMS's WebSocket up: it is closed at once.
            await asyncio.wait_for(peer.wait_closed(), STEP)
            # The next open works at once: no "already open", no back-off.
            again = await asyncio.wait_for(modem.open_websocket(server.url()), STEP)
            fresh = await server.accepted()
            await again.send(HEARTBEAT)
            assert await asyncio.wait_for(fresh.recv(), STEP) == HEARTBEAT
            await again.close()
            assert modem.resets == 0  # it answered: no reset needed
        finally:
            await modem.aclose()
    log = (tmp_path / "at.log").read_text()
    stalled = log.index(">> AT+WSSEND=0,")
    assert log.index(">> AT+WSCLOSE=0", stalled) < log.index(">> AT+WSOPEN=0", stalled)


async def test_a_module_that_stops_answering_is_reset_and_the_link_reopened(
    tmp_path: Path, server: WsServer
) -> None:
    async with esp_emulator() as emu:
        modem = await _modem(emu.port_url, tmp_path)
        try:
            ws = await modem.open_websocket(server.url())
            await server.accepted()
            esp(emu).hang()
            with pytest.raises(StreamClosed, match="link state unknown"):
                await ws.send(HEARTBEAT)
            # The watchdog: AT unanswered, AT+RST, ready; the module's links are gone.
            await eventually(lambda: modem.resets == 1 and modem.needs_init, "reset")
            await asyncio.wait_for(modem.bring_up(SSID, PASSWORD), STEP)
            again = await asyncio.wait_for(modem.open_websocket(server.url()), STEP)
            fresh = await server.accepted()
            await again.send(HEARTBEAT)
            assert await asyncio.wait_for(fresh.recv(), STEP) == HEARTBEAT
            await again.close()
        finally:
            await modem.aclose()
    log = (tmp_path / "at.log").read_text()
    assert log.index(">> AT+RST") < log.index("<< ready") < log.rindex(">> ATE0")


async def test_the_watchdog_notices_a_silent_module_on_an_idle_link(
    tmp_path: Path, server: WsServer
) -> None:
    async with esp_emulator() as emu:
        modem = await _modem(emu.port_url, tmp_path)
        try:
            ws = await modem.open_websocket(server.url())
            await server.accepted()
            modem.start_watchdog(0.5)
            emu.faults.hang()  # the shared fault: nothing answered, AT+RST still resets
            with pytest.raises(StreamClosed, match="restarted"):
                await asyncio.wait_for(ws.recv(), STEP)  # nothing was sent meanwhile
            assert modem.resets == 1
            await asyncio.wait_for(modem.bring_up(SSID, PASSWORD), STEP)
            again = await asyncio.wait_for(modem.open_websocket(server.url()), STEP)
            await server.accepted()
            await again.close()
        finally:
            await modem.aclose()


async def test_a_module_not_even_reset_by_at_rst_is_reported_and_closing_is_prompt(
    tmp_path: Path, server: WsServer
) -> None:
    async with esp_emulator() as emu:
        modem = await _modem(emu.port_url, tmp_path)
        ws = await modem.open_websocket(server.url())
        await server.accepted()
        esp(emu).hang(rst=False)
        with pytest.raises(ModuleUnresponsive, match="power-cycle"):
            await asyncio.wait_for(modem.recover(), STEP)
        assert modem.dead is not None
        async with asyncio.timeout(STEP):  # not the sum of every command's timeout
            await ws.close()
            await modem.aclose()


async def test_close_with_a_silent_module_is_bounded(tmp_path: Path, server: WsServer) -> None:
    """The close frame goes unanswered: close() gives up after its budget, aclose() too."""
    async with esp_emulator() as emu:
        modem = await _modem(emu.port_url, tmp_path)
        ws = await modem.open_websocket(server.url())
        ws.close_timeout = 0.5
        await server.accepted()
        esp(emu).hang(rst=False)
        async with asyncio.timeout(STEP):
            await ws.close()
            with pytest.raises(StreamClosed, match="did not answer in time"):
                await ws.recv()
            await modem.aclose(budget=1.0)


# -- the emulator's faults on the wire ------------------------------------------------


async def test_emulated_wssend_late_prompt_is_busy_meanwhile(server: WsServer) -> None:
    async with esp_emulator() as emu:
        host = await online_host(emu)
        await open_link(host, server)
        peer = await server.accepted()
        esp(emu).wssend_late(0.5, phase="prompt", deliver=True)
        host.write("AT+WSSEND=0,4\r\n")
        await asyncio.sleep(0.1)
        host.write("AT\r\n")  # the module is stuck in AT+WSSEND
        await host.expect(b"busy p...\r\n" + PROMPT)
        host.write(b"ping")
        await host.expect(b"\r\nSEND OK\r\n")
        assert await asyncio.wait_for(peer.recv(), STEP) == "ping"
        esp(emu).wssend_late(0.2)  # result late, frame dropped
        await host.cmd("AT+WSSEND=0,4", PROMPT)
        host.write(b"lost")
        await host.expect(ERROR)
        await host.close()


async def test_emulated_hang_until_power_cycle(server: WsServer) -> None:
    async with esp_emulator() as emu:
        host = await online_host(emu)
        esp(emu).hang(rst=False)
        assert esp(emu).status()["hung_until_power_cycle"] is True
        host.write("AT\r\nAT+RST\r\nAT\r\n")  # nothing answers, AT+RST included
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(host.reader.read(1), 0.5)
        emu.faults.reboot()
        await host.expect(b"ready\r\n")
        await host.cmd("AT", b"AT\r\n" + OK)  # echo is on again after the reset
        await host.close()
