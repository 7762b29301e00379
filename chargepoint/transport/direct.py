"""The direct link: ws:// or wss:// from the host, for local use.

Two interchangeable implementations, so the Sans-I/O path the modems use is
tested against the same CSMS as websockets' own client:

* ``websockets``: websockets' asyncio client;
* ``sansio``: websockets' Sans-I/O protocol, as the Quectel path runs it, in
  :class:`~.wsprotocol.WebSocketOverTransport` (an asyncio Protocol, no task per
  connection: what a fleet uses); for wss:// with a Sans-I/O TLS session
  (:class:`~.tlsbio.TlsClientSession`, ssl.MemoryBIO) inside it.  The modems keep
  :class:`~.websocket.WebSocketOverStream` over :class:`~.tls.TlsByteStream`; the
  websockets flavour runs that one only to tell a TLS 1.2 ``handshake_failure``
  apart (:meth:`DirectLink._tls_probe`).

wss:// (security profiles 2 and 3): TLS 1.2+, the CSMS's certificate verified
against the endpoint's CA file and its host name checked, SNI sent
(:class:`~.tlssettings.TlsSettings`); a failed handshake is one line naming the
certificate problem (:func:`~chargepoint.security.tlsfiles.describe_tls_failure`),
and nothing is sent before it succeeds.
"""

from __future__ import annotations

import hashlib
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.typing import Subprotocol

from chargepoint.security.tlsfiles import MAX_PEM_BYTES, describe_tls_failure
from modem.stream import StreamClosed

from .base import Connection, LinkClosed, LinkError, Seconds, pong_timeout, seconds
from .handshake import SUBPROTOCOL, Endpoint
from .tcp import TcpByteStream
from .tls import TlsByteStream, TlsHandshakeError
from .tlssettings import TlsSettings
from .transfer import FileTransfer
from .transfers_direct import DirectTransfer
from .websocket import MAX_MESSAGE
from .wsprotocol import WebSocketOverTransport, connect_failure_reason

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
        profile 3, its client certificate; with no settings, the system's CAs.  Shared
        by every link with the same files (:func:`shared_context`)."""
        if not secure:
            return None
        return shared_context(self.endpoint.current_tls())

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
        """websockets' Sans-I/O protocol in an asyncio Protocol, no task per connection;
        wss:// through a Sans-I/O TLS session in the same Protocol (A00.FR.306-308: TLS
        1.2+, the CSMS's certificate and host name checked, SNI sent), which sees the
        ServerHello and so needs no :meth:`_tls_probe`."""
        url = self.endpoint.url
        interval, timeout = self._keepalive()
        uri = self.endpoint.uri()
        context = self._ssl_context(uri.secure)
        return await WebSocketOverTransport.open(
            uri.host,
            uri.port,
            url,
            self.endpoint.request_headers(),
            interval,
            timeout=self.open_timeout,
            pong_timeout=timeout,
            tls=context,
        )

    def file_transfer(self) -> FileTransfer:
        """Firmware and diagnostics over the host's own network: http, https (system
        CAs), ftp and ftps (ftplib, passive)."""
        tls = self.endpoint.current_tls()
        context = tls.context() if tls is not None and tls.ca_file is not None else None
        return DirectTransfer(connect_timeout=self.open_timeout, ssl_context=context)

    async def aclose(self) -> None:
        return None


MAX_SHARED_CONTEXTS = 64
"""Client contexts kept for reuse (distinct CA / certificate file contents)."""
_contexts: dict[bytes, ssl.SSLContext] = {}


def shared_context(tls: TlsSettings | None) -> ssl.SSLContext:
    """The client context for ``tls``, one per distinct set of file contents.

    An ``SSLContext`` holds its own copy of the trusted CAs (the system's: hundreds of
    KiB) and every TLS connection keeps its context alive, so one per connect would
    cost each charger of a fleet a context of its own.  The key is a digest of what
    the context is made of, read at every connect: a CA file InstallCertificate
    rewrote, or a certificate CertificateSigned installed, makes a new context.
    """
    digest = hashlib.sha256()
    if tls is not None:
        identity = tls.identity if tls.security_profile == 3 else None
        for path in (tls.ca_file, *((identity.cert_path, identity.key_path) if identity else ())):
            digest.update(b"\0" + _file_bytes(path))
    key = digest.digest()
    context = _contexts.get(key)
    if context is None:
        context = tls.context() if tls is not None else ssl.create_default_context()
        if len(_contexts) >= MAX_SHARED_CONTEXTS:
            _contexts.pop(next(iter(_contexts)))  # the oldest
        _contexts[key] = context
    return context


def _file_bytes(path: Path | None) -> bytes:
    """A file's contents for the context key (b"" for none; unreadable: its name, and
    the context's own loading names the problem)."""
    if path is None:
        return b""
    try:
        with path.open("rb") as file:
            return file.read(MAX_PEM_BYTES + 1)
    except OSError:
        return b"?" + str(path).encode()


def _tls_reason(exc: BaseException, reason: str) -> str:
    """One line for a failed wss:// connect: the certificate problem, or TLS named.

    TLS 1.3 servers check the client certificate after the client's side of the
    handshake, so a CSMS that requires one shows as an alert (or a reset, or a closed
    connection) when the upgrade response is read; a server that is not TLS at all
    (plain ws://) ends TCP during the TLS handshake itself.
    """
    cause = _tls_cause(exc)
    if cause is not None:
        return describe_tls_failure(cause)
    if isinstance(exc, ConnectionResetError):
        # not wrapped in websockets' InvalidHandshake: it came from asyncio's TLS
        # handshake (the TCP connect), before any upgrade request was sent
        return connect_failure_reason(exc, secure=True)
    if isinstance(exc, InvalidHandshake):
        return (
            f"{reason}: the CSMS ended the TLS connection before answering; "
            "does it require a TLS client certificate (security profile 3)?"
        )
    return reason
