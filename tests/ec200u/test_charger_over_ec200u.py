"""The charger through the emulated EC200U (driver, pty, emulator, real TCP) to the local CSMS."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chargepoint.assembly import LinkSpec
from chargepoint.csms.server import LocalCsms
from chargepoint.transport.ec200u import ModemSettings
from chargepoint.transport.websocket import WebSocketOverStream
from modem.emulator import run_emulator
from modem.emulator.config import Timing
from modem.quectel import QuectelModem

SEED_BOOT = (
    '[2,"531531531","BootNotification",{"chargePointVendor":"xxx",'
    '"chargePointSerialNumber":"1234","chargePointModel":"xxx test"}]'
)
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@pytest.fixture
async def emulator() -> AsyncIterator:
    async with run_emulator("ec200u", baud=0, timing=Timing().scaled(0.05)) as emu:
        yield emu


def ec200u_link(csms: LocalCsms, emu, at_log: Path | None = None) -> LinkSpec:
    """The link ``cpsim run --modem ec200u`` asks for; the charger's id, key and ping
    interval come from the station (``start_charger`` builds it with ``build_link``)."""
    return LinkSpec(
        "ec200u", csms.url, modem=ModemSettings(emu.port_url, apn="internet", at_log=at_log)
    )


async def test_charging_session_through_the_emulated_ec200u(
    csms: LocalCsms, start_charger, emulator, tmp_path: Path
) -> None:
    at_log = tmp_path / "at.log"
    charger = await start_charger(
        link_spec=ec200u_link(csms, emulator, at_log=at_log),
        config_overrides={"MeterValueSampleInterval": "1"},
    )
    await charger.booted(timeout=30)
    boot = csms.frames.calls("CP001", "BootNotification")[0].payload
    state = emulator.dialect.state
    assert boot["iccid"] == state.sim.iccid and boot["imsi"] == state.sim.imsi
    await charger.call("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1})
    start = await charger.received("StartTransaction", timeout=15)
    tx_id = (await charger.answer_to(start)).payload["transactionId"]
    await charger.received("MeterValues", timeout=15, after=start.seq)
    big = await charger.call("GetConfiguration", {}, timeout=30)  # ~2-3 kB: several QISENDs
    assert len(big["configurationKey"]) >= 22
    await charger.call("RemoteStopTransaction", {"transactionId": tx_id})
    stop = await charger.received("StopTransaction", timeout=15)
    assert stop.payload["transactionId"] == tx_id
    trace = at_log.read_text()
    assert 'AT+QIOPEN=1,0,"TCP","127.0.0.1"' in trace
    assert "AT+QISEND=0," in trace and "AT+QIRD=0,1500" in trace


async def test_at_log_shows_frames_readably_and_masks_the_authorization_key(
    csms: LocalCsms, start_charger, emulator, tmp_path: Path
) -> None:
    at_log = tmp_path / "at.log"
    charger = await start_charger(link_spec=ec200u_link(csms, emulator, at_log=at_log))
    await charger.booted(timeout=30)
    key = "00112233445566778899aabbccddeeff"
    await charger.call("ChangeConfiguration", {"key": "AuthorizationKey", "value": key})
    await charger.call("GetConfiguration", {}, timeout=30)  # ~2-3 kB: several QISENDs
    trace = at_log.read_text()
    # what the charger sent, unmasked, instead of \x81\xfe and random bytes
    assert re.search(r'>> \[\d+ bytes\] ws text \d+: \[2,"[^"]+","BootNotification",\{', trace)
    sent = re.findall(r">> (\[\d+ bytes\] .*)", trace)
    assert sent[0].startswith("[") and "GET /" in sent[0]  # the upgrade request, as text
    unread = [ln for ln in sent[1:] if " ws " not in ln and not re.search(r"\(\d/\d\) cont", ln)]
    assert not unread
    assert re.search(r"\] \(1/[23]\) ws text \d+: \[3,", trace)  # the GetConfiguration answer
    # the CSMS's ChangeConfiguration arrives in a +QIRD payload: the key is masked
    assert '"key":"AuthorizationKey","value":"***"' in trace
    assert key not in trace


async def test_reconnects_after_tcp_drop_and_pdp_deactivation(
    csms: LocalCsms, start_charger, emulator
) -> None:
    charger = await start_charger(link_spec=ec200u_link(csms, emulator))
    await charger.booted(timeout=30)
    for fault in (emulator.faults.drop_tcp, lambda: emulator.faults.pdp_deactivate(1)):
        mark = csms.frames.frames[-1].seq
        fault()
        boot = await charger.received("BootNotification", after=mark, timeout=30)
        await charger.received(
            "StatusNotification", after=boot.seq, timeout=30, where=lambda p: p["connectorId"] == 1
        )


async def test_comes_back_after_registration_was_denied_for_a_while(
    csms: LocalCsms, start_charger, emulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Registration lost, reconnects fail meanwhile, then the network is back: the
    charger must re-activate the data session, not open on a dead one (561) forever."""
    caplog.set_level(logging.ERROR, logger="cpsim.runner")
    charger = await start_charger(link_spec=ec200u_link(csms, emulator))
    await charger.booted(timeout=30)
    mark = csms.frames.frames[-1].seq
    emulator.faults.profile("denied")  # +QIURC: "pdpdeact",1 and no registration
    async with asyncio.timeout(30):  # a reconnect attempt has failed on the denial
        while "cannot connect" not in caplog.text:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    emulator.faults.profile("ok")
    boot = await charger.received("BootNotification", after=mark, timeout=30)
    await charger.received("StatusNotification", after=boot.seq, timeout=30)


async def test_transaction_messages_wait_for_the_link(
    csms: LocalCsms, start_charger, emulator
) -> None:
    """A stop made while the TCP link is down reaches the CSMS after the reconnect."""
    charger = await start_charger(link_spec=ec200u_link(csms, emulator))
    await charger.booted(timeout=30)
    await charger.call("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1})
    start = await charger.received("StartTransaction", timeout=15)
    tx_id = (await charger.answer_to(start)).payload["transactionId"]
    connector = charger.station.connectors[1]
    async with asyncio.timeout(10):  # the answer has crossed the modem, not just left the CSMS
        while connector.transaction is None or connector.transaction.transaction_id != tx_id:
            await asyncio.sleep(0.05)
    emulator.faults.drop_tcp()
    charger.station.stop_transaction(1, "Local")  # while the link is down
    stop = await charger.received("StopTransaction", timeout=30, after=start.seq)
    assert stop.payload["transactionId"] == tx_id and stop.payload["reason"] == "Local"


async def test_seed_boot_goes_out_as_one_masked_text_frame(emulator) -> None:
    """The seed's example: 125 bytes -> 0x81 0xFD, a 4-byte mask key, the masked text."""
    assert len(SEED_BOOT) == 125
    received = bytearray()
    got_frame = asyncio.Event()

    async def csms(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        key = next(
            line.split(b":", 1)[1].strip()
            for line in request.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key:")
        )
        accept = base64.b64encode(hashlib.sha1(key + GUID.encode()).digest())
        writer.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
            + accept
            + b"\r\nSec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
        )
        await writer.drain()
        received.extend(await reader.readexactly(2 + 4 + 125))
        got_frame.set()
        await reader.read()

    server = await asyncio.start_server(csms, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    serial_in = bytearray()  # every byte the driver wrote to the emulated modem
    emulator.engine.tap_input(serial_in.extend)
    modem = await QuectelModem.open(emulator.port_url)
    try:
        await modem.bring_up("internet")
        sock = await modem.open_tcp("127.0.0.1", port)
        ws = await WebSocketOverStream.open(sock, f"ws://127.0.0.1:{port}/JIOTESTING001")
        await ws.send(SEED_BOOT)
        async with asyncio.timeout(10):
            await got_frame.wait()
        await ws.close()  # its close frame is the next AT+QISEND
    finally:
        await modem.aclose()
        server.close()
    # On the serial line: one fixed-length send of the 2 + 4 + 125 bytes, no Ctrl+Z after.
    command = b"AT+QISEND=0,131\r"
    assert serial_in.count(command) == 1
    start = serial_in.index(command) + len(command)
    frame = bytes(serial_in[start : start + 131])
    assert frame[:2] == b"\x81\xfd"
    mask = frame[2:6]
    assert bytes(b ^ mask[i % 4] for i, b in enumerate(frame[6:])).decode() == SEED_BOOT
    assert serial_in[start + 131 : start + 133] == b"AT"  # the next command, not 0x1A
    assert bytes(received) == frame  # and the CSMS got the frame unchanged
