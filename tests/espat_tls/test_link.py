"""EspAtLink with security profiles 2 and 3: settings checked, a TLS drop, and one charger
run end to end through the emulated ESP-AT module to the local CSMS serving wss://."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from espat.helpers import PASSWORD, SSID, STEP, esp, esp_emulator

from chargepoint.assembly import LinkSpec
from chargepoint.csms.server import LocalCsms
from chargepoint.security.pki import DevelopmentPki
from chargepoint.transport.base import LinkClosed, LinkError
from chargepoint.transport.espat import EspAtLink, EspAtSettings
from chargepoint.transport.handshake import Endpoint
from chargepoint.transport.tlssettings import SchemeMismatch, TlsSettings, tls_settings

from .conftest import TlsWsServer


def settings(port: str, at_log: Path) -> EspAtSettings:
    return EspAtSettings(port, SSID, PASSWORD, at_log=at_log)


def profile(pki: DevelopmentPki, number: int) -> TlsSettings:
    charger = pki.chargers["CP001"]
    if number == 3:
        return tls_settings(3, pki.ca.cert_path, charger.cert_path, charger.key_path)
    return tls_settings(number, pki.ca.cert_path)


def test_the_link_refuses_settings_the_module_cannot_use(pki: DevelopmentPki) -> None:
    modem = EspAtSettings("/dev/null", SSID, PASSWORD)
    with pytest.raises(SchemeMismatch):
        EspAtLink(Endpoint("ws://csms/ocpp", "CP001"), modem, tls=profile(pki, 2))
    with pytest.raises(ValueError, match="no CA file"):  # ESP-AT has no system CAs
        EspAtLink(Endpoint("wss://csms/ocpp", "CP001"), modem, tls=tls_settings(2))
    link = EspAtLink(Endpoint("wss://csms/ocpp", "CP001", "key"), modem, tls=profile(pki, 3))
    assert link.request_headers() == []  # profile 3: the certificate, no Basic auth
    link = EspAtLink(Endpoint("wss://csms/ocpp", "CP001", "key"), modem, tls=profile(pki, 2))
    assert [name for name, _ in link.request_headers()] == ["Authorization"]


async def test_a_dropped_tls_link_reconnects(tmp_path: Path, pki: DevelopmentPki) -> None:
    at_log = tmp_path / "at.log"
    async with TlsWsServer(pki).running() as server, esp_emulator() as emu:
        base = f"wss://localhost:{server.port}/ocpp"
        link = EspAtLink(
            Endpoint(base, "CP001", "pw-123"), settings(emu.port_url, at_log), tls=profile(pki, 2)
        )
        try:
            connection = await link.connect()
            await server.accepted()
            assert server.requests[-1].headers["Authorization"].startswith("Basic ")
            emu.faults.drop_tls()
            with pytest.raises(LinkClosed):
                await asyncio.wait_for(connection.recv(), STEP)
            connection = await link.connect()
            peer = await server.accepted()
            await connection.send('[2,"2","Heartbeat",{}]')
            assert await asyncio.wait_for(peer.recv(), STEP) == '[2,"2","Heartbeat",{}]'
            await connection.close()
        finally:
            await link.aclose()
        assert esp(emu).mfg_writes == 1
    trace = at_log.read_text()
    assert trace.count("AT+WSCFG=0,") == 2 and trace.count(",2,0,0\n") == 2
    assert trace.count("AT+CIPSNTPCFG=") == 1  # the module kept its clock
    assert "pw-123" not in trace


async def test_a_close_the_charger_sends_ends_the_link_with_its_code_and_reason(
    tmp_path: Path, pki: DevelopmentPki
) -> None:
    """As on the direct link: a renewal's reconnect is told as "charger certificate renewed
    (code 1000)", not "closed by this host (code 1000) (code 1006)" (a lost link)."""
    async with TlsWsServer(pki).running() as server, esp_emulator() as emu:
        link = EspAtLink(
            Endpoint(f"wss://localhost:{server.port}/ocpp", "CP001", "pw-123"),
            settings(emu.port_url, tmp_path / "at.log"),
            tls=profile(pki, 2),
        )
        try:
            connection = await link.connect()
            await server.accepted()
            await connection.close(1000, "charger certificate renewed")
            with pytest.raises(LinkClosed) as closed:
                await asyncio.wait_for(connection.recv(), STEP)
        finally:
            await link.aclose()
    assert (closed.value.code, closed.value.reason) == (1000, "charger certificate renewed")
    assert str(closed.value) == "charger certificate renewed (code 1000)"


async def test_a_csms_certificate_from_another_ca_is_one_line_naming_the_problem(
    tmp_path: Path, pki: DevelopmentPki, other_pki: DevelopmentPki
) -> None:
    """ESP-AT answers the failed handshake with a bare ERROR; the same handshake from this
    computer names the problem and the security event (A00.FR.309), nothing in clear."""
    at_log = tmp_path / "at.log"
    async with TlsWsServer(other_pki).running() as server, esp_emulator() as emu:
        link = EspAtLink(
            Endpoint(f"wss://localhost:{server.port}/ocpp", "CP001", "pw-123"),
            settings(emu.port_url, at_log),
            tls=profile(pki, 2),
        )
        try:
            with pytest.raises(LinkError) as refused:
                await link.connect()
        finally:
            await link.aclose()
        assert not server.requests  # no upgrade request reached the CSMS
    message = str(refused.value)
    assert "\n" not in message and "AT+WSOPEN (TLS, auth_mode 2) -> ERROR" in message
    assert "from this computer says: TLS: the CSMS's certificate is not signed by" in message
    failure = refused.value.tls_failure
    assert failure is not None and failure.kind.value == "InvalidCentralSystemCertificate"
    assert "pw-123" not in at_log.read_text()


@pytest.fixture
async def csms(tmp_path: Path, pki: DevelopmentPki) -> AsyncIterator[LocalCsms]:
    """The local CSMS serving wss:// and requiring a charger certificate (profile 3)."""
    async with LocalCsms(
        port=0,
        log_path=tmp_path / "csms.jsonl",
        tls_cert=pki.csms.cert_path,
        tls_key=pki.csms.key_path,
        client_ca=pki.ca.cert_path,
    ) as server:
        yield server


async def test_a_charger_runs_profile_3_through_the_emulated_module(
    csms: LocalCsms, start_charger, tmp_path: Path, pki: DevelopmentPki
) -> None:
    at_log = tmp_path / "at.log"
    async with esp_emulator(baud=115200) as emu:
        spec = LinkSpec(
            "esp-at",
            csms.url,
            modem=EspAtSettings(emu.port_url, SSID, PASSWORD, at_log=at_log),
            tls=profile(pki, 3),
        )
        charger = await start_charger(link_spec=spec, password="AuthKey-0123456789")
        await charger.booted(timeout=30)
        answer = await charger.call("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1})
        assert answer == {"status": "Accepted"}
        await charger.received("StartTransaction", timeout=15)
        await charger.shutdown()
    trace = at_log.read_text()
    assert "AT+WSCFG=0,60,120,8192,3,0,0" in trace
    assert re.search(r'AT\+WSOPEN=0,"wss://127\.0\.0\.1:\d+/ocpp/CP001"', trace)
    assert "AT+WSHEAD=0" in trace and not re.search(r"AT\+WSHEAD=[1-9]", trace)  # no Basic
    key = pki.chargers["CP001"].key_path.read_bytes()
    body = b"".join(key.splitlines()[1:-1]).decode()
    outputs = [trace, (tmp_path / "csms.jsonl").read_text()]
    for text in outputs:
        assert body[:20] not in text and base64.b64decode(body).hex()[:32] not in text
        assert "AuthKey-0123456789" not in text
