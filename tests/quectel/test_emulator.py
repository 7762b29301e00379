"""End to end: QuectelModem -> pty (or socket://) -> EC200U emulator -> real TCP peer."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from modem.at import ATRestarted
from modem.emulator import Emulator, Timing, run_emulator
from modem.emulator.ec200u.cmd_general import IMEI
from modem.quectel import (
    ActivationError,
    QuectelModem,
    QuectelSocket,
    RegistrationError,
    SimError,
    SocketOpenError,
)
from modem.stream import StreamClosed

STEP = 10.0  # no single await may hang longer than this
FAST = Timing().scaled(0.02)
EVERY_BYTE = bytes(range(256)) * 14  # 3584 bytes: three QISEND chunks, three QIRD reads

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


@asynccontextmanager
async def tcp_server(handler: Handler = echo) -> AsyncIterator[int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


@asynccontextmanager
async def modem_on(
    tmp_path: Path, *, listen: str | None = None, **options: object
) -> AsyncIterator[tuple[QuectelModem, Emulator]]:
    options.setdefault("timing", FAST)
    async with run_emulator("ec200u", listen=listen, baud=None, **options) as emu:  # type: ignore[arg-type]
        modem = await QuectelModem.open(emu.port_url, at_log=tmp_path / "at.log")
        modem.send_backoff = (0.01, 0.02, 0.05)
        try:
            yield modem, emu
        finally:
            await modem.aclose()


async def read_exactly(sock: QuectelSocket, n: int) -> bytes:
    got = bytearray()
    while len(got) < n:
        chunk = await asyncio.wait_for(sock.read(), STEP)
        assert chunk, f"EOF after {len(got)} of {n} bytes"
        got += chunk
    return bytes(got)


async def until(condition: Callable[[], bool]) -> None:
    """Wait for emulator state that offers no event to wait on."""
    async with asyncio.timeout(STEP):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


@pytest.fixture
async def online(tmp_path: Path) -> AsyncIterator[tuple[QuectelModem, Emulator]]:
    async with modem_on(tmp_path) as (modem, emu):
        await asyncio.wait_for(modem.bring_up(apn="internet"), STEP)
        yield modem, emu


async def test_every_byte_both_ways(online, tmp_path: Path) -> None:
    modem, _ = online
    identity = await modem.identity()
    assert identity.iccid and identity.imsi and identity.imei
    async with tcp_server() as port:
        sock = await asyncio.wait_for(modem.open_tcp("127.0.0.1", port), STEP)
        await asyncio.wait_for(sock.write(EVERY_BYTE), STEP)
        assert await read_exactly(sock, len(EVERY_BYTE)) == EVERY_BYTE
        await sock.close()
    log = (tmp_path / "at.log").read_text()
    sends = re.findall(r">> (AT\+QISEND=\S*)", log)
    assert sends and all(re.fullmatch(r"AT\+QISEND=0,\d+", s) for s in sends)  # never Ctrl+Z form
    assert "+QIRD: 0" in log


@pytest.mark.parametrize("prompt", [None, b"\r\n> "])
async def test_paced_at_115200_baud_with_both_prompt_forms(
    tmp_path: Path, prompt: bytes | None
) -> None:
    async with (
        tcp_server() as port,
        run_emulator("ec200u", baud=115200, prompt=prompt, timing=FAST) as emu,
    ):
        modem = await QuectelModem.open(emu.port_url, baudrate=115200)
        await asyncio.wait_for(modem.bring_up(apn="internet"), STEP)
        sock = await asyncio.wait_for(modem.open_tcp("127.0.0.1", port), STEP)
        await asyncio.wait_for(sock.write(EVERY_BYTE), STEP)
        assert await read_exactly(sock, len(EVERY_BYTE)) == EVERY_BYTE
        await modem.aclose()


async def test_server_bytes_then_peer_close(online) -> None:
    modem, emu = online
    payload = bytes(range(256)) * 12 + b'\r\nOK\r\n+QIURC: "recv",0\r\n\x1a'

    async def speak_and_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readexactly(5)
        writer.write(payload)
        await writer.drain()
        writer.close()

    async with tcp_server(speak_and_close) as port:
        sock = await asyncio.wait_for(modem.open_tcp("127.0.0.1", port), STEP)
        await sock.write(b"hello")
        assert await read_exactly(sock, len(payload)) == payload
        assert await asyncio.wait_for(sock.read(), STEP) == b""
        await until(lambda: 0 not in emu.dialect.state.sockets)  # AT+QICLOSE freed the ID
        with pytest.raises(StreamClosed, match=r'\+QIURC: "closed",0'):
            await sock.write(b"late")
        await sock.close()


async def test_network_drop_of_the_socket(online) -> None:
    modem, emu = online
    async with tcp_server() as port:
        sock = await asyncio.wait_for(modem.open_tcp("127.0.0.1", port), STEP)
        emu.faults.drop_tcp(0)
        assert await asyncio.wait_for(sock.read(), STEP) == b""
        await sock.close()


async def test_pdpdeact_then_recovery(online) -> None:
    modem, emu = online
    async with tcp_server() as port:
        sock = await asyncio.wait_for(modem.open_tcp("127.0.0.1", port), STEP)
        emu.faults.pdp_deactivate(1)
        with pytest.raises(StreamClosed) as info:
            await asyncio.wait_for(sock.read(), STEP)
        assert info.value.reason.startswith('+QIURC: "pdpdeact",1')
        assert modem.needs_recovery(1)
        await sock.close()
        again = await asyncio.wait_for(modem.open_tcp("127.0.0.1", port), STEP)
        await again.write(b"after recovery")
        assert await read_exactly(again, 14) == b"after recovery"
        await again.close()


async def test_send_fail_is_retried_then_gives_up(online) -> None:
    modem, emu = online
    async with tcp_server() as port:
        sock = await asyncio.wait_for(modem.open_tcp("127.0.0.1", port), STEP)
        emu.faults.send_fail(2)
        await asyncio.wait_for(sock.write(b"retried"), STEP)
        assert await read_exactly(sock, 7) == b"retried"
        emu.faults.send_fail(100)
        with pytest.raises(StreamClosed, match="SEND FAIL 4 times"):
            await asyncio.wait_for(sock.write(b"lost"), STEP)
        await sock.close()


async def test_noise_and_urcs_inside_responses(online) -> None:
    modem, emu = online
    async with tcp_server() as port:
        sock = await asyncio.wait_for(modem.open_tcp("127.0.0.1", port), STEP)
        emu.faults.garbage(b"\xff\xfe\x00\r\n")
        emu.faults.urc_in_next_response(b'+QIURC: "recv",5')
        await sock.write(b"still fine")
        assert await read_exactly(sock, 10) == b"still fine"
        assert modem.driver.garbage_bytes >= 3
        await sock.close()


async def test_noise_inside_a_response_is_skipped(online) -> None:
    modem, emu = online
    before = modem.driver.garbage_bytes
    emu.faults.garbage_in_next_response(b"\x00\xff\xfe\x80\r\n")
    response = await asyncio.wait_for(modem.driver.command("AT+CSQ"), STEP)
    assert response.lines == [f"+CSQ: {emu.dialect.state.cell.csq},99"]
    assert modem.driver.garbage_bytes == before + 4


async def test_modem_reboot_ends_the_socket_and_reopen_reinitialises(online) -> None:
    modem, emu = online
    async with tcp_server() as port:
        sock = await asyncio.wait_for(modem.open_tcp("127.0.0.1", port), STEP)
        emu.faults.reboot()
        with pytest.raises(StreamClosed, match="modem restarted"):
            await asyncio.wait_for(sock.read(), STEP)
        await sock.close()
        await until(lambda: emu.dialect.state.registered)
        again = await asyncio.wait_for(modem.open_tcp("127.0.0.1", port), STEP)
        await again.write(b"x" * 3000)
        assert await read_exactly(again, 3000) == b"x" * 3000
        await again.close()


async def test_open_right_after_a_reboot_waits_for_the_network(tmp_path: Path) -> None:
    """No waiting for registration here: the charger reopens as soon as RDY ends its socket.

    AT+QIACT fails while the rebooted modem is still registering; the recovery
    must wait for the network instead of spending its one attempt too early.
    """
    slow_network = dataclasses.replace(FAST, register=1.0, qiact_fail=0.05)
    async with tcp_server() as port, modem_on(tmp_path, timing=slow_network) as (modem, emu):
        modem.registration_poll = 0.05
        await asyncio.wait_for(modem.bring_up(apn="internet"), STEP)
        sock = await asyncio.wait_for(modem.open_tcp("127.0.0.1", port), STEP)
        emu.faults.reboot()
        with pytest.raises(StreamClosed, match="modem restarted"):
            await asyncio.wait_for(sock.read(), STEP)
        again = await asyncio.wait_for(modem.open_tcp("127.0.0.1", port), STEP)
        await again.write(b"back")
        assert await read_exactly(again, 4) == b"back"
        assert not modem.needs_recovery(1)
        await again.close()


async def test_a_failed_recovery_is_retried_on_the_next_open(online) -> None:
    """Registration lost (profile denied): the open fails naming it; once the network is
    back the next open re-activates the context instead of failing with 561 forever."""
    modem, emu = online
    modem.registration_poll = 0.05
    async with tcp_server() as port:
        sock = await asyncio.wait_for(modem.open_tcp("127.0.0.1", port), STEP)
        emu.faults.profile("denied")
        with pytest.raises(StreamClosed, match="pdpdeact"):
            await asyncio.wait_for(sock.read(), STEP)
        await sock.close()
        with pytest.raises(RegistrationError, match="registration denied"):
            await asyncio.wait_for(modem.open_tcp("127.0.0.1", port), STEP)
        assert modem.needs_recovery(1)
        emu.faults.profile("ok")
        again = await asyncio.wait_for(modem.open_tcp("127.0.0.1", port), STEP)
        await again.write(b"after denial")
        assert await read_exactly(again, 12) == b"after denial"
        await again.close()


async def test_qiopen_561_reactivates_the_context(online) -> None:
    """The context went down without a pdpdeact URC: +QIOPEN: 0,561 means re-activate."""
    modem, emu = online
    await modem.driver.command("AT+QIDEACT=1")  # behind the modem object's back
    async with tcp_server() as port:
        sock = await asyncio.wait_for(modem.open_tcp("127.0.0.1", port), STEP)
        await sock.write(b"reactivated")
        assert await read_exactly(sock, 11) == b"reactivated"
        assert emu.dialect.state.contexts[1].active
        await sock.close()


async def test_slow_modem_late_answers_do_not_answer_later_commands(tmp_path: Path) -> None:
    """Emulator fault ``slow``: AT+QISEND times out; its late prompt and SEND OK must not
    be read as the answers to the commands that follow (AT+CSQ, AT+CGSN, AT+QICLOSE)."""
    at_log = tmp_path / "at.log"
    async with tcp_server() as port, run_emulator("ec200u", baud=None, timing=FAST) as emu:
        modem = await QuectelModem.open(emu.port_url, at_log=at_log, timeouts={"AT+QISEND=": 0.5})
        try:
            await asyncio.wait_for(modem.bring_up(apn="internet"), STEP)
            sock = await asyncio.wait_for(modem.open_tcp("127.0.0.1", port), STEP)
            emu.faults.slow(800)
            with pytest.raises(StreamClosed, match=r"AT\+QISEND=0,5 -> no final result"):
                await asyncio.wait_for(sock.write(b"hello"), STEP)
            csq = await asyncio.wait_for(modem.driver.command("AT+CSQ"), STEP)
            assert csq.lines == [f"+CSQ: {emu.dialect.state.cell.csq},99"]
            imei = await asyncio.wait_for(modem.driver.command("AT+CGSN"), STEP)
            assert imei.lines == [IMEI]
            emu.faults.slow(0)
            await asyncio.wait_for(sock.close(), STEP)
            assert 0 not in emu.dialect.state.sockets  # AT+QICLOSE got its own OK
        finally:
            await modem.aclose()
    trace = at_log.read_text()
    assert "late prompt for AT+QISEND=0,5" in trace
    assert "late answer to AT+QISEND=0,5, which timed out; discarded" in trace
    # AT+CSQ waited for the send's prompt and final: no AT was written into its payload
    assert "AT+CSQ waits: AT+QISEND=0,5 may still be in its payload phase" in trace
    assert "resynchronising" not in trace


async def test_reboot_during_qiact_fails_it_at_once(tmp_path: Path) -> None:
    """AT+QIACT may block 150 s; a reboot (RDY) ends the wait at once, naming the command."""
    async with (
        tcp_server() as port,
        modem_on(tmp_path, timing=dataclasses.replace(FAST, qiact=60.0)) as (modem, emu),
    ):
        modem.registration_poll = 0.05
        await modem.initialise()
        await asyncio.wait_for(modem.wait_registered(STEP, 0.05), STEP)
        activation = asyncio.create_task(modem.activate(1, "internet"))
        await until(lambda: ">> AT+QIACT=1" in (tmp_path / "at.log").read_text())
        emu.faults.reboot()
        with pytest.raises(ATRestarted, match=r"AT\+QIACT=1 -> modem restarted \(RDY\)"):
            await asyncio.wait_for(activation, STEP)
        emu.dialect.timing = FAST  # the network answers normally after the reboot
        sock = await asyncio.wait_for(modem.open_tcp("127.0.0.1", port), STEP)
        await sock.write(b"up")
        assert await read_exactly(sock, 2) == b"up"
        await sock.close()


async def test_an_id_left_open_by_an_earlier_run_is_closed_first(tmp_path: Path) -> None:
    async with tcp_server() as port, run_emulator("ec200u", baud=None, timing=FAST) as emu:
        first = await QuectelModem.open(emu.port_url)
        await first.bring_up(apn="internet")
        await first.open_tcp("127.0.0.1", port, connect_id=3)
        await first.driver.aclose()  # the program dies without AT+QICLOSE
        second = await QuectelModem.open(emu.port_url)
        await second.bring_up(apn="internet")
        sock = await asyncio.wait_for(second.open_tcp("127.0.0.1", port, connect_id=3), STEP)
        await sock.write(b"ok")
        assert await read_exactly(sock, 2) == b"ok"
        await second.aclose()


async def test_over_a_socket_url(tmp_path: Path) -> None:
    async with (
        tcp_server() as port,
        modem_on(tmp_path, listen="socket://127.0.0.1:0") as (modem, emu),
    ):
        assert emu.port_url.startswith("socket://")
        await modem.bring_up(apn="internet")
        sock = await asyncio.wait_for(modem.open_tcp("127.0.0.1", port), STEP)
        await sock.write(EVERY_BYTE)
        assert await read_exactly(sock, len(EVERY_BYTE)) == EVERY_BYTE
        await sock.close()


# -- field profiles: each failure must say what to check -----------------------


async def test_no_sim(tmp_path: Path) -> None:
    async with modem_on(tmp_path, profile="no-sim") as (modem, _):
        with pytest.raises(SimError, match="no SIM detected; insert the SIM card"):
            await modem.initialise()


async def test_sim_pin(tmp_path: Path) -> None:
    async with modem_on(tmp_path, profile="sim-pin") as (modem, _):
        with pytest.raises(SimError, match="asks for a PIN"):
            await modem.initialise()


async def test_registration_denied(tmp_path: Path) -> None:
    async with modem_on(tmp_path, profile="denied") as (modem, _):
        await modem.initialise()
        with pytest.raises(RegistrationError, match="registration denied"):
            await modem.wait_registered(timeout=STEP, poll=0.05)


async def test_bad_apn(tmp_path: Path) -> None:
    async with modem_on(tmp_path, profile="bad-apn", good_apns=("iot.op",)) as (modem, _):
        with pytest.raises(ActivationError) as info:
            await asyncio.wait_for(modem.bring_up(apn="wrong.apn"), STEP)
        assert str(info.value).startswith('PDP activation on APN "wrong.apn" refused: AT+QIACT=1')
        assert "561 PDP context opening failed" in str(info.value)


@pytest.mark.parametrize(
    ("profile", "host", "reason"),
    [
        ("no-dns", "csms.example.com", "+QIOPEN: 0,565 DNS parse failed (check the CSMS host name"),
        ("csms-unreachable", "127.0.0.1", "+QIOPEN: 0,566 socket connect failed (the CSMS did"),
    ],
)
async def test_open_failures(tmp_path: Path, profile: str, host: str, reason: str) -> None:
    async with modem_on(tmp_path, profile=profile) as (modem, _):
        await asyncio.wait_for(modem.bring_up(apn="internet"), STEP)
        with pytest.raises(SocketOpenError) as info:
            await asyncio.wait_for(modem.open_tcp(host, 9), STEP)
        assert reason in str(info.value)
