"""TLS over any byte stream, with Python's ssl module and ``ssl.MemoryBIO``.

A modem socket (AT+QISEND / AT+QIRD) is a byte pipe, as is a host TCP socket;
TLS belongs to neither.  :class:`TlsByteStream` wraps one in an ``SSLObject``
driven by two memory buffers: the TLS records it produces are written to the
inner stream, the bytes read from it are fed back.  It implements the same
:class:`modem.stream.ByteStream` interface, so the WebSocket code over it does not
change: TLS on the host over a modem's plain TCP socket, for modules whose own
TLS stack is too old, or the direct link's Sans-I/O path.

Errors: a failed handshake is :class:`TlsHandshakeError` with one line a
technician can act on (:func:`~chargepoint.security.tlsfiles.describe_tls_failure`);
after it, the inner stream is closed.  Nothing is written in clear: until the
handshake completes, only TLS records leave.
"""

from __future__ import annotations

import contextlib
import ssl

from chargepoint.security.tlsfailure import TlsFailure, classify_ssl_error
from chargepoint.security.tlsfiles import describe_tls_failure
from modem.stream import ByteStream, StreamClosed

MAX_RECORD = 16 * 1024
"""Bytes read from the SSLObject per call (one TLS record's worth of plaintext)."""


class TlsHandshakeError(StreamClosed):
    """The TLS handshake failed; ``reason`` says why (certificate, host name, alert);
    ``tls_failure`` the Security Whitepaper event it raises, when it is one."""

    def __init__(self, reason: str, tls_failure: TlsFailure | None = None) -> None:
        super().__init__(reason)
        self.tls_failure = tls_failure


class TlsByteStream:
    def __init__(self, inner: ByteStream, context: ssl.SSLContext, server_hostname: str) -> None:
        self._inner = inner
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._ssl = context.wrap_bio(
            self._incoming, self._outgoing, server_side=False, server_hostname=server_hostname
        )
        self._closed = False
        self._received_any = False

    @classmethod
    async def open(
        cls, inner: ByteStream, context: ssl.SSLContext, server_hostname: str
    ) -> TlsByteStream:
        """Run the handshake over ``inner`` (closed again if it fails)."""
        stream = cls(inner, context, server_hostname)
        try:
            await stream._handshake()
        except BaseException:
            await inner.close()
            raise
        return stream

    @property
    def version(self) -> str | None:
        return self._ssl.version()

    def peer_certificate(self) -> dict[str, object] | None:
        cert = self._ssl.getpeercert()
        return dict(cert) if cert else None

    async def _flush(self) -> None:
        data = self._outgoing.read()
        if data:
            await self._inner.write(data)

    async def _fill(self) -> bool:
        """Feed the next bytes of the inner stream; False once it has ended."""
        data = await self._inner.read()
        if not data:
            self._incoming.write_eof()
            return False
        self._incoming.write(data)
        return True

    async def _handshake(self) -> None:
        while True:
            try:
                self._ssl.do_handshake()
            except ssl.SSLWantReadError:
                await self._flush()
                if not await self._fill():
                    raise TlsHandshakeError(
                        "TLS: the server closed the connection during the handshake "
                        "(is it TLS at all? does it want a client certificate?)"
                    ) from None
                continue
            except ssl.SSLError as exc:
                await self._flush_quietly()  # the alert tells the server why
                # the SSLObject has a cipher once the ServerHello came (tlsfailure's note)
                hello = self._ssl.cipher() is not None
                failure = classify_ssl_error(exc, hello)
                raise TlsHandshakeError(describe_tls_failure(exc, hello), failure) from None
            await self._flush()
            return

    async def _flush_quietly(self) -> None:
        with contextlib.suppress(StreamClosed):
            await self._flush()

    async def read(self) -> bytes:
        while not self._closed:
            try:
                data = self._ssl.read(MAX_RECORD)
            except ssl.SSLWantReadError:
                await self._flush()  # a TLS 1.3 key update may want an answer
                if not await self._fill():
                    return self._ended()
                continue
            except ssl.SSLZeroReturnError:
                return b""  # close_notify: the peer ended TLS cleanly
            except ssl.SSLEOFError:
                return self._ended()
            except ssl.SSLError as exc:  # TLS 1.3: a refused client certificate shows here
                raise StreamClosed(describe_tls_failure(exc)) from None
            self._received_any = self._received_any or bool(data)
            return data
        return b""

    def _ended(self) -> bytes:
        """The peer closed TCP without a TLS close_notify.  Before it ever sent a byte of
        data that is a refusal in all but name: TLS 1.3 servers check the client
        certificate after the client's handshake has completed."""
        if not self._received_any:
            raise StreamClosed(
                "TLS: the CSMS closed the connection right after the handshake; "
                "does it require a client certificate (security profile 3)?"
            )
        return b""

    async def write(self, data: bytes) -> None:
        if self._closed:
            raise StreamClosed("TLS stream closed")
        view = memoryview(data)
        while view:
            try:
                sent = self._ssl.write(view)
            except ssl.SSLError as exc:
                raise StreamClosed(f"TLS: {exc.reason or exc}") from None
            view = view[sent:]
            await self._flush()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(ssl.SSLError):  # no close_notify back: nothing more to say
            self._ssl.unwrap()
        await self._flush_quietly()
        await self._inner.close()
