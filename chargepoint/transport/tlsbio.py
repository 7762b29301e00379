"""A TLS client without I/O: network bytes in, plaintext out, and the other way round.

:class:`~.tls.TlsByteStream` drives an ``ssl.SSLObject`` over an awaitable byte
stream (a modem's socket); :class:`TlsClientSession` is the same ``ssl.MemoryBIO``
pair with nothing to await, for a callback-driven asyncio ``Protocol``
(:class:`~.wsprotocol.WebSocketOverTransport`): whoever owns the socket feeds
:meth:`TlsClientSession.receive`, steps :meth:`TlsClientSession.handshake`, reads
:meth:`TlsClientSession.read` and writes :meth:`TlsClientSession.records` out.

Why not asyncio's own TLS transport (``create_connection(ssl=...)``): its
``SSLProtocol`` allocates a 256 KiB read buffer per connection, four times what a
whole charger of a fleet costs; the memory BIOs here grow only with what is in
flight.  And here the ServerHello is seen, so a TLS 1.2 ``handshake_failure``
alert is told apart (no cipher suite in common, or a client certificate wanted:
:func:`~chargepoint.security.tlsfailure.classify_ssl_error`), which asyncio hides.
"""

from __future__ import annotations

import contextlib
import ssl
from enum import Enum

from chargepoint.security.tlsfailure import TlsFailure, classify_ssl_error
from chargepoint.security.tlsfiles import describe_tls_failure
from modem.stream import StreamClosed

MAX_RECORD = 16 * 1024
"""Bytes read from the SSLObject per call (one TLS record's worth of plaintext)."""


class TlsHandshakeError(StreamClosed):
    """The TLS handshake failed; ``reason`` says why (certificate, host name, alert);
    ``tls_failure`` the Security Whitepaper event it raises, when it is one."""

    def __init__(self, reason: str, tls_failure: TlsFailure | None = None) -> None:
        super().__init__(reason)
        self.tls_failure = tls_failure


class TlsSessionState(Enum):
    HANDSHAKE = "handshake"
    OPEN = "open"
    ENDED = "ended"
    """The peer ended TLS (close_notify, or TCP's end), or it failed."""


class TlsClientSession:
    __slots__ = ("_incoming", "_outgoing", "_ssl", "state")

    def __init__(self, context: ssl.SSLContext, server_hostname: str) -> None:
        """``server_hostname``: sent as SNI and checked against the CSMS's certificate
        (A00.FR.307/308); the context sets TLS 1.2+ and the trusted CAs."""
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._ssl = context.wrap_bio(
            self._incoming, self._outgoing, server_side=False, server_hostname=server_hostname
        )
        self.state = TlsSessionState.HANDSHAKE

    @property
    def version(self) -> str | None:
        return self._ssl.version()

    def peer_certificate(self) -> dict[str, object] | None:
        cert = self._ssl.getpeercert()
        return dict(cert) if cert else None

    def receive(self, data: bytes) -> None:
        """Bytes from the network."""
        self._incoming.write(data)

    def receive_eof(self) -> None:
        self._incoming.write_eof()

    def handshake(self) -> bool:
        """Advance the handshake with what was received; True once it is done.

        Raises :class:`~.tls.TlsHandshakeError` naming the problem in one line, with
        the Security Whitepaper event it raises (its ``tls_failure``); the alert that
        tells the CSMS why is then in :meth:`records`.
        """
        try:
            self._ssl.do_handshake()
        except ssl.SSLWantReadError:
            return False
        except ssl.SSLError as exc:
            self.state = TlsSessionState.ENDED
            # the SSLObject has a cipher once the ServerHello came (tlsfailure's note)
            hello = self._ssl.cipher() is not None
            failure = classify_ssl_error(exc, hello)
            raise TlsHandshakeError(describe_tls_failure(exc, hello), failure) from exc
        self.state = TlsSessionState.OPEN
        return True

    def read(self) -> bytes:
        """The plaintext received so far (b"" for none yet); the state is ENDED once the
        peer ended TLS.  Raises ``ssl.SSLError`` for an alert (TLS 1.3: a refused
        client certificate arrives after the client's side of the handshake)."""
        chunks: list[bytes] = []
        while self.state is TlsSessionState.OPEN:
            try:
                data = self._ssl.read(MAX_RECORD)
            except ssl.SSLWantReadError:
                break
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                self.state = TlsSessionState.ENDED
                break
            except ssl.SSLError:
                self.state = TlsSessionState.ENDED
                raise
            if not data:
                self.state = TlsSessionState.ENDED
                break
            chunks.append(data)
        return b"".join(chunks)

    def write(self, data: bytes) -> None:
        """Encrypt ``data`` (only once the handshake is done); the records are in
        :meth:`records`."""
        if self.state is not TlsSessionState.OPEN:
            raise ssl.SSLError(f"TLS session {self.state.value}: nothing may be sent")
        view = memoryview(data)
        while view:
            view = view[self._ssl.write(view) :]

    def records(self) -> bytes:
        """The TLS records to send (handshake messages, data, alerts)."""
        return self._outgoing.read()

    def close(self) -> None:
        """Queue a close_notify (no answer awaited)."""
        if self.state is TlsSessionState.OPEN:
            self.state = TlsSessionState.ENDED
            with contextlib.suppress(ssl.SSLError):
                self._ssl.unwrap()
