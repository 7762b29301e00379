"""QuectelModem on the emulated EC200U: a prompt later than the driver's timeout, and a
module that hangs in the middle of a send (then the watchdog)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from modem.at.driver import SILENT_PAYLOAD_PHASE, PortState
from modem.emulator import Emulator, Timing, run_emulator
from modem.quectel import QuectelModem
from modem.stream import StreamClosed

STEP = 10.0
TIMEOUTS = {"AT": 0.3, "AT+QISEND=": 0.3, SILENT_PAYLOAD_PHASE: 1.5}


@asynccontextmanager
async def tcp_sink() -> AsyncIterator[tuple[int, list[bytearray]]]:
    """A TCP server keeping, per connection, every byte it received (and echoing it)."""
    received: list[bytearray] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got = bytearray()
        received.append(got)
        while data := await reader.read(65536):
            got += data
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], received
    finally:
        server.close()


@asynccontextmanager
async def modem_on(tmp_path: Path) -> AsyncIterator[tuple[QuectelModem, Emulator]]:
    async with run_emulator("ec200u", baud=None, timing=Timing().scaled(0.02)) as emu:
        modem = await QuectelModem.open(emu.port_url, at_log=tmp_path / "at.log", timeouts=TIMEOUTS)
        modem.registration_poll = 0.05
        modem.boot_timeout = STEP
        try:
            yield modem, emu
        finally:
            await modem.aclose()


async def echoed(sock: object, n: int) -> bytes:
    got = bytearray()
    while len(got) < n:
        chunk = await asyncio.wait_for(sock.read(), STEP)  # type: ignore[attr-defined]
        assert chunk
        got += chunk
    return bytes(got)


@pytest.mark.parametrize("late", [0.5, 1.0])  # after the 0.3 s QISEND timeout
async def test_late_prompt_gets_only_its_payload_and_the_socket_is_reopened_clean(
    late: float, tmp_path: Path
) -> None:
    async with tcp_sink() as (port, received), modem_on(tmp_path) as (modem, emu):
        await asyncio.wait_for(modem.bring_up("internet"), STEP)
        sock = await asyncio.wait_for(modem.open_tcp("127.0.0.1", port), STEP)
        emu.faults.late_prompt(late)
        with pytest.raises(StreamClosed, match="in doubt; it is closed and reopened"):
            await asyncio.wait_for(sock.write(b"hello"), STEP)
        assert modem.driver.state is PortState.ABANDONED_SEND
        await asyncio.wait_for(sock.close(), STEP)  # AT+QICLOSE after the payload phase
        assert 0 not in emu.dialect.state.sockets  # type: ignore[attr-defined]
        again = await asyncio.wait_for(modem.open_tcp("127.0.0.1", port), STEP)
        await again.write(b"clean")
        assert await echoed(again, 5) == b"clean"
        await again.close()
    # the first connection got exactly the announced bytes: no AT among them
    assert [bytes(r) for r in received] == [b"hello", b"clean"]
    trace = (tmp_path / "at.log").read_text()
    assert ",563" not in trace
    send = trace.index(">> AT+QISEND=0,5")
    assert re.findall(r" >> (.*)", trace[send - 1 : trace.index("SEND OK", send)]) == [
        "AT+QISEND=0,5",
        "[5 bytes] hello",
    ]


async def test_module_hung_in_a_send_is_reset_by_the_watchdog(tmp_path: Path) -> None:
    async with tcp_sink() as (port, received), modem_on(tmp_path) as (modem, emu):
        await asyncio.wait_for(modem.bring_up("internet"), STEP)
        sock = await asyncio.wait_for(modem.open_tcp("127.0.0.1", port), STEP)
        emu.faults.hang()
        with pytest.raises(StreamClosed):
            await asyncio.wait_for(sock.write(b"lost"), STEP)
        assert modem.driver.state is PortState.ABANDONED_SEND
        await asyncio.wait_for(sock.close(), STEP)  # silent limit, then given up
        assert await asyncio.wait_for(modem.revive(), STEP) is True
        assert modem.resets == 1 and modem.restarted
        again = await asyncio.wait_for(modem.open_tcp("127.0.0.1", port), STEP)
        await again.write(b"back")
        assert await echoed(again, 4) == b"back"
        assert await asyncio.wait_for(modem.revive(), STEP) is False  # answers AT now
        await again.close()
    assert [bytes(r) for r in received] == [b"", b"back"]
    trace = (tmp_path / "at.log").read_text()
    send = trace.index(">> AT+QISEND=0,4")
    silent = trace.index("no prompt and no final result", send)
    assert re.findall(r" >> (.*)", trace[send - 1 : silent]) == ["AT+QISEND=0,4"]  # nothing else
    assert trace.index(">> AT+CFUN=1,1") < trace.index("<< RDY")
