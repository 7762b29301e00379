"""HTTP/1.1 downloads and uploads spoken by h11 over any :class:`ByteStream`.

The same byte-stream interface the WebSocket runs on carries a firmware
download or a diagnostics upload: a host TCP socket (direct link, optionally
TLS) or a second QI socket of an EC200U (modem-at.md A.16 (a)).  h11 is the
Sans-I/O HTTP/1.1 state machine: bytes in, events out, resumable at any split,
so the bytes of ``AT+QIRD`` are fed to it as they come.

One request per connection, ``Connection: close`` (A.16 (a): the end of the
body is then also signalled by the peer's close), exactly one ``Host`` header
(with ``:port`` when not the scheme's default, RFC 9112 §3.2), Content-Length
framing for a PUT.  Everything from outside is bounded: the response head
(``HEAD_MAX``), the body (``max_bytes``: refused from Content-Length before a
byte of it is read, or as soon as a chunked body passes it), the silence
between two reads (``idle_timeout``), the redirects a GET follows
(``MAX_REDIRECTS``).  A body shorter than its Content-Length is a
:class:`TransferError` "cut after N of M bytes", never a short file.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urljoin, urlsplit

import h11

from modem.stream import ByteStream, StreamClosed

from .transfer import TransferError, TransferTooLarge

__all__ = [
    "HEAD_MAX",
    "MAX_REDIRECTS",
    "URL_MAX",
    "HttpClient",
    "HttpTarget",
    "StreamOpener",
]

HEAD_MAX = 16 * 1024
"""The largest response head (status line and headers) accepted, in bytes."""
URL_MAX = 2048
"""The longest URL accepted (OCPP's anyURI has no bound; common servers stop at 2-8 kB)."""
MAX_REDIRECTS = 3
"""Redirects a download follows (301, 302, 303, 307, 308); uploads follow none."""
PUT_PIECE = 16 * 1024
"""An upload body is written in pieces of this size, so the idle timeout applies to each."""
USER_AGENT = "cpsim-firmware/1"
DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


@dataclass(frozen=True)
class HttpTarget:
    """Where one request goes.  The password is never in :attr:`where` nor in a repr."""

    scheme: str
    host: str
    port: int
    target: str
    """The request target as sent: the path (percent-encoded) and ``?query``."""
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str, filename: str | None = None) -> HttpTarget:
        """``http[s]://[user:pw@]host[:port]/path[?q]``; ``filename`` is appended to the
        path as to a directory (OCPP GetDiagnostics gives a directory location)."""
        if len(url) > URL_MAX:
            raise TransferError(f"URL of {len(url)} characters (more than {URL_MAX})")
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise TransferError(f"not an http:// or https:// URL: {scheme or '(no scheme)'}://")
        try:
            port = parts.port or DEFAULT_PORTS[scheme]
        except ValueError:
            raise TransferError(f"{scheme}://{parts.hostname}: bad port number") from None
        host = parts.hostname or ""
        if not host:
            raise TransferError(f"{scheme}:// URL without a host")
        path = quote(parts.path or "/", safe=_PATH_SAFE)
        if filename is not None:
            if not filename or "/" in filename or filename in (".", ".."):
                raise TransferError(f"bad file name for an upload: {filename!r}")
            path = path.rstrip("/") + "/" + quote(filename, safe="")
        query = quote(parts.query, safe=_PATH_SAFE + "?")
        target = path + (f"?{query}" if query else "")
        user = unquote(parts.username) if parts.username is not None else None
        password = unquote(parts.password) if parts.password is not None else None
        return cls(scheme, host, port, target, user, password)

    @property
    def host_header(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == DEFAULT_PORTS[self.scheme] else f"{name}:{self.port}"

    @property
    def where(self) -> str:
        """The URL without credentials, for messages and logs."""
        return f"{self.scheme}://{self.host_header}{self.target}"

    def request_headers(self, body_length: int | None) -> list[tuple[str, str]]:
        headers = [
            ("Host", self.host_header),
            ("User-Agent", USER_AGENT),
            ("Accept", "*/*"),
            ("Connection", "close"),
        ]
        if self.user is not None:
            token = f"{self.user}:{self.password or ''}".encode()
            headers.append(("Authorization", "Basic " + base64.b64encode(token).decode()))
        if body_length is not None:
            headers.append(("Content-Type", "application/octet-stream"))
            headers.append(("Content-Length", str(body_length)))
        return headers


StreamOpener = Callable[[HttpTarget], Awaitable[ByteStream]]
"""Opens a byte stream to ``target.host:target.port`` (TLS for https where the link can);
raises :class:`TransferError` (e.g. :class:`UnsupportedScheme`) naming why not."""


@dataclass(frozen=True)
class _Head:
    status: int
    reason: str
    content_length: int | None
    location: str | None


def _head(response: h11.Response) -> _Head:
    length = location = None
    for name, value in response.headers:
        if name == b"content-length":
            length = int(value)  # h11 has checked it is one decimal number
        elif name == b"location":
            location = value.decode("latin-1")
    reason = response.reason.decode("latin-1", "replace").strip()[:80]
    return _Head(response.status_code, reason, length, location)


class ExchangePhase(enum.Enum):
    """Where an exchange is, for naming a failure: before the response head, in its body."""

    REQUEST = "request"
    HEAD = "head"
    BODY = "body"
    DONE = "done"


class _Exchange:
    """One request and its response over one stream (the driver around h11)."""

    def __init__(self, stream: ByteStream, target: HttpTarget, idle_timeout: float) -> None:
        self.stream = stream
        self.target = target
        self.idle_timeout = idle_timeout
        self.conn = h11.Connection(h11.CLIENT, max_incomplete_event_size=HEAD_MAX)
        self.phase = ExchangePhase.REQUEST
        self.expected: int | None = None  # the response's Content-Length
        self.body_bytes = 0  # of the response body, so far
        self._eof = False

    async def send(self, event: h11.Event) -> None:
        data = self.conn.send(event)
        if data:
            async with asyncio.timeout(self.idle_timeout):
                await self.stream.write(data)

    async def send_request(self, method: str, body: bytes | None) -> None:
        length = None if body is None else len(body)
        headers = self.target.request_headers(length)
        await self.send(h11.Request(method=method, target=self.target.target, headers=headers))
        for start in range(0, len(body or b""), PUT_PIECE):
            assert body is not None
            await self.send(h11.Data(data=body[start : start + PUT_PIECE]))
        await self.send(h11.EndOfMessage())

    async def next_event(self) -> h11.Event:
        """The next response event, reading as needed; h11's errors named for a person."""
        while True:
            try:
                event = self.conn.next_event()
            except h11.RemoteProtocolError as exc:
                why = "the connection closed" if self._eof else str(exc)
                raise self._broken(why, cut=self._eof) from None
            if event is not h11.NEED_DATA:
                assert isinstance(event, h11.Event)
                return event
            if self._eof:  # h11 wants more after the end: it raises above; be safe
                raise self._broken("the connection closed", cut=True)
            try:
                async with asyncio.timeout(self.idle_timeout):
                    data = await self.stream.read()
            except TimeoutError:
                raise self._broken(
                    f"nothing received for {self.idle_timeout:g} s", cut=True
                ) from None
            except StreamClosed as exc:
                raise self._broken(exc.reason, cut=True) from None
            self._eof = not data
            self.conn.receive_data(data)

    def _broken(self, why: str, *, cut: bool = False) -> TransferError:
        """The error for a failed read: ``cut`` when the bytes stopped coming (EOF, the
        link lost, silence), not when they came and made no sense."""
        where = self.target.where
        if self.phase is ExchangePhase.BODY:
            if not cut:
                return TransferError(f"{where}: bad HTTP body after {self.body_bytes} bytes: {why}")
            of = f" of {self.expected}" if self.expected is not None else ""
            return TransferError(f"{where}: cut after {self.body_bytes}{of} bytes ({why})")
        if "buffer too long" in why:  # h11's words for max_incomplete_event_size
            return TransferError(f"{where}: response head larger than {HEAD_MAX} bytes")
        if self._eof and self.conn.their_state in (h11.SEND_RESPONSE, h11.ERROR):
            return TransferError(f"{where}: the server closed the connection without a response")
        return TransferError(f"{where}: bad HTTP response: {why}")

    async def response(self) -> _Head:
        self.phase = ExchangePhase.HEAD
        while True:
            event = await self.next_event()
            if isinstance(event, h11.InformationalResponse):
                continue  # 100 Continue and friends: the real answer follows
            if isinstance(event, h11.Response):
                # h11 bounds a head that arrives in pieces; one that came whole in a
                # single read is measured here, so the bound holds either way
                size = len(event.reason) + sum(len(n) + len(v) + 4 for n, v in event.headers)
                if size + 17 > HEAD_MAX:
                    raise self._broken("Receive buffer too long")
                head = _head(event)
                self.expected = head.content_length
                self.phase = ExchangePhase.BODY
                return head
            raise TransferError(
                f"{self.target.where}: the server closed the connection without a response"
            )

    async def body(self, max_bytes: int) -> bytes:
        chunks: list[bytes] = []
        while True:
            event = await self.next_event()
            if isinstance(event, h11.Data):
                self.body_bytes += len(event.data)
                if self.body_bytes > max_bytes:
                    raise TransferTooLarge(
                        f"{self.target.where}: more than the {max_bytes} bytes allowed "
                        "(the body had not ended)"
                    )
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                self.phase = ExchangePhase.DONE
                return b"".join(chunks)
            else:  # ConnectionClosed cannot come before EndOfMessage; name it anyway
                raise self._broken(type(event).__name__, cut=True)


def _status_error(target: HttpTarget, head: _Head) -> TransferError:
    text = f"{target.where}: HTTP {head.status} {head.reason}".rstrip()
    if head.status in (401, 403):
        text += " (check the credentials in the URL)"
    return TransferError(text)


@dataclass
class HttpClient:
    """GET and PUT over streams from ``open_stream``; one connection per request."""

    open_stream: StreamOpener
    idle_timeout: float = 60.0
    """Longest silence (no byte read or written) before the transfer is given up."""
    max_redirects: int = MAX_REDIRECTS

    async def get(self, url: str, max_bytes: int) -> bytes:
        """The whole body at ``url``; follows up to ``max_redirects`` redirects."""
        for _ in range(self.max_redirects + 1):
            target = HttpTarget.parse(url)
            location = None
            stream = await self.open_stream(target)
            try:
                exchange = _Exchange(stream, target, self.idle_timeout)
                await self._request(exchange, "GET", None)
                head = await exchange.response()
                if head.status in REDIRECTS and head.location:
                    location = urljoin(url, head.location)
                elif head.status >= 300 or head.status < 200:
                    raise _status_error(target, head)
                elif head.content_length is not None and head.content_length > max_bytes:
                    # known before a byte of the body is read: refuse at once
                    raise TransferTooLarge(
                        f"{target.where}: {head.content_length} bytes, more than the "
                        f"{max_bytes} bytes allowed"
                    )
                else:
                    return await exchange.body(max_bytes)
            finally:
                await _close(stream)
            url = location
        raise TransferError(
            f"{HttpTarget.parse(url).where}: more than {self.max_redirects} redirects"
        )

    async def put(self, url: str, filename: str, data: bytes) -> None:
        """PUT ``data`` as ``filename`` in the directory ``url``; returns once the server
        answered 2xx (its body is not read).  Redirects are not followed."""
        target = HttpTarget.parse(url, filename)
        stream = await self.open_stream(target)
        try:
            exchange = _Exchange(stream, target, self.idle_timeout)
            try:
                await self._request(exchange, "PUT", data)
            except TransferError as sending:
                # The server may have refused early (413) and closed: its answer says why.
                try:
                    head = await exchange.response()
                except TransferError:
                    raise sending from None
                raise _status_error(target, head) from None
            head = await exchange.response()
            if not 200 <= head.status < 300:
                raise _status_error(target, head)
        finally:
            await _close(stream)

    async def _request(self, exchange: _Exchange, method: str, body: bytes | None) -> None:
        where = exchange.target.where
        try:
            await exchange.send_request(method, body)
        except TimeoutError:
            raise TransferError(f"{where}: sending stalled for {self.idle_timeout:g} s") from None
        except StreamClosed as exc:
            raise TransferError(f"{where}: connection lost while sending: {exc.reason}") from None
        except h11.LocalProtocolError as exc:  # a URL h11 will not put in a request
            raise TransferError(f"{where}: cannot send this request: {exc}") from None


async def _close(stream: ByteStream) -> None:
    with contextlib.suppress(StreamClosed, OSError):
        await stream.close()
