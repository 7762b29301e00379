"""A real HTTP/1.1 client behind the emulated ESP-AT HTTP commands, with esp_http_client's habits.

h11 (the sans-I/O HTTP library the charger's own transfers use) over asyncio
streams: one connection per command, closed after it, as every ESP-AT HTTP
command opens and closes its own (reference B.6).  What it keeps of
esp_http_client:

* the request goes out only if its line and headers fit the ``<tx size>``
  buffer; ``User-Agent: ESP32 HTTP Client/1.0``; a ``user:pw@`` in the URL is
  sent as Basic authorization [verify on hardware];
* redirects are not followed: a 3xx's own body is the body;
* the body is read in pieces of at most ``<rx size>`` bytes, one per socket
  read, so pieces are often shorter;
* ``timeout`` bounds each network operation (connect, each read), not the
  whole transfer; a connection that drops or stalls mid-body just ends the body
  (ESP-AT then says OK: only the host's size check tells it was cut).

Faults (:class:`BodyFaults`): the connection cut after some body bytes, and a
slow server (pieces paced to a rate).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import h11

log = logging.getLogger("modem.emulator.espat")

USER_AGENT = "ESP32 HTTP Client/1.0"  # esp_http_client's DEFAULT_HTTP_USER_AGENT
MAX_HEAD = 16 * 1024  # esp_http_client gives up on longer response headers


class RequestFailed(Exception):
    """No answer: the host did not resolve or connect, the request did not fit the tx
    buffer, or the connection broke before the response head."""


@dataclass(frozen=True)
class BodyFaults:
    """``cut_after``: body bytes after which the connection drops (-1: half of the
    Content-Length); ``rate``: body bytes a second at most (a slow server)."""

    cut_after: int | None = None
    rate: float | None = None


@dataclass(frozen=True)
class RequestTarget:
    scheme: str
    host: str
    port: int
    target: str  # path and query, as sent on the request line
    auth: str | None  # "user:password" from the URL

    @classmethod
    def parse(cls, url: str) -> RequestTarget | None:
        """``http[s]://[user:pw@]host[:port]/path[?query]``; None for anything else."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return None
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            return None
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        auth = None
        if parts.username is not None:
            auth = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        default = 443 if scheme == "https" else 80
        return cls(scheme, parts.hostname, port or default, target, auth)

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


class EspHttpExchange:
    """One request and its response on its own connection (use ``async with``)."""

    def __init__(
        self,
        target: RequestTarget,
        *,
        timeout: float,
        tx_size: int,
        rx_size: int,
        faults: BodyFaults,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.target = target
        self.timeout = timeout
        self.tx_size = tx_size
        self.rx_size = rx_size
        self.faults = faults
        self.tls = tls  # https: the context AT+HTTPCFG set up (None: auth_mode 0)
        self.status = 0
        self.content_length: int | None = None
        self.cut = False  # the body ended before its end (drop, stall or fault)
        self._conn = h11.Connection(h11.CLIENT)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def __aenter__(self) -> EspHttpExchange:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.transport.abort()  # the module drops its connection after each command

    async def request(
        self, method: str, headers: list[tuple[str, str]], body: bytes | None = None
    ) -> None:
        """Connect, send the request and read the response head (status, length)."""
        head = self._head(method, headers, body)
        await self._connect()
        data = head + (self._conn.send(h11.Data(data=body)) if body else b"")
        await self._write(data + self._conn.send(h11.EndOfMessage()))
        await self._read_head()

    async def send_cut(
        self, method: str, headers: list[tuple[str, str]], body: bytes, keep: int
    ) -> None:
        """The transfer-cut fault on an upload: the connection drops after ``keep`` body
        bytes went out."""
        head = self._head(method, headers, body)
        await self._connect()
        await self._write(head + body[:keep])

    async def _write(self, data: bytes) -> None:
        assert self._writer is not None
        try:
            self._writer.write(data)
            async with asyncio.timeout(self.timeout):
                await self._writer.drain()
        except (OSError, TimeoutError) as exc:
            raise RequestFailed(f"sending the request failed: {exc}") from None

    def _head(self, method: str, headers: list[tuple[str, str]], body: bytes | None) -> bytes:
        t = self.target
        fields = [("Host", t.host_header), ("User-Agent", USER_AGENT)]
        if t.auth is not None:
            fields.append(("Authorization", "Basic " + base64.b64encode(t.auth.encode()).decode()))
        given = {name.lower() for name, _ in headers}
        fields += [(k, v) for k, v in headers if k.lower() not in ("host", "content-length")]
        if body is not None:
            if "content-type" not in given:
                fields.append(("Content-Type", "application/x-www-form-urlencoded"))
            fields.append(("Content-Length", str(len(body))))
        try:
            head = self._conn.send(h11.Request(method=method, target=t.target, headers=fields))
        except h11.LocalProtocolError as exc:
            raise RequestFailed(f"request refused by h11: {exc}") from None
        if len(head) > self.tx_size:
            raise RequestFailed(f"request head of {len(head)} bytes > tx size {self.tx_size}")
        return head

    async def _connect(self) -> None:
        t = self.target
        tls: ssl.SSLContext | None = None
        if t.scheme == "https" and self.tls is not None:
            tls = self.tls
        elif t.scheme == "https":  # AT+HTTPCFG auth_mode 0 (the default): no verification
            tls = ssl.create_default_context()
            tls.check_hostname = False
            tls.verify_mode = ssl.CERT_NONE
        try:
            async with asyncio.timeout(self.timeout):
                self._reader, self._writer = await asyncio.open_connection(
                    t.host, t.port, ssl=tls, limit=self.rx_size
                )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise RequestFailed(f"connect to {t.host}:{t.port} failed: {exc}") from None

    async def _read(self) -> bytes:
        """One socket read of at most rx size bytes; b"" when it ended or stalled."""
        assert self._reader is not None
        try:
            async with asyncio.timeout(self.timeout):
                return await self._reader.read(self.rx_size)
        except (OSError, TimeoutError):
            return b""

    async def _read_head(self) -> None:
        seen = 0
        while True:
            try:
                event = self._conn.next_event()
            except h11.RemoteProtocolError as exc:
                raise RequestFailed(f"bad response: {exc}") from None
            if event is h11.NEED_DATA:
                data = await self._read()
                seen += len(data)
                if seen > MAX_HEAD + self.rx_size:
                    raise RequestFailed("response head too long")
                self._conn.receive_data(data)
                if not data and self._conn.their_state is h11.SEND_RESPONSE:
                    raise RequestFailed("connection ended before the response head")
                continue
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                self.status = event.status_code
                for name, value in event.headers:
                    if name == b"content-length" and value.isdigit():
                        self.content_length = int(value)
                return
            raise RequestFailed(f"unexpected {type(event).__name__} before the response")

    async def body(self) -> AsyncIterator[bytes]:
        """The body in pieces (one per socket read, at most rx size each), faults applied."""
        cut_after = self.faults.cut_after
        if cut_after is not None and cut_after < 0:
            cut_after = (self.content_length or 0) // 2
        rate = self.faults.rate
        sent = 0
        while True:
            try:
                event = self._conn.next_event()
            except h11.RemoteProtocolError:
                self.cut = True  # e.g. the peer closed before Content-Length was reached
                return
            if isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                return
            if event is h11.NEED_DATA:
                data = await self._read()
                if not data:
                    if self._conn.their_state is h11.SEND_BODY:
                        self._conn.receive_data(b"")  # peer closed: h11 decides if that ends it
                        continue
                    return
                self._conn.receive_data(data)
                continue
            if not isinstance(event, h11.Data):
                continue
            piece = bytes(event.data)
            while piece:
                chunk = piece[: self.rx_size]
                piece = piece[self.rx_size :]
                if cut_after is not None and sent + len(chunk) >= cut_after:
                    chunk = chunk[: cut_after - sent]
                    if chunk:
                        yield chunk
                    log.info(
                        "transfer-cut fault: connection dropped after %d body bytes", cut_after
                    )
                    self.cut = True
                    return
                if rate:
                    await asyncio.sleep(len(chunk) / rate)
                sent += len(chunk)
                yield chunk


@contextlib.asynccontextmanager
async def exchange(
    url: str,
    *,
    timeout: float,
    tx_size: int,
    rx_size: int,
    faults: BodyFaults,
    tls: ssl.SSLContext | None = None,
) -> AsyncIterator[EspHttpExchange]:
    target = RequestTarget.parse(url)
    if target is None:
        raise RequestFailed(f"not an http:// or https:// URL: {url[:80]!r}")
    async with EspHttpExchange(
        target, timeout=timeout, tx_size=tx_size, rx_size=rx_size, faults=faults, tls=tls
    ) as ex:
        yield ex
