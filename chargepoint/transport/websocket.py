"""RFC 6455 over any byte stream, with websockets' Sans-I/O ``ClientProtocol``.

A Quectel modem gives only a TCP byte pipe (AT+QISEND / AT+QIRD), so the
charger must do the upgrade and the framing itself.  The protocol object owns
all of that (masking, ping and close answers, size limits, Sec-WebSocket-Accept);
this module only moves bytes between it and the stream, joins fragments into
messages and drives keepalive pings, as websockets leaves those to the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Coroutine
from typing import Any

from websockets.client import ClientProtocol
from websockets.exceptions import InvalidStatus, ProtocolError
from websockets.frames import Close, Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.streams import StreamReader
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from modem.stream import ByteStream, DescribesWrites, StreamClosed

from .base import LinkClosed, LinkError, pong_timeout
from .handshake import SUBPROTOCOL

log = logging.getLogger(__name__)

MAX_MESSAGE = 1 << 20
KEEPALIVE_CLOSE = 1011
"""Sent in the close frame when no pong came (as websockets' own client does): RFC 6455
§7.4.1, "an unexpected condition"; the charger itself reports 1006 (no close frame
was received, §7.1.5) in its :class:`LinkClosed`."""
CLOSE_FRAME_BOUND = 2.0
"""Seconds the parting 1011 close frame may take to be written on a dead link."""


def describe_frame(data: bytes) -> str | None:
    """``ws text 125: [2,"1","Heartbeat",{}]`` for one masked client frame, else ``None``.

    Hooked into the modem's AT trace: the frames the charger writes are masked,
    so their bytes say nothing to a person reading ``--at-log``.
    """
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=True)
    try:
        while True:
            next(parser)
    except StopIteration as done:
        frame: Frame = done.value
    except (EOFError, ProtocolError, ValueError):
        return None  # not one whole client frame: the HTTP upgrade request, for one
    body = bytes(frame.data)
    kind = frame.opcode.name.lower()
    if frame.opcode is Opcode.CLOSE:
        try:
            close = Close.parse(body)
        except (ProtocolError, ValueError):
            return f"ws close {len(body)}"
        text = f"ws close {close.code}" + (f" {close.reason}" if close.reason else "")
    elif frame.opcode is Opcode.BINARY:
        text = f"ws binary {len(body)}"
    else:
        text = f"ws {kind} {len(body)}: {body.decode('utf-8', 'replace')}"
    if not frame.fin:
        text += " (more fragments follow)"
    if reader.buffer:
        text += f" (+{len(reader.buffer)} bytes after the frame)"
    return text


def _log_failure(task: asyncio.Task[None]) -> None:
    """Retrieve a crashed task's exception here, so it is logged once with its name."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("%s failed: %r", task.get_name(), exc, exc_info=exc)


def _default_pong_timeout(interval: float) -> float:
    return pong_timeout(interval) if interval > 0 else 0.0


def close_code(protocol: ClientProtocol) -> tuple[int, str]:
    """The code and reason the CSMS closed with; 1006 when no close frame came (§7.1.5),
    with the close we sent named when we failed the link (1009: a message over 1 MiB)."""
    if protocol.close_rcvd is not None:
        return protocol.close_rcvd.code, protocol.close_rcvd.reason
    sent = protocol.close_sent
    if sent is not None and protocol.parser_exc is not None:
        return 1006, f"connection lost after our close {sent.code} ({sent.reason})"
    return 1006, "connection lost without a close frame"


def client_protocol(url: str, headers: list[tuple[str, str]] | None) -> ClientProtocol:
    """websockets' Sans-I/O client for ``url``, its upgrade request already queued."""
    protocol = ClientProtocol(
        parse_uri(url), subprotocols=[Subprotocol(SUBPROTOCOL)], max_size=MAX_MESSAGE
    )
    request = protocol.connect()
    for name, value in headers or []:
        if name in request.headers:
            del request.headers[name]
        request.headers[name] = value
    protocol.send_request(request)
    return protocol


def check_handshake(protocol: ClientProtocol, response: Response, url: str) -> None:
    """Raise :class:`LinkError` naming why the upgrade failed (a status, the subprotocol)."""
    exc = protocol.handshake_exc
    if exc is not None:
        if isinstance(exc, InvalidStatus):
            status = exc.response.status_code
            raise LinkError(
                f"{url}: HTTP {status} {exc.response.reason_phrase}"
                + (" (check the charge-point id and password)" if status == 401 else "")
            )
        raise LinkError(f"{url}: handshake failed: {exc}")
    if protocol.subprotocol != SUBPROTOCOL:
        raise LinkError(
            f"{url}: the server did not accept subprotocol {SUBPROTOCOL} "
            f"(answered {protocol.subprotocol!r})"
        )
    # websockets' parser generator keeps the response for the connection's life; its
    # headers are read by now (subprotocol, extensions), so they need not stay (~2 KiB).
    response.headers.clear()


class MessageAssembler:
    """Frames in, OCPP-J messages out: joins fragments, refuses what OCPP-J forbids.

    Sans-I/O and shared by both WebSocket adapters.  A binary message fails the
    protocol with 1003 (OCPP-J 1.6 §3: messages are text frames; RFC 6455 §7.4.1),
    invalid UTF-8 with 1007; the close frame is then in ``data_to_send()``.
    """

    __slots__ = ("_binary", "_fragments")

    def __init__(self) -> None:
        self._fragments: list[bytes] | None = None  # a fragmented message's parts so far
        self._binary = False

    def frame(self, protocol: ClientProtocol, frame: Frame) -> str | LinkClosed | None:
        """The whole message this frame ends, the :class:`LinkClosed` it causes, or None."""
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
            self._binary = frame.opcode is Opcode.BINARY
            if frame.fin:  # the common case: one frame, one message
                return self._message(protocol, bytes(frame.data))
            self._fragments = [bytes(frame.data)]
            return None
        if frame.opcode is not Opcode.CONT:
            return None  # ping and close are answered by the protocol object
        if self._fragments is None:
            self._fragments = []  # the protocol object refuses a stray CONT before this
        self._fragments.append(bytes(frame.data))
        if not frame.fin:
            return None
        data = b"".join(self._fragments)
        self._fragments = None
        return self._message(protocol, data)

    def _message(self, protocol: ClientProtocol, data: bytes) -> str | LinkClosed:
        if self._binary:
            log.warning("a binary message from the CSMS; failing the link with 1003")
            protocol.fail(1003, "OCPP-J uses text frames")
            return LinkClosed("a binary message from the CSMS", 1003)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            log.warning("invalid UTF-8 in a text message; failing the link with 1007")
            protocol.fail(1007, "invalid UTF-8")
            return LinkClosed("invalid UTF-8 from the CSMS", 1007)


class WebSocketOverStream:
    """A :class:`~chargepoint.transport.base.Connection` on a :class:`ByteStream`."""

    def __init__(
        self,
        stream: ByteStream,
        protocol: ClientProtocol,
        ping_interval: float,
        url: str = "",
        pong_timeout: float | None = None,
    ) -> None:
        self.url = url
        self._stream = stream
        self._protocol = protocol
        self._ping_interval = ping_interval
        self._pong_timeout = (
            pong_timeout
            if pong_timeout and pong_timeout > 0
            else _default_pong_timeout(ping_interval)
        )
        self.pings_sent = 0
        # messages (then the close) not yet taken by recv(); a deque and a future made
        # when needed, where an asyncio.Queue keeps three deques (~2 KiB) per link
        self._inbox: deque[str | LinkClosed] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._assembler = MessageAssembler()
        self._write_lock = asyncio.Lock()
        self._closed: LinkClosed | None = None
        self._heard: asyncio.Future[None] | None = None  # bytes after the last ping
        self._tasks: list[asyncio.Task[None]] = []
        self._keepalive_task: asyncio.Task[None] | None = None
        if isinstance(stream, DescribesWrites):
            stream.describe_writes(describe_frame)

    @classmethod
    async def open(
        cls,
        stream: ByteStream,
        url: str,
        headers: list[tuple[str, str]] | None = None,
        ping_interval: float = 0,
        timeout: float = 30.0,
        pong_timeout: float | None = None,
    ) -> WebSocketOverStream:
        """Run the opening handshake on ``stream``; raise :class:`LinkError` naming the reason.

        ``ping_interval`` is WebSocketPingInterval (0: no pings).  ``pong_timeout``
        defaults to :func:`~chargepoint.transport.base.pong_timeout` of the interval.
        """
        protocol = client_protocol(url, headers)
        self = cls(stream, protocol, ping_interval, url, pong_timeout)
        try:
            await self._flush()
            async with asyncio.timeout(timeout):
                response = await self._read_handshake()
        except (TimeoutError, StreamClosed) as exc:
            await stream.close()
            reason = "no handshake response" if isinstance(exc, TimeoutError) else str(exc)
            raise LinkError(f"{url}: {reason}") from exc
        except LinkError:
            await stream.close()
            raise
        log.debug("handshake done: %s %s", response.status_code, response.reason_phrase)
        self._start(self._reader(), "ws-reader")
        if ping_interval > 0:
            self._keepalive_task = self._start(self._keepalive(), "ws-keepalive")
        return self

    def _start(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(work, name=name)
        task.add_done_callback(_log_failure)
        self._tasks.append(task)
        return task

    async def _read_handshake(self) -> Response:
        while True:
            data = await self._stream.read()
            if data:
                self._protocol.receive_data(data)
            else:
                self._protocol.receive_eof()
            await self._flush()
            events = self._protocol.events_received()
            if events and isinstance(events[0], Response):
                self._check_handshake(events[0])
                # Frames that arrived in the same read as the 101 are already parsed:
                # keep them, they are the CSMS's first messages.
                for frame in events[1:]:
                    self._on_frame(frame)  # type: ignore[arg-type]
                return events[0]
            if not data:
                raise LinkError(f"{self.url}: connection closed during the handshake")

    def _check_handshake(self, response: Response) -> None:
        check_handshake(self._protocol, response, self.url)

    async def _flush(self) -> None:
        """Write what the protocol wants sent; serialised because chunks must not interleave."""
        async with self._write_lock:
            for chunk in self._protocol.data_to_send():
                if chunk:
                    await self._stream.write(chunk)

    async def _reader(self) -> None:
        try:
            while self._protocol.state is not State.CLOSED:
                data = await self._stream.read()
                if data:
                    heard = self._heard
                    if heard is not None and not heard.done():
                        heard.set_result(None)
                    self._protocol.receive_data(data)
                else:
                    self._protocol.receive_eof()
                events = self._protocol.events_received()
                for event in events:
                    self._on_frame(event)  # type: ignore[arg-type]
                with contextlib.suppress(StreamClosed):
                    await self._flush()  # pongs, close answers, and our own close frame
                if not data:
                    break
        except StreamClosed as exc:
            self._end(LinkClosed(exc.reason))
        except Exception as exc:  # a bug must end the link, not hang the charger
            log.exception("WebSocket reader failed")
            self._end(LinkClosed(f"reader failed: {exc}"))
        else:
            code, reason = close_code(self._protocol)
            self._end(LinkClosed(reason or "closed by the CSMS", code))
        finally:
            await self._close_stream()

    def _on_frame(self, frame: Frame) -> None:
        # a binary or invalid message fails the link: its close frame (1003, 1007) is
        # written by the reader's next flush, before anyone reacts
        message = self._assembler.frame(self._protocol, frame)
        if isinstance(message, LinkClosed):
            self._end(message)
        elif message is not None:
            self._put(message)

    def _end(self, closed: LinkClosed) -> None:
        if self._closed is None:
            self._closed = closed
            self._put(closed)
        # Nothing left to keep alive: the runner may never call close() on a lost
        # link, and a keepalive waking up later would ping a closed protocol.
        keepalive = self._keepalive_task
        if keepalive is not None and keepalive is not asyncio.current_task():
            keepalive.cancel()

    async def _keepalive(self) -> None:
        """Ping every interval; a peer silent for the pong timeout after a ping is dead.

        Cellular NAT and radio loss kill TCP silently, so this is how the charger
        notices.  Any bytes from the peer after the ping count as a sign of life,
        not only its pong: on a slow modem a long message can hold the pong back
        for longer than the timeout while the link is plainly working.  So a dead
        link is declared at most ``interval + pong timeout`` after the last bytes
        heard.  All timing is on the running loop's clock (virtual time works).
        """
        loop = asyncio.get_running_loop()
        interval, timeout = self._ping_interval, self._pong_timeout
        due = loop.time() + interval
        while True:
            await asyncio.sleep(max(0.0, due - loop.time()))
            if self._closed is not None or self._protocol.state is not State.OPEN:
                return  # closing or closed: pings would raise InvalidState
            self._heard = heard = loop.create_future()
            self._protocol.send_ping(b"cpsim")
            self.pings_sent += 1
            sent = loop.time()
            try:
                # The write counts against the timeout: a write stuck on a dead
                # link must not hold the verdict back.
                async with asyncio.timeout(timeout):
                    await self._flush()
                    await heard
            except TimeoutError:
                await self._declare_dead(timeout)
                return
            except StreamClosed as exc:
                self._end(LinkClosed(exc.reason))
                await self._close_stream()
                return
            # Next ping one interval after this one (at once if the pong took longer).
            due = max(sent + interval, loop.time())

    async def _declare_dead(self, timeout: float) -> None:
        log.warning("no pong nor any data within %g s of a ping: the link is dead", timeout)
        self._end(LinkClosed(f"no pong within {timeout:g} s of a keepalive ping"))
        # A parting close frame (1011, as websockets sends), in case the peer is
        # alive but deaf to pings; never waited for long, and not behind a stuck write.
        self._protocol.fail(KEEPALIVE_CLOSE, "keepalive ping timeout")
        if not self._write_lock.locked():
            with contextlib.suppress(StreamClosed, TimeoutError):
                async with asyncio.timeout(CLOSE_FRAME_BOUND):
                    await self._flush()
        await self._close_stream()

    async def _close_stream(self) -> None:
        """Close the stream from a task that :meth:`close` may cancel meanwhile.

        Shielded: cancelling a task that awaits the stream's close would cancel the
        close-waiter future that :meth:`close` itself awaits next (asyncio's
        StreamWriter.wait_closed shares one), failing it with CancelledError.
        """
        await asyncio.shield(self._stream.close())

    async def send(self, message: str) -> None:
        if self._closed is not None:
            raise self._closed
        if self._protocol.state is not State.OPEN:  # a close frame is out: no more messages
            code, reason = close_code(self._protocol)
            raise LinkClosed(reason or "the WebSocket is closing", code)
        self._protocol.send_text(message.encode("utf-8"))
        try:
            await self._flush()
        except StreamClosed as exc:
            self._end(LinkClosed(exc.reason))
            raise LinkClosed(exc.reason) from exc

    async def recv(self) -> str:
        while not self._inbox:
            if self._closed is not None:
                raise self._closed
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter
        item = self._inbox[0]
        if isinstance(item, LinkClosed):
            raise item  # it stays: every later recv() sees the close too
        self._inbox.popleft()
        return item

    def _put(self, item: str | LinkClosed) -> None:
        if self._inbox is None:
            self._inbox = deque()
        self._inbox.append(item)
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close handshake (bounded wait for the server's reply), then release the stream."""
        if self._closed is None and self._protocol.state is State.OPEN:
            self._protocol.send_close(code, reason)
            with contextlib.suppress(StreamClosed):
                await self._flush()
            reader = self._tasks[0] if self._tasks else None
            if reader is not None:
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(reader), 5.0)
        self._end(LinkClosed("closed by the charger", code))
        tasks = [t for t in self._tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)  # none outlives the link
        await self._stream.close()
