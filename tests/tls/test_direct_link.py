"""The direct link over wss:// against the local CSMS in TLS mode, in both flavours."""

from __future__ import annotations

import asyncio
import json

import pytest

from chargepoint.csms.server import Credentials, LocalCsms
from chargepoint.security.pki import DevelopmentPki
from chargepoint.transport.base import LinkError
from chargepoint.transport.direct import DirectLink
from chargepoint.transport.handshake import Endpoint
from chargepoint.transport.tlssettings import TlsSettings, tls_settings

KEY = "0123456789abcdef0123456789abcdef"
FLAVOURS = ["websockets", "sansio"]


def boot() -> str:
    payload = {"chargePointVendor": "v", "chargePointModel": "m"}
    return json.dumps([2, "1", "BootNotification", payload])


async def round_trip(link: DirectLink) -> str:
    connection = await link.connect()
    try:
        await connection.send(boot())
        answer = json.loads(await connection.recv())
    finally:
        await connection.close()
    return str(answer[2]["status"])


def profile(pki: DevelopmentPki, number: int, cp: str = "CP001") -> TlsSettings:
    identity = pki.chargers[cp] if number == 3 else None
    return tls_settings(
        number,
        pki.ca.cert_path,
        identity.cert_path if identity else None,
        identity.key_path if identity else None,
    )


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_profile_1_is_plain_ws_with_basic_auth(flavour: str) -> None:
    async with LocalCsms(port=0, credentials=Credentials(shared=KEY)) as csms:
        link = DirectLink(Endpoint(csms.url, "CP001", KEY, tls=TlsSettings(1)), flavour)  # type: ignore[arg-type]
        assert await round_trip(link) == "Accepted"


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_profile_2_is_tls_with_basic_auth(pki: DevelopmentPki, flavour: str) -> None:
    csms = LocalCsms(
        port=0,
        credentials=Credentials(shared=KEY),
        tls_cert=pki.csms.cert_path,
        tls_key=pki.csms.key_path,
    )
    async with csms:
        assert csms.url.startswith("wss://")
        endpoint = Endpoint(csms.url, "CP001", KEY, tls=profile(pki, 2))
        assert await round_trip(DirectLink(endpoint, flavour)) == "Accepted"  # type: ignore[arg-type]
        wrong = Endpoint(csms.url, "CP001", KEY[::-1], tls=profile(pki, 2))
        with pytest.raises(LinkError, match="401"):
            await round_trip(DirectLink(wrong, flavour))  # type: ignore[arg-type]


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_profile_3_is_mutual_tls_without_basic_auth(
    pki: DevelopmentPki, flavour: str
) -> None:
    csms = LocalCsms(
        port=0,
        credentials=Credentials(shared=KEY),
        tls_cert=pki.csms.cert_path,
        tls_key=pki.csms.key_path,
        client_ca=pki.ca.cert_path,
    )
    async with csms:
        endpoint = Endpoint(csms.url, "CP001", KEY, tls=profile(pki, 3))
        assert "Authorization" not in dict(endpoint.request_headers())
        assert await round_trip(DirectLink(endpoint, flavour)) == "Accepted"  # type: ignore[arg-type]
        # CP002's certificate, presented as CP001: the CN is not the id
        other = Endpoint(csms.url, "CP001", tls=profile(pki, 3, "CP002"))
        with pytest.raises(LinkError, match="403"):
            await round_trip(DirectLink(other, flavour))  # type: ignore[arg-type]


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_profile_3_without_a_certificate_is_refused_naming_it(
    pki: DevelopmentPki, flavour: str
) -> None:
    csms = LocalCsms(
        port=0,
        tls_cert=pki.csms.cert_path,
        tls_key=pki.csms.key_path,
        client_ca=pki.ca.cert_path,
    )
    async with csms:
        endpoint = Endpoint(csms.url, "CP001", KEY, tls=profile(pki, 2))
        with pytest.raises(LinkError) as caught:
            await round_trip(DirectLink(endpoint, flavour))  # type: ignore[arg-type]
    message = str(caught.value)
    assert "client certificate" in message and "\n" not in message


class RecordingServer:
    """A TCP server that keeps every byte a client sends (to prove none is in clear)."""

    def __init__(self, inner_port: int) -> None:
        self.inner_port = inner_port
        self.received = bytearray()

    async def relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.inner_port)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, keep: bool) -> None:
            while data := await src.read(65536):
                if keep:
                    self.received += data
                dst.write(data)
                await dst.drain()
            dst.close()

        await asyncio.gather(
            pump(reader, up_writer, True), pump(up_reader, writer, False), return_exceptions=True
        )


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_a_csms_certificate_from_another_ca_is_refused_in_one_line(
    pki: DevelopmentPki, other_pki: DevelopmentPki, flavour: str
) -> None:
    csms = LocalCsms(
        port=0,
        credentials=Credentials(shared=KEY),
        tls_cert=other_pki.csms.cert_path,
        tls_key=other_pki.csms.key_path,
    )
    async with csms:
        recorder = RecordingServer(csms.port)
        server = await asyncio.start_server(recorder.relay, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            url = f"wss://127.0.0.1:{port}/ocpp"
            endpoint = Endpoint(url, "CP001", KEY, tls=profile(pki, 2))
            with pytest.raises(LinkError) as caught:
                await round_trip(DirectLink(endpoint, flavour))  # type: ignore[arg-type]
    message = str(caught.value)
    assert "not signed by a CA given with --ca-file" in message
    assert "\n" not in message and "plain ws://" not in message
    assert recorder.received  # the ClientHello went out ...
    assert b"Authorization" not in recorder.received and b"GET " not in recorder.received
    assert b"CP001" not in recorder.received  # ... and nothing of the upgrade request


def test_scheme_must_match_the_profile() -> None:
    with pytest.raises(ValueError, match="wss://"):
        TlsSettings(2).check_url("ws://h/ocpp")
    with pytest.raises(ValueError, match="ws://"):
        TlsSettings(1).check_url("wss://h/ocpp")


def test_a_raised_profile_dials_the_same_host_with_tls(pki: DevelopmentPki) -> None:
    current = [TlsSettings(1, pki.ca.cert_path)]
    endpoint = Endpoint("ws://h:9000/ocpp", "CP001", KEY, tls=lambda: current[0])
    assert endpoint.url == "ws://h:9000/ocpp/CP001"
    current[0] = current[0].with_profile(2)
    assert endpoint.url == "wss://h:9000/ocpp/CP001"


def test_https_transfers_trust_the_same_ca(pki: DevelopmentPki) -> None:
    """Firmware and diagnostics over https verify the server against --ca-file too."""
    endpoint = Endpoint("wss://h/ocpp", "CP001", KEY, tls=profile(pki, 2))
    transfer = DirectLink(endpoint).file_transfer()
    context = getattr(transfer, "ssl_context", None)
    assert context is not None
    subjects = [dict(item[0] for item in ca["subject"]) for ca in context.get_ca_certs()]
    assert [subject["commonName"] for subject in subjects] == ["cpsim development CA"]


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_a_wss_url_on_a_plain_ws_server_asks_whether_it_is_tls_at_all(
    pki: DevelopmentPki, flavour: str
) -> None:
    """The plain server ends TCP during the TLS handshake: no client certificate is in
    question there, and both flavours say so."""
    async with LocalCsms(port=0) as csms:
        url = csms.url.replace("ws://", "wss://")
        link = DirectLink(Endpoint(url, "CP001", KEY, tls=profile(pki, 2)), flavour, proxy=None)  # type: ignore[arg-type]
        with pytest.raises(LinkError) as caught:
            await link.connect()
    message = str(caught.value)
    assert "is it TLS at all" in message and "client certificate" not in message
    assert "\n" not in message
