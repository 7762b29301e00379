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

from chargepoint.security.tlsfiles import describe_tls_failure
from modem.stream import ByteStream, StreamClosed

from .tlsbio import MAX_RECORD, TlsClientSession, TlsHandshakeError, TlsSessionState

__all__ = ["MAX_RECORD", "TlsByteStream", "TlsHandshakeError"]


class TlsByteStream:
    """A :class:`~.tlsbio.TlsClientSession` driven over an awaitable byte stream: its
    records written to ``inner``, what ``inner`` reads fed back."""

    def __init__(self, inner: ByteStream, context: ssl.SSLContext, server_hostname: str) -> None:
        self._inner = inner
        self._tls = TlsClientSession(context, server_hostname)
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
        return self._tls.version

    def peer_certificate(self) -> dict[str, object] | None:
        return self._tls.peer_certificate()

    async def _flush(self) -> None:
        data = self._tls.records()
        if data:
            await self._inner.write(data)

    async def _fill(self) -> bool:
        """Feed the next bytes of the inner stream; False once it has ended."""
        data = await self._inner.read()
        if not data:
            self._tls.receive_eof()
            return False
        self._tls.receive(data)
        return True

    async def _handshake(self) -> None:
        while True:
            try:
                done = self._tls.handshake()
            except TlsHandshakeError:
                await self._flush_quietly()  # the alert tells the server why
                raise
            await self._flush()
            if done:
                return
            if not await self._fill():
                raise TlsHandshakeError(
                    "TLS: the server closed the connection during the handshake "
                    "(is it TLS at all? does it want a client certificate?)"
                )

    async def _flush_quietly(self) -> None:
        with contextlib.suppress(StreamClosed):
            await self._flush()

    async def read(self) -> bytes:
        while not self._closed:
            try:
                data = self._tls.read()
            except ssl.SSLError as exc:  # TLS 1.3: a refused client certificate shows here
                raise StreamClosed(describe_tls_failure(exc)) from None
            if data:
                self._received_any = True
                return data
            if self._tls.state is TlsSessionState.ENDED:
                return b""  # close_notify: the peer ended TLS cleanly
            await self._flush()  # a TLS 1.3 key update may want an answer
            if not await self._fill():
                return self._ended()
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
        try:
            self._tls.write(data)
        except ssl.SSLError as exc:
            raise StreamClosed(f"TLS: {exc.reason or exc}") from None
        await self._flush()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._tls.close()  # a close_notify; no answer awaited
        await self._flush_quietly()
        await self._inner.close()
