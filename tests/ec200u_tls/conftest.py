"""Real TLS servers on loopback and a development PKI for the EC200U TLS tests.

``tls_server`` is an asyncio echo server with Python's ssl module (the CSMS
side): its certificate comes from ``init_pki`` (``localhost`` and
``127.0.0.1``), and with ``client_ca`` it requires a client certificate
(security profile 3).  ``other_pki`` is a second CA, for "a server from another CA".
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from transfers.conftest import FileServer, _serve

from chargepoint.security.pki import DevelopmentPki, init_pki
from chargepoint.security.tlsfiles import check_identity, server_context
from modem.emulator import run_emulator
from modem.emulator.config import Timing


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevelopmentPki:
    return init_pki(tmp_path_factory.mktemp("pki"), ("CP001",))


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> DevelopmentPki:
    return init_pki(tmp_path_factory.mktemp("other-pki"), ("CP001",))


@dataclass
class EchoServer:
    port: int
    connections: int = 0
    received: bytearray = field(default_factory=bytearray)
    clients: list[asyncio.StreamWriter] = field(default_factory=list)


ServerFactory = Callable[..., Awaitable[EchoServer]]


@pytest.fixture
async def tls_server() -> AsyncIterator[ServerFactory]:
    servers: list[asyncio.Server] = []

    async def start(pki: DevelopmentPki, client_ca: Path | None = None) -> EchoServer:
        context = server_context(check_identity(pki.csms.cert_path, pki.csms.key_path), client_ca)
        state = EchoServer(0)

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            state.connections += 1
            state.clients.append(writer)
            with contextlib.suppress(OSError, ssl.SSLError):
                while data := await reader.read(4096):
                    state.received += data
                    writer.write(data)
                    await writer.drain()
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
        servers.append(server)
        state.port = server.sockets[0].getsockname()[1]
        return state

    yield start
    for server in servers:
        server.close()
        with contextlib.suppress(Exception):
            await server.wait_closed()


@pytest.fixture
async def emulator() -> AsyncIterator:
    async with run_emulator("ec200u", baud=0, timing=Timing().scaled(0.05)) as emu:
        yield emu


@pytest.fixture
def https_files(pki: DevelopmentPki) -> Iterator[FileServer]:
    """The transfer tests' HTTP file server over TLS, with the development PKI's CSMS
    certificate (for 127.0.0.1)."""
    context = server_context(check_identity(pki.csms.cert_path, pki.csms.key_path))
    yield from _serve(context)
