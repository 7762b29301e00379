"""The Quectel dialect against a scripted EC200U: bring-up, errors, socket life cycle."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest
from at.scripted import socket_pair

from modem.at import ATDriver
from modem.quectel import (
    QUECTEL,
    ActivationError,
    ModemIdentity,
    QuectelModem,
    RegistrationError,
    SimError,
    SocketOpenError,
)
from modem.stream import StreamClosed

from .fakeqi import FakeQI

STEP = 5.0


@pytest.fixture
async def rig() -> AsyncIterator[tuple[QuectelModem, FakeQI]]:
    async with socket_pair() as (scripted, reader, writer):
        fake = FakeQI(scripted)
        server = asyncio.create_task(scripted.serve(fake.answer))
        driver = ATDriver(reader, writer, dialect=QUECTEL, port="fake")
        modem = QuectelModem(driver, poll_interval=30.0, send_backoff=(0.01, 0.01, 0.01))
        yield modem, fake
        await modem.aclose()
        server.cancel()
        assert fake.violations == []


async def opened(modem: QuectelModem, fake: FakeQI) -> None:
    fake.active = True
    await modem.activate(1, "internet")


async def test_initialise_turns_echo_off_and_checks_the_sim(rig) -> None:
    modem, fake = rig
    await modem.initialise()
    assert fake.modem.commands == ["ATE0", "AT+CMEE=2", "AT+QISDE=0", "AT+CPIN?"]


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (b"\r\n+CME ERROR: 10\r\n", "AT+CPIN? -> +CME ERROR: 10 (SIM not inserted): no SIM"),
        (b"\r\n+CME ERROR: SIM not inserted\r\n", "insert the SIM card"),
        (b"\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n", "+CPIN: SIM PIN: the SIM asks for a PIN"),
        (b"\r\n+CPIN: SIM PUK\r\n\r\nOK\r\n", "+CPIN: SIM PUK: the SIM is blocked"),
    ],
)
async def test_sim_problems_are_named(rig, reply: bytes, message: str) -> None:
    modem, fake = rig
    fake.cpin = reply
    with pytest.raises(SimError, match=re.escape(message)):
        await modem.initialise()


async def test_identity_reports_iccid_and_imsi(rig) -> None:
    modem, _ = rig
    assert await modem.identity() == ModemIdentity(
        manufacturer="Quectel",
        model="EC200U",
        revision="EC200UCNAAR03A06M08",
        imei="864508030000001",
        iccid="8949020000012345678",
        imsi="262021234567890",
    )


async def test_wait_registered_polls_until_registered(rig) -> None:
    modem, fake = rig
    fake.cereg = [2, 2, 5]
    registration = await modem.wait_registered(timeout=STEP, poll=0.01)
    assert registration.command == "+CEREG" and registration.roaming


async def test_registration_denied(rig) -> None:
    modem, fake = rig
    fake.cereg = [3]
    with pytest.raises(RegistrationError, match=r"registration denied by the network"):
        await modem.wait_registered(timeout=STEP, poll=0.01)


async def test_registration_timeout_reports_state_and_signal(rig) -> None:
    modem, fake = rig
    fake.cereg = [2]
    with pytest.raises(RegistrationError) as info:
        await modem.wait_registered(timeout=0.05, poll=0.01)
    assert "+CEREG: searching" in str(info.value)
    assert "signal -99 dBm" in str(info.value)


async def test_activate_and_skip_when_already_active(rig) -> None:
    modem, fake = rig
    assert await modem.activate(1, "internet", "u", "p", 1) == "10.1.2.3"
    assert "AT+QIACT=1" in fake.modem.commands
    fake.modem.commands.clear()
    assert await modem.activate(1, "internet") == "10.1.2.3"
    assert "AT+QIACT=1" not in fake.modem.commands


async def test_activation_refused_names_the_apn_and_reason(rig) -> None:
    modem, fake = rig
    fake.qiact_fails = True
    with pytest.raises(ActivationError) as info:
        await modem.activate(1, "wrong.apn")
    assert str(info.value) == (
        'PDP activation on APN "wrong.apn" refused: AT+QIACT=1 -> ERROR '
        "(AT+QIGETERROR: 561 PDP context opening failed (check the APN, user and password "
        "with the operator))"
    )


async def test_quotes_in_the_apn_are_refused(rig) -> None:
    modem, _ = rig
    with pytest.raises(ValueError, match="apn must not contain quotes"):
        await modem.activate(1, 'in"ternet')


async def test_open_failure_reads_the_code(rig) -> None:
    modem, fake = rig
    await opened(modem, fake)
    fake.open_codes = [566]
    with pytest.raises(SocketOpenError) as info:
        await modem.open_tcp("csms.example", 80)
    assert str(info.value) == (
        "TCP connection to csms.example:80 failed: +QIOPEN: 0,566 socket connect failed "
        "(the CSMS did not accept the TCP connection: check host, port and firewall)"
    )
    assert info.value.code == 566


async def test_open_closes_an_id_left_allocated(rig) -> None:
    modem, fake = rig
    await opened(modem, fake)
    fake.allocated.add(2)
    sock = await modem.open_tcp("csms.example", 80, connect_id=2)
    assert fake.modem.commands[-3:] == [
        "AT+QISTATE=1,2",
        "AT+QICLOSE=2",
        'AT+QIOPEN=1,2,"TCP","csms.example",80,0,0',
    ]
    await sock.close()


async def test_open_retries_once_after_563(rig) -> None:
    modem, fake = rig
    await opened(modem, fake)
    fake.open_codes = [563, 0]
    sock = await modem.open_tcp("csms.example", 80)
    assert fake.modem.commands[-2:] == ["AT+QICLOSE=0", 'AT+QIOPEN=1,0,"TCP","csms.example",80,0,0']
    await sock.close()


async def test_write_uses_fixed_length_chunks(rig) -> None:
    modem, fake = rig
    await opened(modem, fake)
    sock = await modem.open_tcp("h", 80)
    data = bytes(range(256)) * 13  # 3328 bytes, contains 0x1A and 0x1B
    await sock.write(data)
    assert bytes(fake.sent[0]) == data
    sends = [c for c in fake.modem.commands if c.startswith("AT+QISEND")]
    assert sends == ["AT+QISEND=0,1460", "AT+QISEND=0,1460", "AT+QISEND=0,408"]
    await sock.close()


async def test_read_drains_until_qird_0(rig) -> None:
    modem, fake = rig
    await opened(modem, fake)
    sock = await modem.open_tcp("h", 80)
    data = bytes(range(256)) * 16  # 4096 bytes: three QIRDs, then +QIRD: 0
    fake.deliver(0, data)
    received = bytearray()
    while len(received) < len(data):
        received += await asyncio.wait_for(sock.read(), STEP)
    assert received == data
    await asyncio.sleep(0.05)
    assert fake.modem.commands.count("AT+QIRD=0,1500") == 4
    # The modem re-arms its URC: more data is read the same way.
    fake.deliver(0, b"more")
    assert await asyncio.wait_for(sock.read(), STEP) == b"more"
    await sock.close()


async def test_safety_poll_finds_data_whose_urc_was_lost(rig) -> None:
    modem, fake = rig
    modem.poll_interval = 0.05
    await opened(modem, fake)
    sock = await modem.open_tcp("h", 80)
    fake.deliver(0, b"no urc for this", urc=False)
    assert await asyncio.wait_for(sock.read(), STEP) == b"no urc for this"
    await sock.close()


async def test_peer_close_delivers_the_rest_then_eof(rig) -> None:
    modem, fake = rig
    await opened(modem, fake)
    sock = await modem.open_tcp("h", 80)
    fake.rx[0] += b"\x88\x02\x03\xe8"  # the server's close frame, still unread
    fake.peer_close(0)
    assert await asyncio.wait_for(sock.read(), STEP) == b"\x88\x02\x03\xe8"
    assert await asyncio.wait_for(sock.read(), STEP) == b""
    assert await asyncio.wait_for(sock.read(), STEP) == b""
    assert "AT+QICLOSE=0" in fake.modem.commands
    assert 0 not in fake.allocated
    with pytest.raises(StreamClosed, match=r'\+QIURC: "closed",0'):
        await sock.write(b"x")
    await sock.close()
    await sock.close()


async def test_pdpdeact_ends_the_socket_and_reopen_recovers(rig) -> None:
    modem, fake = rig
    await opened(modem, fake)
    sock = await modem.open_tcp("h", 80)
    fake.pdpdeact(1)
    with pytest.raises(StreamClosed) as info:
        await asyncio.wait_for(sock.read(), STEP)
    assert info.value.reason.startswith('+QIURC: "pdpdeact",1: the network dropped')
    assert "AT+QIDEACT=1 then AT+QIACT=1" in info.value.reason
    with pytest.raises(StreamClosed, match="pdpdeact"):
        await sock.write(b"x")
    assert modem.needs_recovery(1)
    fake.modem.commands.clear()
    again = await modem.open_tcp("h", 80)
    assert fake.modem.commands[:6] == [
        "AT+CEREG?",  # registered again before AT+QIACT is worth trying
        "AT+QIDEACT=1",
        'AT+QICSGP=1,1,"internet","","",0',
        "AT+QIACT?",
        "AT+QIACT=1",
        "AT+QIACT?",
    ]
    assert not modem.needs_recovery(1)
    await again.write(b"hello")
    assert bytes(fake.sent[0]) == b"hello"


async def test_send_fail_is_retried(rig) -> None:
    modem, fake = rig
    await opened(modem, fake)
    sock = await modem.open_tcp("h", 80)
    fake.send_fails = 2
    await sock.write(b"payload")
    assert bytes(fake.sent[0]) == b"payload"
    assert fake.modem.commands.count("AT+QISEND=0,7") == 3
    await sock.close()


async def test_send_fail_that_persists_closes_the_stream(rig) -> None:
    modem, fake = rig
    await opened(modem, fake)
    sock = await modem.open_tcp("h", 80)
    fake.send_fails = 100
    with pytest.raises(StreamClosed, match=r"AT\+QISEND=0,7 -> SEND FAIL 4 times"):
        await sock.write(b"payload")
    with pytest.raises(StreamClosed):
        await asyncio.wait_for(sock.read(), STEP)
    await sock.close()


async def test_port_loss_ends_sockets(rig) -> None:
    modem, fake = rig
    await opened(modem, fake)
    sock = await modem.open_tcp("h", 80)
    fake.modem.close()
    with pytest.raises(StreamClosed, match="modem port lost"):
        await asyncio.wait_for(sock.read(), STEP)


async def test_modem_restart_ends_sockets_and_forces_recovery(rig) -> None:
    modem, fake = rig
    await opened(modem, fake)
    sock = await modem.open_tcp("h", 80)
    fake.echo = True
    fake.active = False
    fake.allocated.clear()
    fake.modem.send(b"\r\nRDY\r\n")
    with pytest.raises(StreamClosed, match=r"modem restarted \(RDY\)"):
        await asyncio.wait_for(sock.read(), STEP)
    fake.modem.commands.clear()
    await modem.open_tcp("h", 80)
    assert fake.modem.commands[:4] == ["ATE0", "AT+CMEE=2", "AT+QISDE=0", "AT+CPIN?"]


async def test_recv_urc_right_after_qiopen_is_not_lost(rig) -> None:
    modem, fake = rig  # poll_interval is 30 s: only the URC can deliver this
    await opened(modem, fake)
    fake.greeting = b"server speaks first"
    sock = await modem.open_tcp("h", 80)
    assert await asyncio.wait_for(sock.read(), STEP) == b"server speaks first"
    await sock.close()


async def test_urc_queue(rig) -> None:
    modem, fake = rig
    queue = modem.driver.urc_queue("+QIND:")
    fake.modem.send(b"\r\n+CFUN: 1\r\n\r\n+QIND: SMS DONE\r\n")
    urc = await asyncio.wait_for(queue.get(), STEP)
    assert urc.text == "+QIND: SMS DONE"
    assert queue.empty()
