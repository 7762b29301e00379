"""The direct link: ws:// or wss:// from the host, for local use.

Two interchangeable implementations, so the Sans-I/O path the modems use is
tested against the same CSMS as websockets' own client:

* ``websockets``: websockets' asyncio client;
* ``sansio``: websockets' Sans-I/O protocol, as the Quectel path runs it: for ws://
  :class:`~.wsprotocol.WebSocketOverTransport` (an asyncio Protocol, no task per
  connection: what a fleet uses); for wss:// :class:`WebSocketOverStream` over
  :class:`~.tls.TlsByteStream` (ssl.MemoryBIO) on a TCP socket, exactly the code
  the modems run with a host socket instead of AT+QISEND.

wss:// (security profiles 2 and 3): TLS 1.2+, the CSMS's certificate verified
against the endpoint's CA file and its host name checked, SNI sent
(:class:`~.tlssettings.TlsSettings`); a failed handshake is one line naming the
certificate problem (:func:`~chargepoint.security.tlsfiles.describe_tls_failure`),
and nothing is sent before it succeeds.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from typing import Literal

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from chargepoint.security.tlsfiles import describe_tls_failure
from modem.stream import ByteStream, StreamClosed

from .base import Connection, LinkClosed, LinkError, Seconds, pong_timeout, seconds
from .handshake import SUBPROTOCOL, Endpoint
from .tcp import TcpByteStream
from .tls import TlsByteStream, TlsHandshakeError
from .transfer import FileTransfer
from .transfers_direct import DirectTransfer
from .websocket import MAX_MESSAGE, WebSocketOverStream
from .wsprotocol import WebSocketOverTransport

log = logging.getLogger(__name__)

Flavour = Literal["websockets", "sansio"]


def _link_closed(exc: ConnectionClosed) -> LinkClosed:
    """1006 unless the CSMS sent a close frame; a close we sent says why (a keepalive
    ping timeout is websockets' 1011 "keepalive ping timeout")."""
    if exc.rcvd is not None:
        return LinkClosed(exc.rcvd.reason, exc.rcvd.code)
    if exc.sent is not None and exc.sent.reason:
        return LinkClosed(f"connection lost: {exc.sent.reason}")
    return LinkClosed("connection lost")


def _tls_cause(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error behind ``exc`` (websockets wraps it in its handshake errors)."""
    seen: BaseException | None = exc
    for _ in range(8):  # a bounded walk down __cause__ / __context__
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class WebsocketsConnection:
    """websockets' asyncio connection, with its errors mapped to :class:`LinkClosed`."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws

    async def send(self, message: str) -> None:
        try:
            await self._ws.send(message)
        except ConnectionClosed as exc:
            raise _link_closed(exc) from exc

    async def recv(self) -> str:
        try:
            message = await self._ws.recv()
        except ConnectionClosed as exc:
            raise _link_closed(exc) from exc
        if isinstance(message, bytes):
            # OCPP-J 1.6 §3: messages are text frames; RFC 6455 7.4.1: 1003 refuses a type
            log.warning("a binary message from the CSMS; closing the link with 1003")
            await self._ws.close(1003, "OCPP-J uses text frames")
            raise LinkClosed("a binary message from the CSMS", 1003)
        return message

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self._ws.close(code, reason)


@dataclass
class DirectLink:
    endpoint: Endpoint
    flavour: Flavour = "websockets"
    ping_interval: Seconds = 0  # WebSocketPingInterval, read at each connect
    open_timeout: float = 15.0
    pong_timeout: Seconds | None = None  # None: base.pong_timeout(ping_interval)
    proxy: str | Literal[True] | None = True
    """websockets' proxy: True looks it up in the environment at every connect; a fleet
    looks it up once and passes the answer (a URL, or None for no proxy)."""

    @property
    def description(self) -> str:
        return self.endpoint.url

    async def connect(self) -> Connection:
        if self.flavour == "sansio":
            return await self._connect_sansio()
        return await self._connect_websockets()

    def _ssl_context(self, secure: bool) -> ssl.SSLContext | None:
        """The client context for wss:// (None for ws://): the endpoint's CA file and, for
        profile 3, its client certificate; with no settings, the system's CAs."""
        if not secure:
            return None
        tls = self.endpoint.current_tls()
        if tls is None:
            return ssl.create_default_context()
        return tls.context()

    async def _connect_websockets(self) -> Connection:
        url = self.endpoint.url
        uri = self.endpoint.uri()  # a URL websockets cannot use, named as such
        interval, timeout = self._keepalive()
        context = self._ssl_context(uri.secure)
        try:
            ws = await connect(
                url,
                ssl=context,
                subprotocols=[Subprotocol(SUBPROTOCOL)],
                additional_headers=self.endpoint.request_headers(),
                # websockets' own keepalive: a ping every interval, and without a
                # pong within the timeout a 1011 close and the TCP connection torn
                # down (after close_timeout at most), which recv() reports as 1006.
                ping_interval=interval or None,
                ping_timeout=timeout or None,
                open_timeout=self.open_timeout,
                max_size=MAX_MESSAGE,
                close_timeout=5,
                proxy=self.proxy,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            hint = " (check the charge-point id and password)" if status == 401 else ""
            raise LinkError(f"{url}: HTTP {status} {exc.response.reason_phrase}{hint}") from exc
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            reason = str(exc) or type(exc).__name__
            if uri.secure:
                probe = await self._tls_probe(exc, uri.host, uri.port, context)
                if probe is not None:
                    raise LinkError(f"{url}: {probe.reason}") from probe
                reason = _tls_reason(exc, reason)
            raise LinkError(f"{url}: {reason}") from exc
        if ws.subprotocol != SUBPROTOCOL:
            await ws.close(1002, "ocpp1.6 required")
            raise LinkError(
                f"{url}: the server did not accept subprotocol {SUBPROTOCOL} "
                f"(answered {ws.subprotocol!r})"
            )
        return WebsocketsConnection(ws)

    async def _tls_probe(
        self, exc: BaseException, host: str, port: int, context: ssl.SSLContext | None
    ) -> TlsHandshakeError | None:
        """A TLS 1.2 ``handshake_failure`` alert means "no cipher suite in common" before the
        ServerHello and "a client certificate is wanted" after it; websockets' client cannot
        say which, so the same handshake runs once more over :class:`TlsByteStream`, which
        can (WP A00.FR.322: InvalidTLSCipherSuite).  Its error, or None."""
        cause = _tls_cause(exc)
        if context is None or cause is None or cause.reason != "SSLV3_ALERT_HANDSHAKE_FAILURE":
            return None
        try:
            inner = await TcpByteStream.open(host, port, timeout=self.open_timeout)
            stream = await TlsByteStream.open(inner, context, host)
        except TlsHandshakeError as probe:
            return probe
        except (OSError, TimeoutError, StreamClosed):
            return None
        await stream.close()
        return None

    def _keepalive(self) -> tuple[float, float]:
        """(ping interval, pong timeout) for this connect; (0, 0) when pings are off."""
        interval = seconds(self.ping_interval)
        if interval <= 0:
            return 0.0, 0.0
        chosen = seconds(self.pong_timeout) if self.pong_timeout is not None else 0.0
        return interval, chosen if chosen > 0 else pong_timeout(interval)

    async def _connect_sansio(self) -> Connection:
        url = self.endpoint.url
        interval, timeout = self._keepalive()
        uri = self.endpoint.uri()
        if not uri.secure:  # the callback-driven one: no task, a few KiB a connection
            return await WebSocketOverTransport.open(
                uri.host,
                uri.port,
                url,
                self.endpoint.request_headers(),
                interval,
                timeout=self.open_timeout,
                pong_timeout=timeout,
            )
        try:
            stream = await TcpByteStream.open(uri.host, uri.port, timeout=self.open_timeout)
        except (OSError, TimeoutError) as exc:
            raise LinkError(f"{url}: {str(exc) or type(exc).__name__}") from exc
        carrier: ByteStream = stream
        try:
            if uri.secure:
                context = self._ssl_context(True)
                assert context is not None
                carrier = await TlsByteStream.open(stream, context, uri.host)
            return await WebSocketOverStream.open(
                carrier,
                url,
                self.endpoint.request_headers(),
                interval,
                timeout=self.open_timeout,
                pong_timeout=timeout,
            )
        except StreamClosed as exc:
            raise LinkError(f"{url}: {exc.reason}") from exc

    def file_transfer(self) -> FileTransfer:
        """Firmware and diagnostics over the host's own network: http, https (system
        CAs), ftp and ftps (ftplib, passive)."""
        tls = self.endpoint.current_tls()
        context = tls.context() if tls is not None and tls.ca_file is not None else None
        return DirectTransfer(connect_timeout=self.open_timeout, ssl_context=context)

    async def aclose(self) -> None:
        return None


def _tls_reason(exc: BaseException, reason: str) -> str:
    """One line for a failed wss:// connect: the certificate problem, or TLS named.

    TLS 1.3 servers check the client certificate after the client's side of the
    handshake, so a CSMS that requires one shows as an alert (or a reset, or a closed
    connection) when the upgrade response is read.
    """
    cause = _tls_cause(exc)
    if cause is not None:
        return describe_tls_failure(cause)
    if isinstance(exc, ConnectionResetError | InvalidHandshake):
        return (
            f"{reason}: the CSMS ended the TLS connection before answering; "
            "does it require a TLS client certificate (security profile 3)?"
        )
    return reason
