"""Through the emulated EC200U, a CSMS certificate from another CA ends the connect with a
LinkError whose ``tls_failure`` is InvalidCentralSystemCertificate (WP A00.FR.309): with
the module's TLS (``+QSSLOPEN: <id>,566``, named by the host-side probe) and with TLS on
the host over the module's TCP socket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chargepoint.assembly import ChargerSpec, LinkSpec, assemble
from chargepoint.core.settings import Identity
from chargepoint.csms.server import Credentials, LocalCsms
from chargepoint.security.pki import DevelopmentPki
from chargepoint.security.tlsfailure import TlsFailureKind
from chargepoint.station import StationOptions
from chargepoint.transport.base import LinkError
from chargepoint.transport.ec200u import ModemSettings
from chargepoint.transport.ec200u_tls import ModemTls, ModemTlsError
from chargepoint.transport.tlssettings import tls_settings
from modem.quectel import QuectelModem

from .conftest import ServerFactory

KEY = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("on_host", [False, True])
async def test_a_csms_from_another_ca_is_an_invalid_central_system_certificate(
    pki: DevelopmentPki, other_pki: DevelopmentPki, emulator, tmp_path: Path, on_host: bool
) -> None:
    csms = LocalCsms(
        port=0,
        credentials=Credentials(shared=KEY),
        tls_cert=other_pki.csms.cert_path,
        tls_key=other_pki.csms.key_path,
    )
    async with csms:
        _, link = assemble(
            ChargerSpec(
                Identity("CP001", serial="SN-1"),
                StationOptions(state_dir=tmp_path / "s"),
                password=KEY,
            ),
            LinkSpec(
                "ec200u",
                csms.url,
                modem=ModemSettings(emulator.port_url, ntp_server=None, tls_on_host=on_host),
                tls=tls_settings(2, pki.ca.cert_path),
            ),
        )
        try:
            with pytest.raises(LinkError) as caught:
                await link.connect()
        finally:
            await link.aclose()
    failure = caught.value.tls_failure
    assert failure is not None and failure.kind is TlsFailureKind.CSMS_CERTIFICATE
    assert failure.tech_info.startswith("untrusted: ")
    assert ("566" in str(caught.value)) is not on_host


@pytest.fixture
async def modem(emulator, tmp_path: Path) -> AsyncIterator[QuectelModem]:
    device = await QuectelModem.open(emulator.port_url, at_log=tmp_path / "at.log")
    await device.bring_up("internet")
    yield device
    await device.aclose()


async def test_a_ca_file_rewritten_in_place_is_given_to_the_module_again(
    modem: QuectelModem,
    pki: DevelopmentPki,
    other_pki: DevelopmentPki,
    tls_server: ServerFactory,
    tmp_path: Path,
) -> None:
    """The installed CSMS roots live in one file the station rewrites when they change
    (InstallCertificate, AdditionalRootCertificateCheck's fallback): the module must get
    the new content, not keep what it was given for that path."""
    server = await tls_server(pki)
    roots = tmp_path / "installed-roots.pem"
    roots.write_bytes(other_pki.ca.cert_path.read_bytes())
    tls = ModemTls(ntp_server=None)
    with pytest.raises(ModemTlsError, match="566"):
        await tls.open(
            modem, "localhost", server.port, connect_id=0, ctx=1, tls=tls_settings(2, roots)
        )
    roots.write_bytes(pki.ca.cert_path.read_bytes())
    stream = await tls.open(
        modem, "localhost", server.port, connect_id=0, ctx=1, tls=tls_settings(2, roots)
    )
    await stream.close()
    assert (tmp_path / "at.log").read_text().count('AT+QFUPL="cpsim_ca.pem"') == 2
