"""TLS through ``ssl.MemoryBIO`` over a plain byte stream (as over a modem's TCP socket),
against a real TLS server on loopback: what works, and the one line for what does not."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from chargepoint.security.pki import DevelopmentPki
from chargepoint.security.tlsfiles import check_identity, client_context, server_context
from chargepoint.transport.tcp import TcpByteStream
from chargepoint.transport.tls import TlsByteStream, TlsHandshakeError
from modem.stream import StreamClosed


@asynccontextmanager
async def tls_echo_server(
    pki: DevelopmentPki, require_client: bool = False, plain: bool = False
) -> AsyncIterator[tuple[int, list[bytes]]]:
    """An echo server; ``received`` collects the raw bytes of a plain server."""
    received: list[bytes] = []
    identity = check_identity(pki.csms.cert_path, pki.csms.key_path)
    context = server_context(identity, pki.ca.cert_path if require_client else None)

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                received.append(data)
                writer.write(data.upper())
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0, ssl=None if plain else context)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield port, received


async def connect(port: int, context: ssl.SSLContext, host: str = "localhost") -> TlsByteStream:
    inner = await TcpByteStream.open("127.0.0.1", port)
    return await TlsByteStream.open(inner, context, host)


async def test_profile_2_server_verified_against_the_ca(pki: DevelopmentPki) -> None:
    async with tls_echo_server(pki) as (port, _):
        stream = await connect(port, client_context(pki.ca.cert_path))
        assert stream.version in ("TLSv1.2", "TLSv1.3")
        await stream.write(b"hello over tls")
        assert await stream.read() == b"HELLO OVER TLS"
        await stream.close()


async def test_profile_3_presents_the_charger_certificate(pki: DevelopmentPki) -> None:
    identity = check_identity(pki.chargers["CP001"].cert_path, pki.chargers["CP001"].key_path)
    async with tls_echo_server(pki, require_client=True) as (port, _):
        stream = await connect(port, client_context(pki.ca.cert_path, identity))
        await stream.write(b"mutual")
        assert await stream.read() == b"MUTUAL"
        await stream.close()


async def test_a_server_from_another_ca_is_refused_with_one_line(
    pki: DevelopmentPki, other_pki: DevelopmentPki
) -> None:
    async with tls_echo_server(pki) as (port, received):
        with pytest.raises(TlsHandshakeError) as caught:
            await connect(port, client_context(other_pki.ca.cert_path))
    assert str(caught.value) == (
        "TLS: the CSMS's certificate is not signed by a CA given with --ca-file "
        "(unable to get local issuer certificate)"
    )
    assert received == []


async def test_a_certificate_for_another_host_is_refused(pki: DevelopmentPki) -> None:
    async with tls_echo_server(pki) as (port, _):
        with pytest.raises(TlsHandshakeError, match="is for another host name"):
            await connect(port, client_context(pki.ca.cert_path), host="csms.example.org")


async def test_without_the_client_certificate_profile_3_names_it(pki: DevelopmentPki) -> None:
    async with tls_echo_server(pki, require_client=True) as (port, _):
        with pytest.raises(StreamClosed) as caught:
            stream = await connect(port, client_context(pki.ca.cert_path))
            await stream.write(b"x")  # TLS 1.3: the refusal arrives after the handshake
            await stream.read()
    assert "client certificate" in caught.value.reason


async def test_a_plain_server_is_named_and_nothing_is_sent_in_clear(
    pki: DevelopmentPki,
) -> None:
    async with tls_echo_server(pki, plain=True) as (port, received):
        with pytest.raises(TlsHandshakeError) as caught:
            await connect(port, client_context(pki.ca.cert_path))
    assert "TLS" in caught.value.reason
    assert b"".join(received).startswith(b"\x16\x03")  # only a TLS ClientHello left
