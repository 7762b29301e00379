"""A failed TLS handshake classified as the Security Whitepaper's event (security/tlsfailure.py),
on real handshakes with a local TLS server: TlsByteStream (the sans-I/O direct link and TLS
on the host over a modem) and the direct link in both flavours (LinkError.tls_failure)."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import ssl
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from chargepoint.security.pki import DevelopmentPki, Issued, _write, issue
from chargepoint.security.tlsfailure import TlsFailureKind
from chargepoint.security.tlsfiles import client_context
from chargepoint.transport.base import LinkError
from chargepoint.transport.direct import DirectLink
from chargepoint.transport.handshake import Endpoint
from chargepoint.transport.tcp import TcpByteStream
from chargepoint.transport.tls import TlsByteStream, TlsHandshakeError
from chargepoint.transport.tlssettings import tls_settings

K = TlsFailureKind


def server_context(issued: Issued) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(issued.cert_path), str(issued.key_path))
    return context


@contextlib.contextmanager
def tls_server(context: ssl.SSLContext) -> Iterator[int]:
    """A blocking TLS server in a thread (it sends its alerts before it closes); its port.
    It serves connections until the block ends."""
    listener = socket_listener()
    port = listener.getsockname()[1]
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            with (
                conn,
                contextlib.suppress(OSError),
                context.wrap_socket(conn, server_side=True) as tls,
            ):
                tls.recv(1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        done.set()
        listener.close()
        thread.join(5)


def socket_listener() -> socket.socket:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.05)
    return listener


async def handshake(port: int, context: ssl.SSLContext, host: str = "localhost") -> None:
    inner = await TcpByteStream.open("127.0.0.1", port, timeout=10)
    stream = await TlsByteStream.open(inner, context, host)
    await stream.close()


async def failure_of(port: int, context: ssl.SSLContext, host: str = "localhost") -> object:
    with pytest.raises(TlsHandshakeError) as caught:
        await handshake(port, context, host)
    return caught.value.tls_failure


def charger_context(pki: DevelopmentPki) -> ssl.SSLContext:
    return client_context(pki.ca.cert_path)


async def test_a_csms_certificate_from_another_ca_is_untrusted(
    pki: DevelopmentPki, other_pki: DevelopmentPki
) -> None:
    with tls_server(server_context(other_pki.csms)) as port:
        failure = await failure_of(port, charger_context(pki))
    assert failure is not None
    assert failure.kind is K.CSMS_CERTIFICATE
    assert failure.tech_info.startswith("untrusted: ")


async def test_a_csms_certificate_for_another_host_is_the_wrong_host(pki: DevelopmentPki) -> None:
    with tls_server(server_context(pki.csms)) as port:
        failure = await failure_of(port, charger_context(pki), host="csms.example")
    assert failure is not None and failure.kind is K.CSMS_CERTIFICATE
    assert failure.tech_info.startswith("wrong host: ")


async def test_an_expired_csms_certificate_is_expired(pki: DevelopmentPki, tmp_path: Path) -> None:
    key = load_pem_private_key((pki.directory / "ca-key.pem").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=800)
    cert, cert_key = issue(
        pki.ca.cert, key, "localhost", server_names=("localhost",), days=30, now=past
    )
    expired = _write(tmp_path, "expired", cert, cert_key)
    with tls_server(server_context(expired)) as port:
        failure = await failure_of(port, charger_context(pki))
    assert failure is not None and failure.kind is K.CSMS_CERTIFICATE
    assert failure.tech_info.startswith("expired: ")


async def test_a_csms_offering_only_tls_1_1_is_an_invalid_tls_version(pki: DevelopmentPki) -> None:
    server = server_context(pki.csms)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        server.minimum_version = ssl.TLSVersion.TLSv1
        server.maximum_version = ssl.TLSVersion.TLSv1_1
    server.set_ciphers("DEFAULT:@SECLEVEL=0")
    with tls_server(server) as port:
        failure = await failure_of(port, charger_context(pki))
    assert failure is not None and failure.kind is K.TLS_VERSION


async def test_a_csms_offering_no_allowed_suite_is_an_invalid_cipher_suite(
    pki: DevelopmentPki,
) -> None:
    server = server_context(pki.csms)
    server.maximum_version = ssl.TLSVersion.TLSv1_2
    server.set_ciphers("ECDHE-ECDSA-AES128-SHA")  # SHA-1 CBC: not in the charger's list
    with tls_server(server) as port:
        failure = await failure_of(port, charger_context(pki))
    assert failure is not None and failure.kind is K.CIPHER_SUITE


async def test_a_tls_1_2_csms_wanting_a_client_certificate_is_not_a_cipher_problem(
    pki: DevelopmentPki,
) -> None:
    """The same handshake_failure alert as above, but after the ServerHello."""
    server = server_context(pki.csms)
    server.maximum_version = ssl.TLSVersion.TLSv1_2
    server.verify_mode = ssl.CERT_REQUIRED
    server.load_verify_locations(str(pki.ca.cert_path))
    with tls_server(server) as port:
        failure = await failure_of(port, charger_context(pki))
    assert failure is not None and failure.kind is K.CLIENT_CERTIFICATE_REFUSED


@pytest.mark.parametrize("flavour", ["websockets", "sansio"])
async def test_the_direct_link_error_carries_the_failure(
    pki: DevelopmentPki, other_pki: DevelopmentPki, flavour: str
) -> None:
    with tls_server(server_context(other_pki.csms)) as port:
        tls = tls_settings(2, pki.ca.cert_path)
        endpoint = Endpoint(f"wss://localhost:{port}/ocpp", "CP001", "k" * 16, tls=tls)
        link = DirectLink(endpoint, flavour, open_timeout=10, proxy=None)  # type: ignore[arg-type]
        with pytest.raises(LinkError) as caught:
            await link.connect()
    failure = caught.value.tls_failure
    assert failure is not None and failure.kind is K.CSMS_CERTIFICATE
    assert "unable to get local issuer certificate" in failure.tech_info


async def test_a_plain_connect_failure_is_no_tls_failure() -> None:
    endpoint = Endpoint("ws://127.0.0.1:9/ocpp", "CP001")
    with pytest.raises(LinkError) as caught:
        await DirectLink(endpoint, "sansio", open_timeout=5).connect()
    assert caught.value.tls_failure is None


@pytest.mark.parametrize("flavour", ["websockets", "sansio"])
async def test_the_direct_link_tells_a_cipher_refusal_from_a_wanted_certificate(
    pki: DevelopmentPki, flavour: str
) -> None:
    """The same TLS 1.2 handshake_failure alert; websockets' flavour finds out with a probe."""
    no_suite = server_context(pki.csms)
    no_suite.maximum_version = ssl.TLSVersion.TLSv1_2
    no_suite.set_ciphers("ECDHE-ECDSA-AES128-SHA")
    wants_cert = server_context(pki.csms)
    wants_cert.maximum_version = ssl.TLSVersion.TLSv1_2
    wants_cert.verify_mode = ssl.CERT_REQUIRED
    wants_cert.load_verify_locations(str(pki.ca.cert_path))
    found = []
    for server in (no_suite, wants_cert):
        with tls_server(server) as port:
            tls = tls_settings(2, pki.ca.cert_path)
            endpoint = Endpoint(f"wss://localhost:{port}/ocpp", "CP001", "k" * 16, tls=tls)
            link = DirectLink(endpoint, flavour, open_timeout=10, proxy=None)  # type: ignore[arg-type]
            with pytest.raises(LinkError) as caught:
                await link.connect()
        failure = caught.value.tls_failure
        found.append((failure.kind if failure else None, "cipher suite" in str(caught.value)))
    assert found == [(K.CIPHER_SUITE, True), (K.CLIENT_CERTIFICATE_REFUSED, False)]
