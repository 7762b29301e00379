"""``LocalCsms(plain_too=True)``: ws:// and wss:// on one port, told apart by the first byte
(a TLS handshake record is 0x16), for a charger raised from profile 1 to 2 (WP A05)."""

from __future__ import annotations

import asyncio
import base64
import ssl
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from chargepoint.csms.server import Credentials, LocalCsms
from chargepoint.security.pki import DevelopmentPki, init_pki
from chargepoint.transport.tlssettings import tls_settings

KEY = "00112233445566778899aabbccddeeff"
OCPP = [Subprotocol("ocpp1.6")]
AUTH = {"Authorization": "Basic " + base64.b64encode(f"CP1:{KEY}".encode()).decode()}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevelopmentPki:
    return init_pki(tmp_path_factory.mktemp("pki"), ("CP1",))


def one_port(pki: DevelopmentPki) -> LocalCsms:
    return LocalCsms(
        port=0,
        credentials=Credentials(shared=KEY),
        tls_cert=pki.csms.cert_path,
        tls_key=pki.csms.key_path,
        plain_too=True,
    )


def tls_version(csms: LocalCsms) -> str | None:
    transport = csms.sessions["CP1"]._connection.ws.transport
    ssl_object = transport.get_extra_info("ssl_object")
    return None if ssl_object is None else str(ssl_object.version())


async def test_ws_and_wss_on_one_port_both_with_basic_auth(pki: DevelopmentPki) -> None:
    async with one_port(pki) as csms:
        port = csms.port
        url = f"ws://127.0.0.1:{port}/ocpp/CP1"
        async with connect(url, subprotocols=OCPP, additional_headers=AUTH):
            await csms.wait_connected("CP1")
            assert tls_version(csms) is None
        context = tls_settings(2, pki.ca.cert_path).context()
        async with connect(
            f"wss://127.0.0.1:{port}/ocpp/CP1",
            subprotocols=OCPP,
            additional_headers=AUTH,
            ssl=context,
        ):
            await csms.wait_connected("CP1")
            assert tls_version(csms) in ("TLSv1.2", "TLSv1.3")
        with pytest.raises(InvalidStatus) as refused:  # Basic auth still checked over TLS
            async with connect(
                f"wss://127.0.0.1:{port}/ocpp/CP1",
                subprotocols=OCPP,
                ssl=context,
            ):
                pass
        assert refused.value.response.status_code == 401


async def test_a_failed_handshake_or_a_silent_client_leave_the_port_working(
    pki: DevelopmentPki, tmp_path: Path
) -> None:
    other = init_pki(tmp_path / "other", ("CP1",))
    async with one_port(pki) as csms:
        port = csms.port
        untrusting = tls_settings(2, other.ca.cert_path).context()
        with pytest.raises(ssl.SSLCertVerificationError):
            async with connect(f"wss://127.0.0.1:{port}/ocpp/CP1", ssl=untrusting):
                pass
        _, silent = await asyncio.open_connection("127.0.0.1", port)
        _, closed = await asyncio.open_connection("127.0.0.1", port)
        closed.close()  # EOF before a first byte
        url = f"ws://127.0.0.1:{port}/ocpp/CP1"
        async with connect(url, subprotocols=OCPP, additional_headers=AUTH):
            await csms.wait_connected("CP1")
        silent.close()
