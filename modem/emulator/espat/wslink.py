"""A real WebSocket client behind one ESP-AT link id, with esp_websocket_client's habits.

What the host sees is what ESP-AT prints (reference B.4): every received
frame (each fragment of a fragmented message on its own) cut into
``+WS_DATA`` records of at most ``buffer_size`` bytes with no boundary marks;
pings and pongs answered and tracked silently; a close frame from the server
as ``+WS_CLOSED`` (link freed); any other loss as ``+WS_DISCONNECTED`` (link
kept, optionally reconnected by itself).

esp_websocket_client reads a frame in pieces of up to ``buffer_size`` and a
piece is shorter when TCP delivered less.  Loopback TCP nearly always delivers
everything, so ``ws_piece_seed`` (``--ws-short-pieces SEED``) makes every
piece a random 1..buffer_size bytes, reproducibly, to exercise the host's
reassembly the way a slow Wi-Fi link would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
import struct
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI, ProtocolError
from websockets.typing import Subprotocol

from modem.emulator.espat.state import WsConfig
from modem.emulator.espat.tlsctx import clock_refusal, module_context

if TYPE_CHECKING:
    from modem.emulator.espat.dialect import EspAt

log = logging.getLogger("modem.emulator.espat")

USER_AGENT = "ESP32 Websocket Client"  # esp_websocket_client's default
CONNECTED, RECONNECTING, DISCONNECTED = 2, 1, 3  # AT+WSOPEN? <state>


def raw_frame(opcode: int, data: bytes) -> bytes:
    """A masked client frame with FIN set, built by hand.

    For what websockets refuses to send but the module would: a lone
    continuation frame (``AT+WSSEND=..,0`` on firmware without ``<fin>``)
    or a reserved opcode.  The server answers both with a 1002 close.
    """
    n = len(data)
    if n < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    mask = os.urandom(4)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


class WsLink:
    """One ``link_id`` between AT+WSOPEN and its end (AT+WSCLOSE, close frame, reset)."""

    def __init__(
        self,
        m: EspAt,
        link_id: int,
        uri: str,
        *,
        subprotocol: str,
        timeout: float | None,
        auth: str,
        headers: list[str],
        config: WsConfig,
    ) -> None:
        self.m = m
        self.link_id = link_id
        self.uri = uri
        self.subprotocol = subprotocol
        self.timeout = timeout
        self.auth = auth
        self.headers = list(headers)  # WSHEAD is read when the link opens
        self.config = WsConfig(**vars(config))
        self.state = RECONNECTING
        self.ws: ClientConnection | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def current(self) -> bool:
        """Still the module's link for this id (not closed, freed or reset meanwhile)."""
        return self.m.state.links.get(self.link_id) is self

    # -- opening -------------------------------------------------------------------

    def _request_headers(self) -> list[tuple[str, str]]:
        headers = []
        for text in self.headers:
            name, _, value = text.partition(":")
            headers.append((name.strip(), value.strip()))
        if self.auth:  # WSOPEN's <"auth"> is the Authorization value (RFC 6455 4.1)
            headers = [h for h in headers if h[0].lower() != "authorization"]
            headers.append(("Authorization", self.auth))
        return headers

    def _ssl(self) -> ssl.SSLContext | None:
        """The link's TLS from AT+WSCFG's auth_mode and wss_* (None: ws://)."""
        if not self.uri.startswith("wss://"):
            return None
        return module_context(self.m, self.config.auth_mode, "wss")

    async def _doomed_handshake(self, why: str) -> bool:
        """A TLS open that fails in the handshake: TCP and a ClientHello reach the server,
        then the module gives up (``why``, as its mbedTLS would log it); False (ERROR)."""
        self.m.last_tls_error = why
        log.info("link %d: WSOPEN %s failed: %s", self.link_id, self.uri, why)
        parts = urlsplit(self.uri)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with contextlib.suppress(OSError, TimeoutError):
            async with asyncio.timeout(self.timeout or 15.0):
                _, writer = await asyncio.open_connection(
                    parts.hostname, parts.port or 443, ssl=context, server_hostname=parts.hostname
                )
                writer.transport.abort()  # no close_notify: the module just drops it
        return False

    async def connect(self) -> bool:
        """The handshake; False on any failure (the module says only ERROR)."""
        if not self.m.state.online:
            return False
        if self.uri.startswith("wss://"):
            if self.m.take_tls_failure():
                return await self._doomed_handshake("fault: TLS handshake failure")
            if (refusal := clock_refusal(self.m, self.config.auth_mode)) is not None:
                return await self._doomed_handshake(refusal)
        try:
            context = self._ssl()
        except (ssl.SSLError, ValueError) as exc:
            self.m.last_tls_error = f"esp-tls setup: {exc}"
            log.info("link %d: WSOPEN %s failed: %s", self.link_id, self.uri, exc)
            return False
        try:
            async with asyncio.timeout(self.timeout):
                self.ws = await connect(
                    self.uri,
                    subprotocols=[Subprotocol(self.subprotocol)] if self.subprotocol else None,
                    additional_headers=self._request_headers(),
                    user_agent_header=USER_AGENT,
                    compression=None,  # esp_websocket_client has no permessage-deflate
                    proxy=None,
                    ssl=context,
                    open_timeout=None,
                    ping_interval=self.config.ping_interval,
                    ping_timeout=self.config.ping_timeout,
                    close_timeout=5,
                    max_size=None,  # read in buffer_size pieces: no limit
                )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI, ValueError) as exc:
            if isinstance(exc, ssl.SSLError):
                self.m.last_tls_error = str(exc)
            log.info("link %d: WSOPEN %s failed: %s", self.link_id, self.uri, exc)
            return False
        self.state = CONNECTED
        return True

    def start(self) -> None:
        self._task = self.m.engine.spawn(self._pump())

    # -- receiving -------------------------------------------------------------------

    async def _pump(self) -> None:
        ws = self.ws
        assert ws is not None
        close_frame = False
        try:
            while True:
                async for frame in ws.recv_streaming(decode=False):
                    assert isinstance(frame, bytes)  # decode=False
                    await self._emit(frame)
        except ConnectionClosed as exc:
            close_frame = exc.rcvd is not None
        if not self.current:
            return  # AT+WSCLOSE or a reset ended it: the module prints nothing
        if close_frame:
            del self.m.state.links[self.link_id]
            self.m.engine.urc(f"+WS_CLOSED:{self.link_id}")
            return
        self.state = DISCONNECTED
        self.m.engine.urc(f"+WS_DISCONNECTED:{self.link_id}")
        if self.m.config.ws_auto_reconnect:
            self._task = self.m.engine.spawn(self._reconnect())

    async def _emit(self, frame: bytes) -> None:
        """One ``+WS_DATA`` record per piece of ``frame``, each written out before the next.

        The module has a small UART buffer, not an unbounded queue: while the
        host reads slowly, the WebSocket client stops reading and TCP pushes
        back on the CSMS.  Without that wait a flood from the server would queue
        megabytes ahead of the next prompt, and a close (AT+WSSEND opcode 8)
        would wait for all of it.
        """
        output = self.m.engine.output
        size = self.config.buffer_size
        short = self.m.piece_sizes
        start = 0
        while True:  # an empty frame still gives one (empty) record
            end = start + (size if short is None else short.randint(1, size))
            piece = frame[start:end]
            record = b"+WS_DATA:%d,%d," % (self.link_id, len(piece)) + piece + b"\r\n"
            await output.written(output.send(record))  # its own bytes, not the whole queue
            if end >= len(frame):
                return
            start = end

    async def _reconnect(self) -> None:
        """esp_websocket_client's auto-reconnect (WEBSOCKET_RECONNECT_TIMEOUT_MS)."""
        while self.current:
            await asyncio.sleep(self.m.timing.ws_reconnect)
            self.state = RECONNECTING
            if self.current and await self.connect():
                if not self.current:
                    self.abort()
                    return
                self.m.engine.urc(f"+WS_CONNECTED:{self.link_id}")
                self._task = None
                self.start()
                return
            self.state = DISCONNECTED

    # -- sending ---------------------------------------------------------------------

    async def send(self, data: bytes, opcode: int) -> bool:
        """One frame with FIN set (v4.0 ... v5.0.1 have no ``<fin>``); False = ERROR."""
        ws = self.ws
        if ws is None or self.state != CONNECTED:
            return False
        try:
            if opcode == 1:
                await ws.send(data, text=True)  # bytes as they came: not validated
            elif opcode == 2:
                await ws.send(data)
            elif opcode == 8:
                self._close_frame(ws, data)
            elif opcode == 9:
                await ws.ping(data)  # the pong is tracked silently
            elif opcode == 10:
                await ws.pong(data)
            else:
                ws.transport.write(raw_frame(opcode, data))
        except (ConnectionClosed, ValueError, TypeError) as exc:
            log.info("link %d: WSSEND failed: %s", self.link_id, exc)
            return False
        return True

    def _close_frame(self, ws: ClientConnection, data: bytes) -> None:
        """Start the closing handshake; the server's answer prints ``+WS_CLOSED``."""
        code = int.from_bytes(data[:2], "big") if len(data) >= 2 else 1000
        reason = data[2:].decode("utf-8", "replace")
        self.m.engine.spawn(self._close(ws, code, reason))

    async def _close(self, ws: ClientConnection, code: int, reason: str) -> None:
        try:
            await ws.close(code, reason)
        except (ValueError, TypeError, ProtocolError):  # a code websockets refuses (1005, ...)
            ws.transport.write(raw_frame(8, struct.pack("!H", code) + reason.encode()))

    # -- ending ----------------------------------------------------------------------

    def drop(self) -> None:
        """Network loss (fault): TCP aborted, the pump reports ``+WS_DISCONNECTED``."""
        if self.ws is not None:
            self.ws.transport.abort()

    def abort(self) -> None:
        """Reset or Wi-Fi off: gone at once, nothing printed by this link."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self.ws is not None:
            self.ws.transport.abort()

    async def close(self) -> None:
        """AT+WSCLOSE: starts a TCP close, no close frame, nothing printed."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.ws is not None:
            self.ws.transport.close()

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.link_id,
            "state": self.state,
            "uri": self.uri,
            "subprotocol": self.subprotocol,
            "buffer_size": self.config.buffer_size,
            "ping": [self.config.ping_interval, self.config.ping_timeout],
        }
