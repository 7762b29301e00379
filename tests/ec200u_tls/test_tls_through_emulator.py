"""The driver, the real emulator (TLS with Python's ssl module behind the pty) and a real
TLS server on loopback: security profiles 2 and 3, a 566 explained, a TLS link dropped and
reopened, the handshake-failure fault, the module's clock, and TLS on the host."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chargepoint.security.pki import DevelopmentPki
from chargepoint.transport.ec200u_tls import ModemTls, ModemTlsError
from chargepoint.transport.tlssettings import TlsSettings, tls_settings
from modem.emulator.control import handle_command
from modem.quectel import QuectelModem, QuectelSslSocket
from modem.stream import ByteStream

from .conftest import EchoServer, ServerFactory

PAYLOAD = bytes(range(256)) * 12  # every byte value, 0x1A and 0x1B too: 3 QSSLSENDs


@pytest.fixture
async def modem(emulator, tmp_path: Path) -> AsyncIterator[QuectelModem]:
    device = await QuectelModem.open(emulator.port_url, at_log=tmp_path / "at.log")
    await device.bring_up("internet")
    yield device
    await device.aclose()


def profile2(pki: DevelopmentPki) -> TlsSettings:
    return tls_settings(2, pki.ca.cert_path)


def profile3(pki: DevelopmentPki) -> TlsSettings:
    charger = pki.chargers["CP001"]
    return tls_settings(3, pki.ca.cert_path, charger.cert_path, charger.key_path)


async def echo(stream: ByteStream, data: bytes) -> bytes:
    await stream.write(data)
    got = b""
    while len(got) < len(data):
        chunk = await asyncio.wait_for(stream.read(), 10)
        assert chunk, "stream ended early"
        got += chunk
    return got


async def test_profile_2_verifies_the_server_through_the_modules_tls(
    modem: QuectelModem, emulator, pki, tls_server: ServerFactory, tmp_path: Path
) -> None:
    server = await tls_server(pki)
    stream = await ModemTls(ntp_server=None).open(
        modem, "localhost", server.port, connect_id=0, ctx=1, tls=profile2(pki)
    )
    assert isinstance(stream, QuectelSslSocket)
    assert await echo(stream, PAYLOAD) == PAYLOAD
    await stream.close()
    cfg = emulator.dialect.state.sslcfg[1]
    assert (cfg["seclevel"], cfg["sni"], cfg["ignorelocaltime"], cfg["sslversion"]) == (1, 1, 0, 3)
    assert emulator.dialect.state.files["cpsim_ca.pem"] == pki.ca.cert_path.read_bytes()
    trace = (tmp_path / "at.log").read_text()
    assert 'AT+QFDEL="cpsim_ca.pem"' in trace and 'AT+QFUPL="cpsim_ca.pem",' in trace
    assert "AT+QSSLSEND=0,1460" in trace and "AT+QSSLRECV=0,1500" in trace
    assert "AT+QSSLCLOSE=0" in trace
    assert "AT+QSSLSEND=0\r" not in trace  # never the Ctrl+Z form


async def test_profile_3_presents_the_charger_certificate_and_keeps_the_key_out_of_the_log(
    modem: QuectelModem, emulator, pki, tls_server: ServerFactory, tmp_path: Path
) -> None:
    server = await tls_server(pki, client_ca=pki.ca.cert_path)
    stream = await ModemTls(ntp_server=None).open(
        modem, "127.0.0.1", server.port, connect_id=0, ctx=1, tls=profile3(pki)
    )
    assert await echo(stream, b"mutual") == b"mutual"
    await stream.close()
    assert emulator.dialect.state.sslcfg[1]["seclevel"] == 2
    key = pki.chargers["CP001"].key_path.read_text()
    body = "".join(key.splitlines()[1:-1])
    trace = (tmp_path / "at.log").read_text()
    assert 'AT+QFUPL="cpsim_key.pem",' in trace
    assert body[:40] not in trace and "PRIVATE KEY" not in trace


async def test_a_server_requiring_a_certificate_the_charger_lacks_is_a_566_explained(
    modem: QuectelModem, pki, tls_server: ServerFactory
) -> None:
    server = await tls_server(pki, client_ca=pki.ca.cert_path)
    with pytest.raises(ModemTlsError, match="566.*(want|require) a client certificate"):
        await ModemTls(ntp_server=None).open(
            modem, "127.0.0.1", server.port, connect_id=0, ctx=1, tls=profile2(pki)
        )


async def test_a_server_from_another_ca_is_a_566_with_the_precise_cause(
    modem: QuectelModem, emulator, pki, other_pki, tls_server: ServerFactory
) -> None:
    server = await tls_server(other_pki)
    with pytest.raises(ModemTlsError) as failure:
        await ModemTls(ntp_server=None).open(
            modem, "localhost", server.port, connect_id=0, ctx=1, tls=profile2(pki)
        )
    reason = str(failure.value)
    assert reason.startswith("+QSSLOPEN 566")
    assert "not signed by a CA given with --ca-file" in reason  # the host-side probe's verdict
    assert server.received == b""  # nothing sent in clear, nothing at all
    assert emulator.dialect.state.sockets == {}  # the QSSL client and the probe are closed


async def test_the_handshake_failure_fault_blames_the_module_not_the_certificates(
    modem: QuectelModem, emulator, pki, tls_server: ServerFactory
) -> None:
    server = await tls_server(pki)
    assert handle_command(emulator.faults, "tls-fail 1") == ["ok"]
    with pytest.raises(ModemTlsError, match="host's handshake with the same files works"):
        await ModemTls(ntp_server=None).open(
            modem, "localhost", server.port, connect_id=0, ctx=1, tls=profile2(pki)
        )
    stream = await ModemTls(ntp_server=None).open(  # the fault was for one open
        modem, "localhost", server.port, connect_id=0, ctx=1, tls=profile2(pki)
    )
    await stream.close()


async def test_a_dropped_tls_link_ends_the_stream_and_the_next_open_works(
    modem: QuectelModem, emulator, pki, tls_server: ServerFactory, tmp_path: Path
) -> None:
    server = await tls_server(pki)
    tls = ModemTls(ntp_server=None)
    stream = await tls.open(modem, "localhost", server.port, connect_id=0, ctx=1, tls=profile2(pki))
    assert await echo(stream, b"before") == b"before"
    assert handle_command(emulator.faults, "tls-drop 0") == ["ok"]
    assert await asyncio.wait_for(stream.read(), 10) == b""  # +QSSLURC: "closed",0
    stream = await tls.open(modem, "localhost", server.port, connect_id=0, ctx=1, tls=profile2(pki))
    assert await echo(stream, b"after") == b"after"
    await stream.close()
    trace = (tmp_path / "at.log").read_text()
    assert '+QSSLURC: "closed",0' in trace
    assert trace.count('AT+QFUPL="cpsim_ca.pem"') == 1  # prepared once per module boot


async def test_without_network_time_the_dates_are_not_checked_and_the_log_says_so(
    modem: QuectelModem, emulator, pki, tls_server: ServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    server = await tls_server(pki)
    assert handle_command(emulator.faults, "sntp-block 1") == ["ok"]
    tls = ModemTls(ntp_server="127.0.0.1")
    with caplog.at_level(logging.WARNING):
        stream = await tls.open(
            modem, "localhost", server.port, connect_id=0, ctx=1, tls=profile2(pki)
        )
    await stream.close()
    assert tls.prepared is not None and not tls.prepared.clock.is_set
    assert emulator.dialect.state.sslcfg[1]["ignorelocaltime"] == 1
    assert "validity dates are NOT checked" in caplog.text


async def test_a_clock_set_by_ntp_turns_the_date_check_on(
    modem: QuectelModem, emulator, pki, tls_server: ServerFactory
) -> None:
    server = await tls_server(pki)
    emulator.dialect.state.clock_set = False  # no NITZ came; NTP answers
    tls = ModemTls(ntp_server="127.0.0.1")
    stream = await tls.open(modem, "localhost", server.port, connect_id=0, ctx=1, tls=profile2(pki))
    await stream.close()
    assert tls.prepared is not None and tls.prepared.clock.source == "NTP"
    assert emulator.dialect.state.sslcfg[1]["ignorelocaltime"] == 0


async def test_the_emulator_keeps_the_fields_quirks_sni_0_and_no_date_check_by_default(
    modem: QuectelModem,
) -> None:
    for name, value in (("sni", "0"), ("ignorelocaltime", "1"), ("seclevel", "0")):
        response = await modem.driver.command(f'AT+QSSLCFG="{name}",2')
        assert response.value("+QSSLCFG:") == f'"{name}",2,{value}'


async def test_tls_on_the_host_over_the_modems_plain_socket(
    modem: QuectelModem, pki, other_pki, tls_server: ServerFactory, tmp_path: Path
) -> None:
    server = await tls_server(pki, client_ca=pki.ca.cert_path)
    tls = ModemTls(on_host=True)
    stream = await tls.open(modem, "127.0.0.1", server.port, connect_id=0, ctx=1, tls=profile3(pki))
    assert await echo(stream, PAYLOAD) == PAYLOAD
    await stream.close()
    trace = (tmp_path / "at.log").read_text()
    assert 'AT+QIOPEN=1,0,"TCP","127.0.0.1"' in trace and "AT+QSSL" not in trace
    other = await tls_server(other_pki)
    with pytest.raises(
        ModemTlsError, match="not signed by a CA given with --ca-file.*TLS on the host"
    ):
        await tls.open(modem, "127.0.0.1", other.port, connect_id=0, ctx=1, tls=profile3(pki))


def test_the_module_needs_a_ca_file() -> None:
    with pytest.raises(ModemTlsError, match="needs the CA"):
        asyncio.run(ModemTls().open(None, "h", 1, connect_id=0, ctx=1, tls=None))  # type: ignore[arg-type]


_ = EchoServer
