"""A real TLS WebSocket server on loopback standing in for the CSMS, and the PKIs it uses."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from espat.helpers import STEP
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from chargepoint.security.pki import DevelopmentPki, init_pki
from chargepoint.security.tlsfiles import check_identity, server_context


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevelopmentPki:
    return init_pki(tmp_path_factory.mktemp("pki"), ("CP001",), cpo_name="ACME")


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> DevelopmentPki:
    """Another CA: a CSMS certificate of it must be refused by a module trusting ``pki``."""
    return init_pki(tmp_path_factory.mktemp("other-pki"), ("CP001",))


class TlsWsServer:
    """wss:// on 127.0.0.1; ``client_ca``: a client certificate signed by it is required."""

    def __init__(self, identity: DevelopmentPki, client_ca: Path | None = None) -> None:
        csms = identity.csms
        self.context = server_context(check_identity(csms.cert_path, csms.key_path), client_ca)
        self._accepted: asyncio.Queue[ServerConnection] = asyncio.Queue()
        self.requests: list[Request] = []
        self.port = 0

    def url(self, host: str = "localhost", path: str = "/ocpp/CP001") -> str:
        return f"wss://{host}:{self.port}{path}"

    async def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        self.requests.append(request)
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        await self._accepted.put(ws)
        await ws.wait_closed()

    async def accepted(self) -> ServerConnection:
        return await asyncio.wait_for(self._accepted.get(), STEP)

    @staticmethod
    def peer_subject(ws: ServerConnection) -> str | None:
        """The CN of the client certificate the connection presented, if any."""
        ssl_object = ws.transport.get_extra_info("ssl_object")
        assert isinstance(ssl_object, ssl.SSLObject)
        der = ssl_object.getpeercert(binary_form=True)
        if not der:
            return None
        names = x509.load_der_x509_certificate(der).subject
        return str(names.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[TlsWsServer]:
        async with serve(
            self._handler,
            "127.0.0.1",
            0,
            ssl=self.context,
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            process_request=self._process_request,
        ) as server:
            self.port = server.sockets[0].getsockname()[1]
            yield self
