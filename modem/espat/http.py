"""File transfers through the ESP-AT module's own HTTP client (reference B.6).

The module speaks HTTP itself; the host only moves the body over the UART:

* download: ``AT+HTTPGETSIZE`` first (its Content-Length: a file over the
  charger's limit is refused before one body byte crosses the UART), then
  ``AT+HTTPCGET``, whose body comes as ``+HTTPCGET:<n>,`` + n raw bytes
  records, reassembled here by their lengths (never line-scanned: a firmware
  image holds CR, LF and ``OK``), and the total compared with the size;
* upload: ``AT+HTTPCPUT`` (v3.0+; ``AT+HTTPCPOST`` on older firmware, which
  refuses PUT before its prompt), the ``>`` prompt, exactly the announced bytes,
  the server's answer as records, then ``SEND OK`` / ``SEND FAIL`` / ``ERROR``.

What ESP-AT does not tell, and what follows from it:

* **No status code for 2xx and 3xx.**  Both end in ``OK`` / ``SEND OK`` and
  redirects are not followed, so a firmware URL that redirects yields the
  redirect page itself (GETSIZE reports its length too: the size check cannot
  catch it).  Give the charger the final URL.  A status >= 400 ends in
  ``ERROR`` after the error page's records; its code shows only with
  ``AT+SYSLOG=1`` (``ERR CODE:0x010a7<status in hex>``), read here when present.
* **A cut transfer also ends in OK**: only the comparison with GETSIZE (which
  checks no status) tells a cut body from a whole one.
* Every command blocks the module (``busy p...`` to any input): the driver runs
  one command at a time, so the OCPP WebSocket's sends wait for the transfer,
  while its ``+WS_DATA`` records, which may arrive between HTTP records, still
  reach the WebSocket (both are routed by their header, not by the command).
* A command line is at most 256 bytes (B.1): a longer URL goes through
  ``AT+HTTPURLCFG`` (up to 8192 bytes, ``SET OK``) and ``""`` in its place,
  cleared with ``AT+HTTPURLCFG=0`` afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from modem.at import ATCommandError, ATError, ATTimeout, Urc
from modem.at.trace import mask_text

from .dialect import BUSY, HTTP_RECORDS, MAX_COMMAND, MAX_HTTP_PIECE, command_bytes, quote
from .errors import HttpBodyTooLarge, HttpTransferError, HttpUrlTooLong

if TYPE_CHECKING:
    from .modem import EspAtModem

log = logging.getLogger(__name__)

URLCFG_RANGE = (8, 8192)  # AT+HTTPURLCFG <url length>
BUFFER_RANGE = (0, MAX_HTTP_PIECE)  # <tx size> / <rx size>
TIMEOUT_MS_MAX = 180_000  # <timeout> of AT+HTTPGETSIZE / AT+HTTPCGET
# esp_http_client writes the request line and headers into its tx buffer: a long
# URL needs a larger one, else the request fails before it is sent.
REQUEST_OVERHEAD = 512
DEFAULT_TX = 2048
# A record's header and CR LF, and the smallest piece a socket read is assumed to
# give, for the wire time of a body (pieces are what one read gave: often short).
RECORD_OVERHEAD = len("+HTTPCGET:10240,\r\n")
SMALLEST_PIECE = 256
_ERR_CODE = re.compile(r"ERR CODE:0x010a7([0-9a-fA-F]{3})\b")


def shown(url: str) -> str:
    """``url`` for a message: the password of ``user:pw@`` masked."""
    return mask_text(url)


def http_status(lines: list[str]) -> int | None:
    """The HTTP status in an ``ERR CODE:0x010a7<hex>`` line (``AT+SYSLOG=1``), if any.

    ``0x010a7194`` -> 404; ``0x010a7000`` is a failed connection, not a status.
    """
    for line in lines:
        match = _ERR_CODE.search(line)
        if match is not None:
            status = int(match.group(1), 16)
            return status if status >= 100 else None
    return None


def wire_seconds(size: int, baud: int | None) -> float:
    """How long ``size`` body bytes take on the UART as records (8N1: 10 bits a byte)."""
    if not baud:
        return 0.0
    records = size // SMALLEST_PIECE + 1
    return (size + records * RECORD_OVERHEAD) * 10 / baud


@dataclass
class _Records:
    """The body of one command, from its records, kept up to ``limit`` bytes."""

    prefix: str
    limit: int
    body: bytearray = field(default_factory=bytearray)
    received: int = 0  # every body byte seen, kept or not
    records: int = 0

    def add(self, data: bytes) -> None:
        self.records += 1
        self.received += len(data)
        room = self.limit - len(self.body)
        if room > 0:
            self.body += data[:room]


class EspAtHttp:
    """The HTTP client of one :class:`EspAtModem`; one transfer at a time.

    ``rx_size`` (``<rx size>``, bytes a record holds at most): 4096, twice the
    module's default, halves the records (and their 17-byte headers) per file
    while the buffer stays small next to the 8 KiB WebSocket buffer on the
    module's heap.  ``network_timeout``: the module's ``<timeout>`` per network
    operation (connect, each read).  ``min_rate``: bytes per second below which a
    transfer is taken as stuck; with the UART's own time it sets how long the
    host waits for a command that streams a body (the module's commands have no
    overall timeout, only per read).
    """

    def __init__(
        self,
        modem: EspAtModem,
        *,
        baud: int | None = None,
        rx_size: int = 4096,
        network_timeout: float = 15.0,
        min_rate: float = 2048.0,
    ) -> None:
        if not 1 <= rx_size <= BUFFER_RANGE[1]:
            raise ValueError(f"rx_size must be 1..{BUFFER_RANGE[1]}, got {rx_size}")
        self.modem = modem
        self.baud = baud
        self.rx_size = rx_size
        self.network_timeout = network_timeout
        self.min_rate = min_rate
        self.put_supported: bool | None = None  # None: not known yet (tried first)
        self._lock = asyncio.Lock()
        self._records: _Records | None = None

    # -- what a caller uses ----------------------------------------------------------

    async def download(self, url: str, max_bytes: int) -> bytes:
        """The whole body at ``url``; :class:`HttpBodyTooLarge` before any body byte when
        AT+HTTPGETSIZE reports more than ``max_bytes``; :class:`HttpTransferError` when
        the body is cut, refused, or the module does not answer."""
        async with self._lock:
            tx = self._tx_size(url)
            ms = self._timeout_ms()
            tail = f",{tx},{self.rx_size},{ms}"
            builders = (f"AT+HTTPGETSIZE={{}}{tail}", f"AT+HTTPCGET={{}}{tail}")
            async with self._url(url, builders) as param:
                size = await self._get_size(builders[0].format(param), url)
                if size > max_bytes:
                    raise HttpBodyTooLarge(shown(url), size, max_bytes)
                body = await self._get(builders[1].format(param), url, size, max_bytes)
        return body

    async def upload(
        self, url: str, data: bytes, content_type: str = "application/octet-stream"
    ) -> bytes:
        """PUT ``data`` at ``url`` (POST on firmware without AT+HTTPCPUT); returns the
        server's answer body.  :class:`HttpTransferError` when the server refuses it
        (status >= 400), cannot be reached (SEND FAIL) or the module does not answer."""
        headers = f",1,{quote('Content-Type: ' + content_type)}"
        async with self._lock:
            verbs = ["AT+HTTPCPOST"] if self.put_supported is False else ["AT+HTTPCPUT"]
            builders = tuple(
                f"{v}={{}},{len(data)}{headers}" for v in ("AT+HTTPCPOST", "AT+HTTPCPUT")
            )
            async with self._url(url, builders) as param:
                while True:
                    verb = verbs[-1]
                    command = f"{verb}={param},{len(data)}{headers}"
                    try:
                        answer = await self._send(command, url, data)
                    except _RefusedBeforePrompt:
                        if verb != "AT+HTTPCPUT":
                            raise HttpTransferError(
                                shown(url),
                                f"{verb} -> ERROR before its prompt: the module refused "
                                f"{len(data)} bytes (more than its free heap?) or the command",
                            ) from None
                        log.warning(
                            "AT+HTTPCPUT -> ERROR before its prompt: ESP-AT before v3.0 has "
                            "no AT+HTTPCPUT; uploading %s with AT+HTTPCPOST instead (the "
                            "server gets a POST)",
                            shown(url),
                        )
                        verbs.append("AT+HTTPCPOST")
                        continue
                    if verb == "AT+HTTPCPUT":
                        self.put_supported = True
                    elif self.put_supported is None:
                        self.put_supported = False
                    return answer

    # -- the commands ------------------------------------------------------------------

    async def _get_size(self, command: str, url: str) -> int:
        try:
            response = await self.modem.command(command, timeout=self._budget(0))
        except ATCommandError as exc:
            if exc.final.text == BUSY:
                raise HttpTransferError(shown(url), _busy(exc)) from None
            raise HttpTransferError(
                shown(url),
                f"AT+HTTPGETSIZE -> {exc.reason}: no size; the server could not be reached "
                "(host, port, Wi-Fi), or its answer had no Content-Length (a chunked body, "
                "which ESP-AT cannot size)",
            ) from None
        except ATTimeout as exc:
            raise HttpTransferError(
                shown(url), f"{shown(str(exc))}: the module did not answer"
            ) from None
        value = response.value("+HTTPGETSIZE:")
        if value is None or not value.isdigit() or len(value) > 12:
            raise HttpTransferError(
                shown(url), f"AT+HTTPGETSIZE -> OK without a size ({response.lines!r})"
            )
        return int(value)

    async def _get(self, command: str, url: str, size: int, max_bytes: int) -> bytes:
        records = _Records("+HTTPCGET:", limit=min(size, max_bytes) + 1)
        with self._collecting(records):
            try:
                await self.modem.command(command, timeout=self._budget(size))
            except ATCommandError as exc:
                raise HttpTransferError(shown(url), self._refusal(exc, records)) from None
            except ATTimeout as exc:
                raise HttpTransferError(
                    shown(url),
                    f"{shown(str(exc))} ({records.received} of {size} bytes had come): the "
                    "server or the module stalled; the module may stay busy until its own timeout",
                ) from None
        got = records.received
        if got > max_bytes:
            raise HttpBodyTooLarge(shown(url), got, max_bytes, read=True)
        if got < size:
            raise HttpTransferError(
                shown(url),
                f"cut: {got} of the {size} bytes AT+HTTPGETSIZE announced came "
                f"({records.records} records) before AT+HTTPCGET ended with OK; ESP-AT "
                "ends a dropped connection with OK too",
            )
        if got > size:
            raise HttpTransferError(
                shown(url),
                f"{got} bytes came where AT+HTTPGETSIZE announced {size}: the two requests "
                "got different answers (AT+HTTPGETSIZE checks no status, so it may have sized "
                "an error page; or the file changed)",
            )
        log.info("downloaded %s: %d bytes in %d records", shown(url), got, records.records)
        return bytes(records.body)

    async def _send(self, command: str, url: str, data: bytes) -> bytes:
        verb = command.split("=", 1)[0]
        records = _Records("+" + verb[3:] + ":", limit=MAX_HTTP_PIECE)
        with self._collecting(records):
            try:
                await self.modem.command_with_payload(
                    command,
                    data,
                    timeout=self._budget(len(data)),
                    note=f"{len(data)} bytes of the upload to {shown(url)}",
                )
            except ATCommandError as exc:
                if not exc.prompted and exc.final.text == "ERROR":
                    raise _RefusedBeforePrompt from None
                if exc.send_failed:
                    raise HttpTransferError(
                        shown(url),
                        f"{verb} -> SEND FAIL: the server could not be reached or the "
                        "connection broke (host, port, Wi-Fi); nothing was confirmed",
                    ) from None
                raise HttpTransferError(shown(url), self._refusal(exc, records)) from None
            except ATTimeout as exc:
                raise HttpTransferError(
                    shown(url), f"{shown(str(exc))}: the server or the module stalled"
                ) from None
        log.info("uploaded %d bytes to %s with %s", len(data), shown(url), verb)
        return bytes(records.body)

    @staticmethod
    def _refusal(exc: ATCommandError, records: _Records) -> str:
        if exc.final.text == BUSY:
            return _busy(exc)
        status = http_status(exc.lines)
        code = f"HTTP status {status}" if status else "an HTTP status >= 400 (ESP-AT shows no code)"
        if records.records:
            return (
                f"{exc.command.split('=', 1)[0]} -> {exc.reason} after a {records.received}-byte "
                f"answer: the server answered {code}"
            )
        return (
            f"{exc.command.split('=', 1)[0]} -> {exc.reason}: the server answered {code}, "
            "or could not be reached (host, port, Wi-Fi)"
        )

    # -- the URL ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _url(self, url: str, builders: tuple[str, ...]) -> AsyncIterator[str]:
        """The ``<"url">`` parameter for commands built by ``builders`` (``{}`` for it):
        the URL quoted when every command fits 256 bytes, else ``""`` with the URL set by
        ``AT+HTTPURLCFG`` for the duration (cleared after, even on failure)."""
        try:
            inline = quote(url)
        except ValueError:
            raise HttpTransferError(shown(url), "the URL holds a line break") from None
        if all(command_bytes(b.format(inline)) <= MAX_COMMAND for b in builders):
            yield inline
            return
        raw = url.encode("utf-8")
        low, high = URLCFG_RANGE
        if len(raw) > high:
            raise HttpUrlTooLong(shown(url)[:80] + "...", len(raw), high)
        log.info(
            "URL of %d bytes: set with AT+HTTPURLCFG (command lines end at 256 bytes)", len(raw)
        )
        try:
            await self.modem.command_with_payload(
                f"AT+HTTPURLCFG={max(low, len(raw))}", raw, note=f"the URL {shown(url)}"
            )
        except ATError as exc:
            raise HttpTransferError(
                shown(url), f"AT+HTTPURLCFG failed: {shown(str(exc))}"
            ) from None
        try:
            yield '""'
        finally:
            try:
                await self.modem.command("AT+HTTPURLCFG=0")
            except ATError as exc:  # the next long URL sets it again; short ones pass their own
                log.warning("AT+HTTPURLCFG=0 failed (the long URL stays set): %s", exc)

    # -- pieces ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _collecting(self, records: _Records) -> Iterator[None]:
        self._records = records
        remove = self.modem.driver.add_urc_handler(self._on_urc)
        try:
            yield
        finally:
            remove()
            self._records = None

    def _on_urc(self, urc: Urc) -> None:
        if urc.data is None or not urc.text.startswith(HTTP_RECORDS):
            return
        records = self._records
        if records is not None and urc.text.startswith(records.prefix):
            records.add(urc.data)
        else:
            log.info("%d bytes of %s dropped: no transfer waits for them", len(urc.data), urc.text)

    def _tx_size(self, url: str) -> int:
        return min(BUFFER_RANGE[1], max(DEFAULT_TX, len(url.encode()) + REQUEST_OVERHEAD))

    def _timeout_ms(self) -> int:
        return min(TIMEOUT_MS_MAX, max(1, round(self.network_timeout * 1000)))

    def _budget(self, size: int) -> float:
        """How long the host waits for a command moving ``size`` body bytes: connect and
        first answer, then the longer of the UART's time (with room) and the slowest
        transfer taken as alive."""
        moving = max(1.5 * wire_seconds(size, self.baud), size / self.min_rate)
        return 2 * self.network_timeout + moving + 5.0


def _busy(exc: ATCommandError) -> str:
    return (
        f"{exc.command.split('=', 1)[0]} -> {BUSY}: the module is still in an earlier "
        "command (a transfer the host gave up on?); try again later"
    )


class _RefusedBeforePrompt(Exception):
    """An upload command answered ERROR before its prompt: nothing was sent."""
