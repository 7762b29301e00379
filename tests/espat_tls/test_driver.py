"""The driver and the emulated module doing real TLS against a wss:// server on loopback."""

from __future__ import annotations

import asyncio
import base64
import re
from pathlib import Path

import pytest
from espat.helpers import PASSWORD, SSID, STEP, esp, esp_emulator, esp_modem

from chargepoint.security.pki import DevelopmentPki
from modem.at import ATCommandError
from modem.espat import AuthMode, ClockNotSet, EspAtModem, ModuleTls, WebSocketOpenError

from .conftest import TlsWsServer


def verify_server(pki: DevelopmentPki, clock_timeout: float = 15.0) -> ModuleTls:
    return ModuleTls(
        AuthMode.VERIFY_SERVER,
        ca_pem=pki.ca.cert_path.read_bytes(),
        clock_timeout=clock_timeout,
        clock_poll=0.05,
    )


def mutual(pki: DevelopmentPki) -> ModuleTls:
    charger = pki.chargers["CP001"]
    return ModuleTls(
        AuthMode.MUTUAL,
        ca_pem=pki.ca.cert_path.read_bytes(),
        cert_pem=charger.cert_path.read_bytes(),
        key_pem=charger.key_path.read_bytes(),
        clock_poll=0.05,
    )


def commands(log: Path) -> list[str]:
    return re.findall(r">> (AT\S*)", log.read_text())


async def test_profile_2_stores_the_ca_sets_the_clock_and_verifies(
    tmp_path: Path, pki: DevelopmentPki
) -> None:
    async with TlsWsServer(pki).running() as server, esp_modem(tmp_path) as (modem, emu):
        ws = await modem.open_websocket(server.url(), tls=verify_server(pki))
        peer = await server.accepted()
        await ws.send('[2,"1","Heartbeat",{}]')
        assert await asyncio.wait_for(peer.recv(), STEP) == '[2,"1","Heartbeat",{}]'
        assert server.peer_subject(peer) is None  # profile 2: no client certificate
        await ws.close()
        stored = esp(emu).mfg[("wss_ca", "wss_ca.0")]
        assert stored == (8, pki.ca.cert_path.read_bytes())
    sent = commands(tmp_path / "at.log")
    order = [
        'AT+SYSMFG=2,"wss_ca","wss_ca.0",8,' + str(len(stored[1])),
        'AT+CIPSNTPCFG=1,0,"pool.ntp.org"',
        "AT+CIPSNTPTIME?",
        "AT+WSCFG=0,10,120,8192,2,0,0",
        f'AT+WSOPEN=0,"{server.url()}","ocpp1.6",20000',
    ]
    positions = [sent.index(c) for c in order]
    assert positions == sorted(positions)


async def test_certificates_are_rewritten_only_when_they_differ(
    tmp_path: Path, pki: DevelopmentPki, other_pki: DevelopmentPki
) -> None:
    async with TlsWsServer(pki).running() as server, esp_emulator() as emu:
        for session, ca in enumerate((pki, pki, other_pki)):  # a charger restart each time
            modem = await EspAtModem.open(emu.port_url, at_log=tmp_path / f"{session}.log")
            try:
                await modem.bring_up(SSID, PASSWORD)
                if ca is pki:
                    ws = await modem.open_websocket(server.url(), tls=verify_server(ca))
                    await ws.close()
                else:
                    with pytest.raises(WebSocketOpenError):
                        await modem.open_websocket(server.url(), tls=verify_server(ca))
            finally:
                await modem.aclose()
        # The first session wrote; the second read, found the same CA and wrote
        # nothing (flash wears); the third was given another CA and wrote it.
        assert esp(emu).mfg_writes == 2
    writes = [
        sum(c.startswith("AT+SYSMFG=2,") for c in commands(tmp_path / f"{n}.log")) for n in range(3)
    ]
    assert writes == [1, 0, 1]
    assert 'AT+SYSMFG=1,"wss_ca","wss_ca.0"' in commands(tmp_path / "1.log")


async def test_profile_3_mutual_tls_and_the_key_never_in_the_trace(
    tmp_path: Path, pki: DevelopmentPki
) -> None:
    async with (
        TlsWsServer(pki, client_ca=pki.ca.cert_path).running() as server,
        esp_modem(tmp_path) as (modem, emu),
    ):
        ws = await modem.open_websocket(server.url(), tls=mutual(pki))
        peer = await server.accepted()
        assert server.peer_subject(peer) == "CP001"
        await peer.send('[2,"9","Reset",{"type":"Soft"}]')
        assert await asyncio.wait_for(ws.recv(), STEP) == '[2,"9","Reset",{"type":"Soft"}]'
        await ws.close()
        # Read back too (as a second session would), so the received side is checked.
        assert await modem.tls.read("wss_key") == pki.chargers["CP001"].key_path.read_bytes()
    log = (tmp_path / "at.log").read_text()
    assert "AT+WSCFG=0,10,120,8192,3,0,0" in log
    assert 'AT+SYSMFG=2,"wss_key","wss_key.0",8,' in log
    key = pki.chargers["CP001"].key_path.read_bytes()
    body = b"".join(key.splitlines()[1:-1])
    for secret in (body, body[:24], base64.b64decode(body)[:16].hex().encode()):
        assert secret.decode() not in log
    assert "charger private key" in log and "PRIVATE KEY-----***" in log


async def test_a_csms_of_another_ca_is_refused_with_the_causes(
    tmp_path: Path, pki: DevelopmentPki, other_pki: DevelopmentPki
) -> None:
    async with TlsWsServer(other_pki).running() as server, esp_modem(tmp_path) as (modem, emu):
        with pytest.raises(WebSocketOpenError) as failure:
            await modem.open_websocket(server.url(), tls=verify_server(pki))
        assert not server.requests  # nothing went over HTTP: the handshake stopped first
        assert "CERTIFICATE_VERIFY_FAILED" in (esp(emu).last_tls_error or "")
    reason = str(failure.value)
    assert "ESP-AT does not say why a TLS open failed" in reason
    assert "not signed by the CA stored in wss_ca (" in reason
    assert "CN=cpsim development CA, SHA-256 fingerprint" in reason
    assert "'localhost'" in reason and "validity dates" in reason


async def test_a_verifying_open_before_sntp_fails_as_on_the_module(
    tmp_path: Path, pki: DevelopmentPki
) -> None:
    async with TlsWsServer(pki).running() as server, esp_modem(tmp_path) as (modem, emu):
        await modem.tls.store("wss_ca", "CA", pki.ca.cert_path.read_bytes(), secret=False)
        await modem.command("AT+WSCFG=0,10,120,8192,2,0,0")
        opening = f'AT+WSOPEN=0,"{server.url()}","ocpp1.6",5000'
        with pytest.raises(ATCommandError):
            await modem.command(opening)
        assert "not yet valid" in (esp(emu).last_tls_error or "")
        assert not server.requests
        clock = await modem.tls.set_clock("pool.ntp.org", timeout=STEP, poll=0.05)
        assert clock.year >= 2021
        await modem.command("AT+WSCFG=0,10,120,8192,2,0,0")
        await modem.command(opening, timeout=STEP)
        await server.accepted()


async def test_no_sntp_answer_is_a_clock_error_before_any_open(
    tmp_path: Path, pki: DevelopmentPki
) -> None:
    async with TlsWsServer(pki).running() as server, esp_modem(tmp_path) as (modem, emu):
        esp(emu).block_sntp()
        with pytest.raises(ClockNotSet) as failure:
            await modem.open_websocket(server.url(), tls=verify_server(pki, clock_timeout=0.3))
        assert "pool.ntp.org" in str(failure.value) and "1970" in str(failure.value)
    assert not any(c.startswith("AT+WSOPEN=0") for c in commands(tmp_path / "at.log"))


async def test_a_handshake_failure_names_tls(tmp_path: Path, pki: DevelopmentPki) -> None:
    async with TlsWsServer(pki).running() as server, esp_modem(tmp_path) as (modem, emu):
        emu.faults.tls_handshake_fail(1)
        with pytest.raises(WebSocketOpenError) as failure:
            await modem.open_websocket(server.url(), tls=verify_server(pki))
        assert "TLS, auth_mode 2" in str(failure.value)
        ws = await modem.open_websocket(server.url(), tls=verify_server(pki))  # next one works
        await server.accepted()
        await ws.close()
