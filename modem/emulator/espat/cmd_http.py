"""HTTP client commands (reference B.6): AT+HTTPURLCFG, AT+HTTPGETSIZE, AT+HTTPCGET,
AT+HTTPCPUT, AT+HTTPCPOST, with a real HTTP client behind (:mod:`.httpclient`).

Exact bytes, as the E-HBIN format strings give them:

* body records ``+HTTPCGET:<n>,`` + n raw bytes + ``\\r\\n`` (``+HTTPCPUT:`` /
  ``+HTTPCPOST:`` for the answer to an upload), no leading CRLF, n <= rx size,
  one per socket read; then ``\\r\\nOK\\r\\n`` (``\\r\\nSEND OK\\r\\n`` for uploads);
  a status >= 400 gives ``\\r\\nERROR\\r\\n`` after the records; 2xx and 3xx both
  OK (no code printed, no redirect followed);
* HTTPCPUT/HTTPCPOST: ``\\r\\nOK\\r\\n\\r\\n>``, exactly <length> bytes (the module
  waits for them forever), then the request; a connection that fails gives
  ``\\r\\nSEND FAIL\\r\\n``; a length over the free heap, a header count that does
  not match its headers, or a header without ``:`` gives ERROR before the prompt;
* HTTPURLCFG: ``=<8..8192>``, the prompt, exactly that many bytes,
  ``\\r\\nSET OK\\r\\n`` and no OK; ``=0`` clears (OK); ``""`` as a command's URL
  then means that URL;
* HTTPGETSIZE: a GET whose head alone is read; ``+HTTPGETSIZE:<Content-Length>``
  whatever the status; no Content-Length gives ERROR;
* every one of them blocks: input meanwhile answers ``busy p...``.

AT+HTTPCFG=<auth_mode>[,<pki_number>][,<ca_number>] (v4.1+; B.6) sets how https://
is verified, with the https_* certificates of AT+SYSMFG (:mod:`.tlsctx`); a
verifying request before SNTP has set the clock fails (its certificate is "not yet
valid" in 1970): no connection, so ERROR / SEND FAIL.

Not modelled: AT+HTTPCLIENT, AT+HTTPCHEAD, AT+SYSLOG's ``ERR CODE`` lines.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import TYPE_CHECKING

from modem.at.trace import mask_text
from modem.emulator.atparse import Command, Kind
from modem.emulator.dialect import CommandIO, Reply, error, ok
from modem.emulator.espat.httpclient import BodyFaults, EspHttpExchange, RequestFailed, exchange
from modem.emulator.espat.state import PROMPT
from modem.emulator.espat.table import command
from modem.emulator.espat.tlsctx import clock_refusal, module_context

if TYPE_CHECKING:
    from modem.emulator.espat.dialect import EspAt

log = logging.getLogger("modem.emulator.espat")

BUFFER_MAX = 10240  # <tx size> / <rx size>
DEFAULT_BUFFER = 2048  # 0 or omitted
TIMEOUT_MS_MAX = 180_000
DEFAULT_TIMEOUT_MS = 5000  # also what HTTPCPUT/HTTPCPOST use (esp_http_client's default)
URL_RANGE = (8, 8192)  # AT+HTTPURLCFG
URL_WAIT = 10.0  # seconds AT+HTTPURLCFG waits for its bytes
MAX_HEADERS = 32


def _shown(url: str) -> str:
    """For the emulator's log: cut, and a ``user:pw@`` password masked."""
    return mask_text(url[:120])


def _url(m: EspAt, cmd: Command) -> str | None:
    """The command's ``<"url">``: ``""`` means the one AT+HTTPURLCFG set (None if unset)."""
    url = cmd.str_param(0) if cmd.has(0) else ""
    return url or m.state.http_url


def _sizes(cmd: Command) -> tuple[int, int, float]:
    """``[<tx size>][,<rx size>][,<timeout>]`` after the URL (0 or omitted: default)."""
    tx = cmd.int_param(1, 0, BUFFER_MAX, 0) or DEFAULT_BUFFER
    rx = cmd.int_param(2, 0, BUFFER_MAX, 0) or DEFAULT_BUFFER
    timeout_ms = cmd.int_param(3, 0, TIMEOUT_MS_MAX, 0) or DEFAULT_TIMEOUT_MS
    return tx, rx, timeout_ms / 1000


def _tls(m: EspAt, url: str) -> ssl.SSLContext | None:
    """The https context of AT+HTTPCFG's auth mode; RequestFailed where esp-tls fails."""
    mode = m.http_auth_mode
    if not url.lower().startswith("https://") or mode == 0:
        return None
    if (refusal := clock_refusal(m, mode)) is not None:
        m.last_tls_error = refusal
        raise RequestFailed(f"TLS: {refusal}")
    try:
        return module_context(m, mode, "https")
    except (ssl.SSLError, ValueError) as exc:
        m.last_tls_error = f"esp-tls setup: {exc}"
        raise RequestFailed(f"TLS: {exc}") from None


def _note_tls(m: EspAt, url: str, exc: RequestFailed) -> None:
    """What the module's mbedTLS would log for a failed https request (status, tests)."""
    if url.lower().startswith("https://") and ("SSL" in str(exc) or "TLS" in str(exc)):
        m.last_tls_error = str(exc)


@command("+HTTPCFG")
async def httpcfg(m: EspAt, cmd: Command, io: CommandIO) -> Reply:
    """``=<auth_mode>[,<pki_number>][,<ca_number>]``; ``?`` shows the mode."""
    if cmd.kind is Kind.READ:
        return ok(f"+HTTPCFG:{m.http_auth_mode},0,0")
    if cmd.kind is not Kind.WRITE:
        return error()
    mode = cmd.int_param(0, 0, 3)
    cmd.int_param(1, 0, 255, 0)
    cmd.int_param(2, 0, 255, 0)
    m.http_auth_mode = mode
    return ok()


async def _records(m: EspAt, name: bytes, ex: EspHttpExchange) -> None:
    """The body as records, each on the wire before the next is read (the module's UART
    buffer is small: a slow host slows the download, as TCP pushes back)."""
    output = m.engine.output
    async for piece in ex.body():
        record = b"%s:%d," % (name, len(piece)) + piece + b"\r\n"
        await output.written(output.send(record))


@command("+HTTPURLCFG")
async def httpurlcfg(m: EspAt, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.READ:
        url = m.state.http_url
        return ok() if url is None else ok(f"+HTTPURLCFG:{len(url.encode('latin-1'))},{url}")
    if cmd.kind is not Kind.WRITE:
        return error()
    length = cmd.int_param(0, 0, URL_RANGE[1])
    if length == 0:
        m.state.http_url = None
        return ok()
    if length < URL_RANGE[0]:
        return error()
    await io.prompt(PROMPT, m.take_prompt_delay())
    data = await io.read_exact(length, URL_WAIT)
    if data is None:
        return error()
    m.state.http_url = data.decode("latin-1")
    return Reply(final=b"SET OK")


@command("+HTTPGETSIZE")
async def httpgetsize(m: EspAt, cmd: Command, io: CommandIO) -> Reply:
    """A GET whose head alone is read: the Content-Length, whatever the status."""
    if cmd.kind is not Kind.WRITE:
        return error()
    url = _url(m, cmd)
    tx, rx, timeout = _sizes(cmd)
    if url is None or not m.state.online:
        return error()

    async def size() -> int | None:
        try:
            async with exchange(
                url,
                timeout=timeout,
                tx_size=tx,
                rx_size=rx,
                faults=BodyFaults(),
                tls=_tls(m, url),
            ) as ex:
                await ex.request("GET", [])
                return ex.content_length
        except RequestFailed as exc:
            _note_tls(m, url, exc)
            log.info("HTTPGETSIZE %s: %s", _shown(url), exc)
            return None

    found = await io.blocking(size())
    return error() if found is None else ok(f"+HTTPGETSIZE:{found}")


@command("+HTTPCGET")
async def httpcget(m: EspAt, cmd: Command, io: CommandIO) -> Reply:
    """The body as ``+HTTPCGET:<n>,`` records, then OK (ERROR after them for >= 400)."""
    if cmd.kind is not Kind.WRITE:
        return error()
    url = _url(m, cmd)
    tx, rx, timeout = _sizes(cmd)
    if url is None or not m.state.online:
        return error()
    faults = m.take_body_faults()

    async def fetch() -> bytes:
        try:
            async with exchange(
                url, timeout=timeout, tx_size=tx, rx_size=rx, faults=faults, tls=_tls(m, url)
            ) as ex:
                await ex.request("GET", [])
                await _records(m, b"+HTTPCGET", ex)
                if ex.cut:
                    log.info("HTTPCGET %s: body cut; OK all the same, as ESP-AT does", _shown(url))
                return b"ERROR" if ex.status > 399 else b"OK"
        except RequestFailed as exc:
            _note_tls(m, url, exc)
            log.info("HTTPCGET %s: %s", _shown(url), exc)
            return b"ERROR"

    return Reply(final=await io.blocking(fetch()))


@command("+HTTPCPUT", "+HTTPCPOST")
async def httpcsend(m: EspAt, cmd: Command, io: CommandIO) -> Reply:
    """Prompt, exactly <length> bytes, the request, the answer's records, SEND OK."""
    put = cmd.name == "+HTTPCPUT"
    if cmd.kind is not Kind.WRITE or (put and not m.http_put):
        return error()
    url = _url(m, cmd)
    length = cmd.int_param(1, 0, m.http_heap)  # the body is held in the heap first
    count = cmd.int_param(2, 0, MAX_HEADERS, 0)
    if len(cmd.params) != 3 + count and not (count == 0 and len(cmd.params) <= 3):
        return error()
    headers: list[tuple[str, str]] = []
    for index in range(3, 3 + count):
        name, colon, value = cmd.str_param(index).partition(":")
        if not colon or not name.strip():
            return error()
        headers.append((name.strip(), value.strip()))
    if url is None:
        return error()
    await io.prompt(PROMPT, m.take_prompt_delay())
    data = await io.read_exact(length, None)
    if data is None:
        return error()
    if not m.state.online:
        return Reply(final=b"SEND FAIL")
    faults = m.take_body_faults()
    record = b"+HTTPCPUT" if put else b"+HTTPCPOST"
    timeout = DEFAULT_TIMEOUT_MS / 1000

    async def send() -> bytes:
        try:
            async with exchange(
                url,
                timeout=timeout,
                tx_size=DEFAULT_BUFFER,
                rx_size=DEFAULT_BUFFER,
                faults=faults,
                tls=_tls(m, url),
            ) as ex:
                if faults.rate:
                    await asyncio.sleep(len(data) / faults.rate)
                if faults.cut_after is not None:
                    keep = len(data) // 2 if faults.cut_after < 0 else faults.cut_after
                    await ex.send_cut("PUT" if put else "POST", headers, data, keep)
                    log.info("transfer-cut fault: upload dropped after %d body bytes", keep)
                    return b"SEND FAIL"
                await ex.request("PUT" if put else "POST", headers, data)
                await _records(m, record, ex)
                return b"ERROR" if ex.status > 399 else b"SEND OK"
        except RequestFailed as exc:
            _note_tls(m, url, exc)
            log.info("%s %s: %s", record.decode(), _shown(url), exc)
            return b"SEND FAIL"

    return Reply(final=await io.blocking(send()))
