"""The Sans-I/O TLS client the direct link's WebSocketOverTransport runs for wss://, fed
by hand against a server SSLObject: bytes in, bytes out, no socket."""

from __future__ import annotations

import contextlib
import ssl

import pytest

from chargepoint.security.pki import DevelopmentPki
from chargepoint.security.tlsfailure import TlsFailureKind
from chargepoint.security.tlsfiles import client_context
from chargepoint.transport.tls import TlsHandshakeError
from chargepoint.transport.tlsbio import TlsClientSession, TlsSessionState


class MemoryServer:
    def __init__(self, pki: DevelopmentPki) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(pki.csms.cert_path), str(pki.csms.key_path))
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.ssl = context.wrap_bio(self.incoming, self.outgoing, server_side=True)

    def step(self, data: bytes) -> bytes:
        self.incoming.write(data)
        with contextlib.suppress(ssl.SSLWantReadError):
            self.ssl.do_handshake()
        return self.outgoing.read()


def handshake(client: TlsClientSession, server: MemoryServer) -> None:
    for _ in range(10):
        done = client.handshake()
        answer = server.step(client.records())
        if done and not answer:
            return
        client.receive(answer)
    raise AssertionError("no handshake in 10 rounds")


def test_data_flows_only_after_the_handshake(pki: DevelopmentPki) -> None:
    client = TlsClientSession(client_context(pki.ca.cert_path), "localhost")
    with pytest.raises(ssl.SSLError):
        client.write(b"GET /ocpp/CP001 HTTP/1.1\r\n")  # nothing in clear, nor early
    handshake(client, server := MemoryServer(pki))
    assert client.state is TlsSessionState.OPEN
    client.write(b"hello")
    server.incoming.write(client.records())
    assert server.ssl.read(100) == b"hello"
    server.ssl.write(b"welcome")
    client.receive(server.outgoing.read())
    assert client.read() == b"welcome"
    with contextlib.suppress(ssl.SSLWantReadError):  # no answer awaited
        server.ssl.unwrap()  # close_notify
    client.receive(server.outgoing.read())
    assert client.read() == b"" and client.state is TlsSessionState.ENDED


def test_a_certificate_from_another_ca_is_refused_with_an_alert(
    pki: DevelopmentPki, other_pki: DevelopmentPki
) -> None:
    client = TlsClientSession(client_context(pki.ca.cert_path), "localhost")
    with pytest.raises(TlsHandshakeError) as caught:
        handshake(client, MemoryServer(other_pki))
    assert "not signed by a CA given with --ca-file" in caught.value.reason
    failure = caught.value.tls_failure
    assert failure is not None and failure.kind is TlsFailureKind.CSMS_CERTIFICATE
    assert client.records()  # the alert that tells the CSMS why
    assert client.state is TlsSessionState.ENDED
