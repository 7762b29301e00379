"""One ESP-AT WebSocket link as a :class:`modem.stream.MessageStream`.

The module does the WebSocket itself (handshake, masking, pings and pongs),
so the host only moves messages: ``AT+WSSEND`` out, ``+WS_DATA`` in.  What is
left to the host is what ESP-AT does not do: turning chunks back into
messages, decoding UTF-8 only once a message is whole, and closing cleanly
(a close frame first, since ``AT+WSCLOSE`` alone just drops the TCP
connection).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from typing import TYPE_CHECKING

from modem.at import ATCommandError, ATError, ATPortError, ATRestarted
from modem.stream import StreamClosed

from .errors import MessageTooLarge
from .reassembly import MAX_MESSAGE, JsonMessageSplitter, ReassemblyError

if TYPE_CHECKING:
    from .modem import EspAtModem

log = logging.getLogger(__name__)

OPCODE_CLOSE = 8
RELEASE_WAIT = 3.0  # close(): AT+WSCLOSE after the close handshake, at most this long


def closed_by_host(code: int) -> str:
    """The reason a stream ends with once this host's close went through (the link
    reports it with the code and reason the charger closed with instead)."""
    return f"closed by this host (code {code})"


class EspAtWebSocket:
    """Created by :meth:`EspAtModem.open_websocket`; not meant to be built directly.

    ``max_send`` is the largest message one ``AT+WSSEND`` takes
    (``buffer_size - 10``).  A longer one raises :class:`MessageTooLarge`
    before anything is written, and the link stays usable.
    """

    def __init__(
        self,
        modem: EspAtModem,
        link_id: int,
        url: str,
        *,
        buffer_size: int,
        max_send: int,
        close_timeout: float = 5.0,
        max_message: int = MAX_MESSAGE,
    ) -> None:
        self.link_id = link_id
        self.url = url
        self.buffer_size = buffer_size
        self.max_send = max_send
        self.close_timeout = close_timeout
        self._modem = modem
        self._splitter = JsonMessageSplitter(max_message, chunk_size=buffer_size)
        self._messages: asyncio.Queue[str | StreamClosed] = asyncio.Queue()
        self._ended: StreamClosed | None = None
        self._send_lock = asyncio.Lock()
        self._closing = False
        self.connected = asyncio.Event()  # +WS_CONNECTED:<id> seen
        self.freed = asyncio.Event()  # +WS_CLOSED:<id>: the module freed the link

    def __repr__(self) -> str:
        return f"<EspAtWebSocket {self.link_id} {self.url}>"

    @property
    def closing(self) -> bool:
        """close() has been called (it may still be running)."""
        return self._closing

    # -- MessageStream -------------------------------------------------------

    async def send(self, message: str) -> None:
        """One text frame per message; :class:`StreamClosed` if the link is gone."""
        data = message.encode("utf-8")
        if len(data) > self.max_send:
            raise MessageTooLarge(len(data), self.max_send, self.buffer_size)
        async with self._send_lock:
            self._check_open()
            try:
                await self._modem.send_frame(self.link_id, data)
            except ATCommandError as exc:
                # ERROR after the prompt: the frame may be half on the wire, so the
                # connection is in an unknown state; only a fresh one is safe.
                reason = f"{exc}: the WebSocket link broke while sending"
                self.end(reason)
                self._modem.release_later(self)
                raise StreamClosed(reason) from exc
            except (ATPortError, ATRestarted) as exc:  # the links are gone with it
                self.end(str(exc))
                raise StreamClosed(str(exc)) from exc
            except ATError as exc:
                # No answer in time (AT+WSSEND's timeout): the module may still hold the
                # link, send the frame late or never, and keep the CSMS believing we are
                # connected.  Close it in the module before that id is opened again.
                reason = f"{exc}: link state unknown; closing it before reconnecting"
                self.end(reason)
                self._modem.link_in_doubt(self)
                raise StreamClosed(reason) from exc

    async def recv(self) -> str:
        """The next whole message; :class:`StreamClosed` once the link has ended."""
        item = await self._messages.get()
        if isinstance(item, StreamClosed):
            self._messages.put_nowait(item)  # every later recv() sees the end too
            raise StreamClosed(item.reason)
        return item

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close frame (``AT+WSSEND=<id>,n,8``), a bounded wait for ``+WS_CLOSED``, ``AT+WSCLOSE``.

        Safe to call twice and after the link has dropped.  Bounded: after
        ``close_timeout`` for the handshake and :data:`RELEASE_WAIT` for
        ``AT+WSCLOSE`` the stream ends anyway and the link is closed in the
        module in the background (a stopping charger must not wait for a
        module that stopped answering); with a module that just left a command
        unanswered, at once.
        """
        if self._closing:
            return
        self._closing = True
        handshake = self._ended is None and not self._modem.suspect
        if not await self._shutdown(code, reason, handshake=handshake):
            # The module did not answer in time (or a command just went unanswered):
            # end now and close the link in the module in the background.
            self.end(f"{closed_by_host(code)}; the module did not answer in time")
            self._modem.link_in_doubt(self)

    async def _shutdown(self, code: int, reason: str, *, handshake: bool) -> bool:
        """The close handshake and ``AT+WSCLOSE``; False if the module left them unanswered."""
        if handshake:
            payload = struct.pack("!H", code) + reason.encode("utf-8")[:123]
            sent = False
            try:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.close_timeout):
                        async with self._send_lock:
                            await self._modem.send_frame(self.link_id, payload, OPCODE_CLOSE)
                        sent = True
                        await self.freed.wait()
            except ATCommandError as exc:
                log.info("link %d: close frame not sent: %s", self.link_id, exc)
                sent = True  # answered: the module is there
            except ATError as exc:
                log.info("link %d: close frame not sent: %s", self.link_id, exc)
            if not sent:
                return False
        elif self._modem.suspect:
            return False
        self.end(closed_by_host(code))
        # Even after +WS_CLOSED (the module freed the link) the recipe ends with
        # AT+WSCLOSE: it is what makes sure the TCP connection is gone.
        try:
            async with asyncio.timeout(RELEASE_WAIT):
                await self._modem.release(self.link_id)
        except TimeoutError:
            return False
        self._modem.forget(self)
        return True

    # -- driven by EspAtModem (URC handlers: synchronous, on the reader task) ----

    def on_data(self, chunk: bytes) -> None:
        if self._ended is not None:
            return
        try:
            messages = self._splitter.feed(chunk)
        except ReassemblyError as exc:
            self._fail_with_close(str(exc), 1009)
            return
        for data in messages:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                self._fail_with_close("invalid UTF-8 in a text message from the CSMS", 1007)
                return
            self._messages.put_nowait(text)

    def on_closed(self) -> None:
        """``+WS_CLOSED``: a close frame arrived (the CSMS's, or the answer to ours)."""
        self.freed.set()
        if not self._closing:  # else close() ends the stream once it is done
            self.end(
                f"+WS_CLOSED:{self.link_id}: the CSMS closed the WebSocket "
                "(ESP-AT does not report the close code)"
            )

    def on_disconnected(self) -> None:
        """``+WS_DISCONNECTED``: TCP/TLS loss or pong timeout; the module keeps the link."""
        self.end(
            f"+WS_DISCONNECTED:{self.link_id}: the connection to the CSMS dropped "
            "(Wi-Fi or TCP loss, or no pong within the ping timeout)"
        )

    def end(self, reason: str) -> None:
        """Finish the stream: pending and later ``recv()``/``send()`` raise StreamClosed."""
        if self._ended is not None:
            return
        if self._splitter.pending:
            log.warning(
                "link %d: %d bytes of an unfinished message dropped",
                self.link_id,
                self._splitter.pending,
            )
        self._splitter.reset()
        if not self._closing:
            log.warning("link %d (%s): %s", self.link_id, self.url, reason)
        self._ended = StreamClosed(reason)
        self._messages.put_nowait(self._ended)
        self.connected.set()  # wakes an open_websocket() still waiting for +WS_CONNECTED

    def _fail_with_close(self, reason: str, code: int) -> None:
        self.end(f"{reason}; closing with {code}")
        if not self._closing:
            self._closing = True
            self._modem.spawn(self._fail_shutdown(code))

    async def _fail_shutdown(self, code: int) -> None:
        if not await self._shutdown(code, "", handshake=True):
            self._modem.link_in_doubt(self)

    def _check_open(self) -> None:
        if self._ended is not None:
            raise StreamClosed(self._ended.reason)
        if self._closing:  # no data frame may follow our close frame (RFC 6455 5.5.1)
            raise StreamClosed(f"link {self.link_id} is closing: nothing more is sent")
