"""ws:// and wss:// on one port, for a charger whose SecurityProfile is raised from 1 to 2
over ChangeConfiguration (Security Whitepaper A05): it dials the same host and port again
with TLS (EVerest builds the scheme from the profile likewise), so the CSMS must take both
while chargers migrate.

Each connection's first byte decides, before anything is read: 0x16 is a TLS record of
type handshake (RFC 8446 §5.1, RFC 5246 §6.2.1: a ClientHello), which no HTTP request
starts with (a method is letters).  The byte is peeked (``MSG_PEEK``) on a duplicate of
the socket while the transport's reading is paused, so TLS then starts on the untouched
stream (``loop.start_tls``) or the WebSocket handshake reads it as plain HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from typing import Final

from websockets.asyncio.server import ServerConnection

log = logging.getLogger("cpsim.csms")

TLS_HANDSHAKE_RECORD: Final = 0x16
FIRST_BYTE_TIMEOUT: Final = 30.0
"""Seconds a client may stay silent after connecting before it is closed."""
TLS_HANDSHAKE_TIMEOUT: Final = 30.0


class TlsOrPlainConnection(ServerConnection):
    """A websockets server connection that starts TLS when the client's first byte is a
    TLS handshake record, else speaks plain HTTP; :func:`tls_or_plain` binds the context."""

    tls_context: ssl.SSLContext
    _decided: bool = False
    _sniffing: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._decided:  # the plain transport, or TLS's own once the handshake is done
            super().connection_made(transport)
            return
        assert isinstance(transport, asyncio.Transport)
        transport.pause_reading()  # nothing is read until the first byte has been looked at
        self._sniffing = self.loop.create_task(self._decide(transport))

    async def _decide(self, transport: asyncio.Transport) -> None:
        first = await first_byte(transport)
        if first is None:
            transport.close()
            return
        self._decided = True
        if first != TLS_HANDSHAKE_RECORD:
            self.connection_made(transport)
            transport.resume_reading()
            return
        held = HeldBack()  # what arrives right behind the handshake, until we take over
        try:
            tls = await self.loop.start_tls(
                transport,
                held,
                self.tls_context,
                server_side=True,
                ssl_handshake_timeout=TLS_HANDSHAKE_TIMEOUT,
            )
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError) as exc:
            log.info("TLS handshake failed: %s", exc)  # start_tls closed the transport
            return
        if tls is None:
            return
        self.connection_made(tls)
        tls.set_protocol(self)
        held.hand_over(self)


class HeldBack(asyncio.Protocol):
    """Keeps what the TLS layer delivers between the handshake and :meth:`hand_over`."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.eof = False
        self.lost: tuple[Exception | None] | None = None

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)

    def eof_received(self) -> bool | None:
        self.eof = True
        return True  # kept open: the real protocol decides once it has the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = (exc,)

    def hand_over(self, protocol: asyncio.Protocol) -> None:
        for chunk in self.chunks:
            protocol.data_received(chunk)
        if self.eof and not protocol.eof_received():
            transport = getattr(protocol, "transport", None)
            if transport is not None:
                transport.close()
        if self.lost is not None:
            protocol.connection_lost(self.lost[0])


def tls_or_plain(context: ssl.SSLContext) -> type[ServerConnection]:
    """websockets' ``create_connection`` for a port that takes ws:// and wss://."""

    class BoundTlsOrPlainConnection(TlsOrPlainConnection):
        tls_context = context

    return BoundTlsOrPlainConnection


async def first_byte(transport: asyncio.Transport) -> int | None:
    """The connection's first byte, left unread; None at EOF, an error, or the timeout."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return None
    loop = asyncio.get_running_loop()
    # A duplicate descriptor: the transport owns the original (add_reader refuses it).
    peek = socket.fromfd(sock.fileno(), sock.family, sock.type)
    peek.setblocking(False)  # as the original already is (one open file description)
    ready: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(peek.fileno(), readable)
    try:
        async with asyncio.timeout(FIRST_BYTE_TIMEOUT):
            await ready
        data = peek.recv(1, socket.MSG_PEEK)
    except (TimeoutError, OSError):
        return None
    finally:
        loop.remove_reader(peek.fileno())
        with contextlib.suppress(OSError):
            peek.close()
    return data[0] if data else None
