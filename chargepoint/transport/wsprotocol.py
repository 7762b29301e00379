"""RFC 6455 on an asyncio transport, driven by callbacks: no task per connection.

The same websockets Sans-I/O ``ClientProtocol`` as :class:`~.websocket.WebSocketOverStream`
(and the same :class:`~.websocket.MessageAssembler` and handshake checks), but as
an ``asyncio.Protocol``: ``data_received`` feeds the protocol object, whole
messages go to a :class:`~.push.MessageSink` (or wait for ``recv()``), writes go
straight to ``transport.write`` and keepalive pings are ``loop.call_at`` timers.
A charger on it costs a socket, the protocol object and a few small objects: what
lets one process hold a fleet of 10,000.  For wss:// a Sans-I/O TLS session
(:class:`~.tlsbio.TlsClientSession`) sits between the socket and the protocol object,
in the same callbacks (asyncio's own TLS transport would add a 256 KiB read buffer per
connection).  The modems' byte streams keep :class:`~.websocket.WebSocketOverStream`
(their writes are AT commands to await).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections import deque

from websockets.client import ClientProtocol
from websockets.http11 import Response
from websockets.protocol import State

from chargepoint.security.tlsfiles import describe_tls_failure

from .base import LinkClosed, LinkError
from .base import pong_timeout as default_pong_timeout
from .push import MessageSink
from .tlsbio import TlsClientSession, TlsHandshakeError, TlsSessionState
from .websocket import (
    CLOSE_FRAME_BOUND,
    KEEPALIVE_CLOSE,
    MessageAssembler,
    check_handshake,
    client_protocol,
    close_code,
)

log = logging.getLogger(__name__)

CLOSE_WAIT = 5.0
"""Seconds the charger waits for the CSMS to end TCP after a close frame we sent (it
closes first, RFC 6455 §7.1.1); then the socket is dropped."""


class WebSocketOverTransport(asyncio.Protocol):
    """A :class:`~.push.PushConnection` (and a plain ``Connection``) on a TCP transport."""

    __slots__ = (
        "_assembler",
        "_closed",
        "_closer",
        "_done",
        "_eof",
        "_handshake",
        "_inbox",
        "_paused",
        "_ping_interval",
        "_ping_sent",
        "_pong_timeout",
        "_protocol",
        "_tls",
        "_sink",
        "_timer",
        "_transport",
        "_waiter",
        "pings_sent",
        "url",
    )

    def __init__(
        self, protocol: ClientProtocol, url: str, ping_interval: float, pong_timeout: float
    ) -> None:
        self.url = url
        self.pings_sent = 0
        self._protocol = protocol
        self._ping_interval = ping_interval
        self._pong_timeout = pong_timeout
        self._assembler = MessageAssembler()
        self._transport: asyncio.Transport | None = None
        self._sink: MessageSink | None = None
        self._inbox: deque[str] | None = None  # messages nobody took yet (created if any)
        self._closed: LinkClosed | None = None
        self._eof = False
        # futures and timers, created only when something waits
        self._handshake: asyncio.Future[None] | None = None
        self._waiter: asyncio.Future[None] | None = None  # recv()
        self._done: asyncio.Future[None] | None = None  # close(): the end of the link
        self._paused: asyncio.Future[None] | None = None  # send(): the transport's buffer
        self._timer: asyncio.TimerHandle | None = None  # next ping, or the pong deadline
        self._ping_sent: float | None = None  # a ping not yet answered by any byte
        self._closer: asyncio.TimerHandle | None = None  # drops the socket after a close
        self._tls: TlsClientSession | None = None  # wss://

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        url: str,
        headers: list[tuple[str, str]] | None = None,
        ping_interval: float = 0,
        timeout: float = 30.0,
        pong_timeout: float | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> WebSocketOverTransport:
        """Connect and run the opening handshake; :class:`LinkError` names the reason.

        ``ping_interval`` is WebSocketPingInterval (0: no pings); ``pong_timeout``
        defaults to :func:`~chargepoint.transport.base.pong_timeout` of it.  With
        ``tls`` (wss://) a :class:`~.tlsbio.TlsClientSession` runs between the socket
        and the WebSocket (``host`` sent as SNI and checked against the certificate);
        the upgrade request is written only once its handshake is done, so nothing
        leaves in clear.  A failed handshake is one line naming the problem, raised
        from the :class:`~.tls.TlsHandshakeError` (``LinkError.tls_failure``).
        """
        loop = asyncio.get_running_loop()
        chosen = pong_timeout if pong_timeout and pong_timeout > 0 else 0.0
        if not chosen and ping_interval > 0:
            chosen = default_pong_timeout(ping_interval)
        self = cls(client_protocol(url, headers), url, ping_interval, chosen)
        if tls is not None:
            self._tls = TlsClientSession(tls, host)
        self._handshake = loop.create_future()
        try:
            async with asyncio.timeout(timeout):
                await loop.create_connection(lambda: self, host, port)
        except (OSError, TimeoutError) as exc:
            raise LinkError(f"{url}: {str(exc) or type(exc).__name__}") from exc
        try:
            async with asyncio.timeout(timeout):
                await self._handshake
        except TimeoutError as exc:
            self._drop()
            tls_open = self._tls is None or self._tls.state is not TlsSessionState.HANDSHAKE
            what = "handshake" if tls_open else "TLS handshake"
            raise LinkError(f"{url}: no {what} response") from exc
        except LinkError:
            self._drop()
            raise
        finally:
            self._handshake = None
        if ping_interval > 0:
            self._timer = loop.call_at(loop.time() + ping_interval, self._ping)
        return self

    # --- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if self._tls is not None:
            self._tls_step()  # the ClientHello; the upgrade request once TLS is up
        else:
            self._write()  # the upgrade request

    def data_received(self, data: bytes) -> None:
        if self._ping_sent is not None:
            self._heard()
        if self._tls is not None:
            self._tls.receive(data)
            self._tls_step()
            return
        self._protocol.receive_data(data)
        self._pump()

    def eof_received(self) -> bool:
        if self._tls is not None and self._tls.state is TlsSessionState.OPEN:
            self._tls.receive_eof()
            self._tls_step()  # what is left, then the end (close_notify or not)
        self._receive_eof()  # in the TLS handshake: a server that is not TLS there
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._receive_eof(exc)
        if self._closer is not None:
            self._closer.cancel()
            self._closer = None
        if self._done is not None and not self._done.done():
            self._done.set_result(None)
        self._transport = None

    def pause_writing(self) -> None:
        if self._paused is None:
            self._paused = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        paused, self._paused = self._paused, None
        if paused is not None and not paused.done():
            paused.set_result(None)

    # --- moving bytes -----------------------------------------------------------------

    def _tls_step(self) -> None:
        """Run what TLS received: the handshake, then the plaintext to the WebSocket."""
        tls = self._tls
        assert tls is not None
        try:
            if tls.state is TlsSessionState.HANDSHAKE:
                if not tls.handshake():
                    self._send_records()
                    return
                self._send_records()
                self._write()  # the upgrade request, now encrypted
            plain = tls.read()
        except TlsHandshakeError as exc:
            self._send_records()  # the alert tells the CSMS why
            self._fail_upgrade(exc)
            return
        except ssl.SSLError as exc:  # an alert after the handshake
            self._end_tls(exc)
            return
        self._send_records()  # a TLS 1.3 key update may want an answer
        if plain:
            self._protocol.receive_data(plain)
            self._pump()
        if tls.state is TlsSessionState.ENDED:
            self._receive_eof()

    def _send_records(self) -> None:
        assert self._tls is not None
        records = self._tls.records()
        transport = self._transport
        if records and transport is not None and not transport.is_closing():
            transport.write(records)

    def _fail_upgrade(self, exc: TlsHandshakeError) -> None:
        handshake = self._handshake
        if handshake is not None and not handshake.done():
            error = LinkError(f"{self.url}: {exc.reason}")
            error.__cause__ = exc
            handshake.set_exception(error)
        self._eof = True  # nothing more to read: the handshake failed
        self._end(LinkClosed(exc.reason))
        self._drop(graceful=True)

    def _end_tls(self, exc: ssl.SSLError) -> None:
        """A TLS alert after the handshake ends the link (before the upgrade response:
        the CSMS refused the client certificate, TLS 1.3)."""
        self._receive_eof(exc)
        self._drop(graceful=True)

    def _receive_eof(self, exc: Exception | None = None) -> None:
        if self._eof:
            return
        self._eof = True
        self._protocol.receive_eof()
        self._pump()
        handshake = self._handshake
        if handshake is not None and not handshake.done():
            handshake.set_exception(self._closed_in_upgrade(exc))
        code, reason = close_code(self._protocol)
        self._end(LinkClosed(reason or "closed by the CSMS", code))

    def _pump(self) -> None:
        """Handle what the protocol parsed, then write its answers (pongs, close frames)."""
        protocol = self._protocol
        for event in protocol.events_received():
            if isinstance(event, Response):
                self._handshake_done(event)
                continue
            message = self._assembler.frame(protocol, event)  # type: ignore[arg-type]
            if isinstance(message, LinkClosed):
                self._write()  # the 1003 / 1007 close frame, before anyone reacts
                self._end(message)
            elif message is not None:
                self._deliver(message)
        self._write()
        if protocol.state is State.CLOSED:
            self._drop(graceful=True)
        elif protocol.state is State.CLOSING and self._closer is None:
            # our close frame is out (a close(), a 1003, a 1009 from the protocol):
            # the CSMS ends TCP after its answer, or the socket goes after CLOSE_WAIT
            loop = asyncio.get_running_loop()
            self._closer = loop.call_later(CLOSE_WAIT, self._drop)

    def _closed_in_upgrade(self, exc: Exception | None) -> LinkError:
        """The connection ended before the upgrade response.  Over TLS that is a refusal
        in all but name: TLS 1.3 servers check the client certificate after the
        client's side of the handshake, so a CSMS requiring one answers the upgrade
        request with an alert (``exc``), or just closes.  During the TLS handshake
        itself, it is a server that does not speak TLS there."""
        if isinstance(exc, ssl.SSLError):
            error = LinkError(f"{self.url}: {describe_tls_failure(exc)}")
            error.__cause__ = exc
            return error
        tls = self._tls
        if tls is not None and tls.state is TlsSessionState.HANDSHAKE:
            return LinkError(f"{self.url}: {connect_failure_reason(exc, secure=True)}")
        if tls is not None:
            return LinkError(
                f"{self.url}: TLS: the CSMS closed the connection right after the "
                "handshake; does it require a client certificate (security profile 3)?"
            )
        return LinkError(f"{self.url}: connection closed during the handshake")

    def _handshake_done(self, response: Response) -> None:
        handshake = self._handshake
        if handshake is None or handshake.done():
            return
        try:
            check_handshake(self._protocol, response, self.url)
        except LinkError as exc:
            handshake.set_exception(exc)
        else:
            handshake.set_result(None)

    def _write(self) -> None:
        transport = self._transport
        tls = self._tls
        if tls is not None:
            if tls.state is not TlsSessionState.OPEN:
                return  # nothing in clear: the upgrade request waits for the handshake
            with contextlib.suppress(ssl.SSLError):  # an ended session: dropped anyway
                for chunk in self._protocol.data_to_send():
                    if chunk:
                        tls.write(chunk)
            self._send_records()
            return
        for chunk in self._protocol.data_to_send():
            if chunk and transport is not None and not transport.is_closing():
                transport.write(chunk)

    def _drop(self, graceful: bool = False) -> None:
        transport = self._transport
        if transport is None:
            return
        if graceful:
            if self._tls is not None:
                self._tls.close()  # close_notify
                self._send_records()
            transport.close()
        else:
            transport.abort()

    def _deliver(self, message: str) -> None:
        if self._sink is not None:
            self._sink.message_received(message)
            return
        if self._inbox is None:
            self._inbox = deque()
        self._inbox.append(message)
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _end(self, closed: LinkClosed) -> None:
        if self._closed is not None:
            return
        self._closed = closed
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._wake()
        if self._done is not None and not self._done.done():
            self._done.set_result(None)
        if self._sink is not None:
            self._sink.link_closed(closed)

    # --- keepalive --------------------------------------------------------------------

    def _ping(self) -> None:
        """Ping; a peer silent for the pong timeout after it is dead.

        Cellular NAT and radio loss kill TCP silently.  Any bytes from the peer after
        the ping count as a sign of life, not only its pong (a long message can hold
        the pong back), so a dead link is declared at most ``interval + pong timeout``
        after the last bytes heard.  All on the loop's clock (virtual time works).
        """
        self._timer = None
        if self._closed is not None or self._protocol.state is not State.OPEN:
            return  # closing or closed: a ping would raise InvalidState
        loop = asyncio.get_running_loop()
        self._protocol.send_ping(b"cpsim")
        self.pings_sent += 1
        self._ping_sent = sent = loop.time()
        self._write()
        self._timer = loop.call_at(sent + self._pong_timeout, self._pong_missed)

    def _heard(self) -> None:
        sent, self._ping_sent = self._ping_sent, None
        if self._timer is not None:
            self._timer.cancel()
        assert sent is not None
        loop = asyncio.get_running_loop()
        # the next ping one interval after this one (at once if the answer took longer)
        self._timer = loop.call_at(max(sent + self._ping_interval, loop.time()), self._ping)

    def _pong_missed(self) -> None:
        self._timer = None
        timeout = self._pong_timeout
        log.warning("no pong nor any data within %g s of a ping: the link is dead", timeout)
        self._end(LinkClosed(f"no pong within {timeout:g} s of a keepalive ping"))
        # a parting close frame (1011, as websockets sends) in case the peer is alive
        # but deaf to pings; the socket goes once it is written, or after a bound
        self._protocol.fail(KEEPALIVE_CLOSE, "keepalive ping timeout")
        self._write()
        if self._transport is not None:
            self._transport.close()
            if self._closer is not None:
                self._closer.cancel()
            self._closer = asyncio.get_running_loop().call_later(CLOSE_FRAME_BOUND, self._drop)

    # --- the Connection interfaces ----------------------------------------------------

    def deliver_to(self, sink: MessageSink) -> None:
        self._sink = sink
        inbox, self._inbox = self._inbox, None
        while inbox:
            sink.message_received(inbox.popleft())
        if self._closed is not None:
            sink.link_closed(self._closed)

    def send_now(self, message: str) -> None:
        if self._closed is not None:
            raise self._closed
        transport = self._transport
        if transport is None or transport.is_closing():
            closed = LinkClosed("TCP socket closed")
            self._end(closed)
            raise closed
        if self._protocol.state is not State.OPEN:  # a close frame is out: no more messages
            code, reason = close_code(self._protocol)
            raise LinkClosed(reason or "the WebSocket is closing", code)
        self._protocol.send_text(message.encode("utf-8"))
        self._write()

    async def send(self, message: str) -> None:
        self.send_now(message)
        if self._paused is not None:
            await asyncio.shield(self._paused)

    async def recv(self) -> str:
        while not self._inbox:
            if self._closed is not None:
                raise self._closed
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        return self._inbox.popleft()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close handshake (bounded wait for the CSMS's answer), then release the socket."""
        if self._closed is None and self._protocol.state is State.OPEN:
            self._protocol.send_close(code, reason)
            self._pump()
            if self._closed is None and self._transport is not None:
                self._done = asyncio.get_running_loop().create_future()
                try:
                    async with asyncio.timeout(CLOSE_WAIT):
                        await asyncio.shield(self._done)
                except TimeoutError:
                    pass
        self._end(LinkClosed("closed by the charger", code))
        self._drop(graceful=True)


def connect_failure_reason(exc: BaseException | None, secure: bool) -> str:
    """Why a connect failed.  A server that ends TCP during the TLS handshake (before
    any TLS answer; asyncio's TLS reports a bare ConnectionResetError) does not speak
    TLS on that port (plain ws://, a wrong port)."""
    reason = (str(exc) or type(exc).__name__) if exc is not None else "connection closed"
    if secure and (exc is None or isinstance(exc, ConnectionResetError)):
        return (
            f"TLS: the server closed the connection during the TLS handshake ({reason}): "
            "is it TLS at all (plain ws://, or another port)?"
        )
    return reason
