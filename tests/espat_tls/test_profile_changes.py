"""What the CSMS changes over OCPP reaches the ESP-AT module at the next connect: a
SecurityProfile raised from 1 to 2 (the same port dialled with wss:// and the CSMS
certificate verified in the module, or the fallback when it cannot be), and a charger
certificate renewed by CertificateSigned presented by the module's mutual TLS.  A whole
charger (assembly, runner, store) through the emulated module to the local CSMS (for
1 -> 2 serving ws:// and wss:// on one port: ``plain_too``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from espat.helpers import PASSWORD, SSID, esp, esp_emulator

from chargepoint.assembly import ChargerSpec, LinkSpec, assemble
from chargepoint.clocks import loop_clock
from chargepoint.core.settings import Identity
from chargepoint.csms.handlers import CsmsPolicy
from chargepoint.csms.server import Credentials, LocalCsms
from chargepoint.csms.signing_ca import load_signing_ca
from chargepoint.security import certstore
from chargepoint.security.pki import DevelopmentPki
from chargepoint.station import Station, StationOptions
from chargepoint.station.runner import Backoff, run_station
from chargepoint.transport.espat import EspAtLink, EspAtSettings
from chargepoint.transport.handshake import Endpoint
from chargepoint.transport.tlssettings import TlsSettings, tls_settings
from modem.espat import AuthMode

KEY = "0123456789abcdef0123456789abcdef"
CP = "CP001"


@contextlib.asynccontextmanager
async def charger(
    url: str, tls: TlsSettings, modem: EspAtSettings, state: Path, **config: str
) -> AsyncIterator[Station]:
    station, link = assemble(
        ChargerSpec(
            Identity(CP, serial="SN-1"),
            StationOptions(state_dir=state, config_overrides=config),
            loop_clock(),
            password=KEY,
        ),
        LinkSpec("esp-at", url, modem=modem, tls=tls),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_station(station, link, stop, Backoff(0.05, 0.2)))
    try:
        yield station
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def until(condition: Any, station: Station, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await station.changed()


def test_the_link_reads_the_endpoints_settings_at_every_connect(pki: DevelopmentPki) -> None:
    """What the module is given follows the endpoint's settings of the moment; a profile
    2 or 3 without a CA is refused, never opened with auth_mode 0 (no system CAs)."""
    cp = pki.chargers[CP]
    current = [tls_settings(1, pki.ca.cert_path, cp.cert_path, cp.key_path)]
    endpoint = Endpoint("ws://csms:9000/ocpp", CP, KEY, tls=lambda: current[0])
    link = EspAtLink(endpoint, EspAtSettings("/dev/null", SSID, PASSWORD))
    assert link.module_tls() is None and link.request_headers()[0][0] == "Authorization"
    current[0] = current[0].with_profile(2)
    files = link.module_tls()
    assert files is not None and files.auth_mode is AuthMode.VERIFY_SERVER
    assert files.ca_pem == pki.ca.cert_path.read_bytes() and files.key_pem is None
    assert endpoint.url.startswith("wss://") and "security profile 2" in link.description
    current[0] = current[0].with_profile(3)
    files = link.module_tls()
    assert files is not None and files.auth_mode is AuthMode.MUTUAL
    assert files.cert_pem == cp.cert_path.read_bytes() and link.request_headers() == []
    current[0] = TlsSettings(2)  # no CA: the module has nothing to verify with
    with pytest.raises(ValueError, match="security profile 2 through ESP-AT: no CA file"):
        link.module_tls()


def tls_version(csms: LocalCsms) -> str | None:
    """What the local CSMS sees of the charger's connection: its TLS version, or None."""
    transport = csms.sessions[CP]._connection.ws.transport
    ssl_object = transport.get_extra_info("ssl_object")
    return None if ssl_object is None else str(ssl_object.version())


@pytest.mark.parametrize("csms_ca", ["same", "other"])
async def test_profile_1_raised_to_2_reconnects_over_wss_with_the_certificate_verified(
    pki: DevelopmentPki,
    other_pki: DevelopmentPki,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    csms_ca: str,
) -> None:
    """The local CSMS serves ws:// and wss:// on one port.  With a certificate the CA
    signs, the raised profile is kept and the charger's connection is TLS; with one from
    another CA the module refuses it (nothing goes over that TLS) and the charger falls
    back to 1 (WP A05.FR.08)."""
    caplog.set_level(logging.INFO)
    server = pki if csms_ca == "same" else other_pki
    at_log = tmp_path / "at.log"
    csms = LocalCsms(
        port=0,
        log_path=tmp_path / "csms.jsonl",
        credentials=Credentials(shared=KEY),
        tls_cert=server.csms.cert_path,
        tls_key=server.csms.key_path,
        plain_too=True,
    )
    async with csms, esp_emulator() as emu:
        modem = EspAtSettings(emu.port_url, SSID, PASSWORD, at_log=at_log)
        tls = tls_settings(1, pki.ca.cert_path)  # profile 1; the CA makes 2 possible (A05.FR.03)
        url = csms.url.replace("wss://", "ws://")
        async with charger(url, tls, modem, tmp_path / "s") as station:
            await until(lambda: station.online, station)
            assert tls_version(csms) is None
            change = {"key": "SecurityProfile", "value": "2"}
            answer = await csms.call(CP, "ChangeConfiguration", change)
            assert answer == {"status": "Accepted"}
            await until(lambda: not station.online, station)
            await until(lambda: station.online, station)
            if csms_ca == "same":
                assert station.security_profile() == 2
                assert tls_version(csms) in ("TLSv1.2", "TLSv1.3")
                answer = await csms.call(CP, "GetConfiguration", {"key": ["SecurityProfile"]})
                assert answer["configurationKey"][0]["value"] == "2"
            else:
                assert station.security_profile() == 1  # WP A05.FR.08
                assert tls_version(csms) is None
        mfg_writes = esp(emu).mfg_writes
    assert mfg_writes == 1  # wss_ca, once
    trace = at_log.read_text()
    first, _, after_raise = trace.partition('AT+SYSMFG=2,"wss_ca","wss_ca.0",8,')
    assert ",2,0,0\n" not in first  # profile 1: plain ws://, no auth_mode
    assert 'AT+WSOPEN=0,"ws://127.0.0.1:' in first
    assert "AT+CIPSNTPCFG=1,0," in after_raise  # the clock before the verifying open
    assert after_raise.index("AT+CIPSNTPCFG") < after_raise.index('AT+WSOPEN=0,"wss://')
    assert ",8192,2,0,0\n" in after_raise  # AT+WSCFG auth_mode 2
    assert KEY not in trace
    if csms_ca == "other":
        assert "cannot connect with SecurityProfile 2" in caplog.text
        assert "the same handshake from this computer says" in caplog.text
        assert "not signed by a CA given with --ca-file" in caplog.text


async def test_a_renewed_charger_certificate_is_presented_at_the_next_connect(
    pki: DevelopmentPki, tmp_path: Path
) -> None:
    """Profile 3 with the PKI's first certificate; ExtendedTriggerMessage -> SignCertificate
    -> CertificateSigned (the local CSMS as signing CA); after a drop the module presents
    the new certificate: the CSMS sees its serial.  Only wss_cert and wss_key are rewritten."""
    first = pki.chargers[CP]
    tls = tls_settings(3, pki.ca.cert_path, first.cert_path, first.key_path)
    policy = CsmsPolicy(signing_ca=load_signing_ca(pki.ca.cert_path, pki.ca.key_path))
    at_log = tmp_path / "at.log"
    async with (
        LocalCsms(
            "127.0.0.1",
            0,
            policy=policy,
            tls_cert=pki.csms.cert_path,
            tls_key=pki.csms.key_path,
            client_ca=pki.ca.cert_path,
        ) as csms,
        esp_emulator() as emu,
    ):
        modem = EspAtSettings(emu.port_url, SSID, PASSWORD, at_log=at_log)
        async with charger(csms.url, tls, modem, tmp_path / "s", CpoName="ACME") as station:
            await until(lambda: station.online, station)
            assert int(csms.client_serials[CP], 16) == first.cert.serial_number
            writes_before = esp(emu).mfg_writes
            root = pki.ca.cert_path.read_text()
            install = {"certificateType": "CentralSystemRootCertificate", "certificate": root}
            assert (await csms.call(CP, "InstallCertificate", install))["status"] == "Accepted"
            trigger = {"requestedMessage": "SignChargePointCertificate"}
            assert (await csms.call(CP, "ExtendedTriggerMessage", trigger))["status"] == "Accepted"
            sent = await csms.frames.wait_for(
                lambda f: f.action == "CertificateSigned" and f.direction == "sent", 20
            )
            await csms.frames.wait_for(
                lambda f: f.message_type == 3 and f.message[1] == sent.message[1], 20
            )
            renewed = certstore.load_chain(station.core.security_objects["cp:cert"])[0]
            await csms.disconnect(CP)
            await until(lambda: not station.online, station)
            await until(lambda: station.online, station)
            presented = int(csms.client_serials[CP], 16)
            writes_after = esp(emu).mfg_writes
    assert presented == renewed.serial_number != first.cert.serial_number
    assert (writes_before, writes_after) == (3, 5)  # CA, cert, key; then cert and key only
    trace = at_log.read_text()
    assert trace.count('AT+SYSMFG=2,"wss_ca"') == 1
    assert trace.count('AT+SYSMFG=2,"wss_cert"') == 2 and trace.count('AT+SYSMFG=2,"wss_key"') == 2
    assert trace.count(",8192,3,0,0\n") >= 2  # AT+WSCFG auth_mode 3 at each connect
    new_key = (tmp_path / "s" / "tls" / "charger-key.pem").read_text()
    body = "".join(new_key.splitlines()[1:-1])
    assert body[:24] not in trace
