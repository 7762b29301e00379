"""The module's own TLS stack: AT+QFUPL, AT+QSSLCFG, AT+QSSLOPEN ... (modem-at.md A.12).

What the host does, in order (:func:`prepare_tls`, then
:meth:`QuectelModem.open_ssl`):

1. **Files.** The CA, the client certificate and its key are uploaded into the
   module's file system with ``AT+QFUPL="<name>",<size>``: ``CONNECT``, exactly
   ``<size>`` raw bytes, then ``+QFUPL: <size>,<checksum>``.  An existing name is
   refused (CME 407), so ``AT+QFDEL`` goes first; the size and the 16-bit XOR
   checksum the module reports are compared with the host's (:func:`qfupl_checksum`)
   and a mismatch is a :class:`FileUploadError`, never a silent half file.
2. **The clock.** ``AT+CCLK?``: a module whose clock was never set from the network
   shows a date in 1980 (or 2000).  Then ``AT+QLTS`` (the network's NITZ time, if
   any came) and ``AT+QNTP`` (NTP through the data context, which sets the RTC).
   Only a clock that is set makes ``ignorelocaltime 0`` (validity dates checked)
   useful; with a clock still unset the driver keeps ``ignorelocaltime 1`` (dates
   NOT checked) and says so, because checking against 1980 refuses every
   certificate with the same bare 566.
3. **AT+QSSLCFG** on the SSL context: ``sslversion`` 3 (TLS 1.2: A00.FR.306),
   ``ciphersuite`` 0XFFFF, ``seclevel`` 1 (verify the server) or 2 (mutual),
   ``cacert`` / ``clientcert`` / ``clientkey``, ``sni`` 1 (the field-verified
   default is 0: virtual hosts then present another certificate), and
   ``ignorelocaltime`` as above.
4. ``AT+QSSLOPEN=<ctx>,<sslctx>,<id>,"<host>",<port>,0`` -> ``OK`` then
   ``+QSSLOPEN: <id>,<err>``; the socket is a :class:`QuectelSslSocket`:
   ``AT+QSSLSEND=<id>,<len>`` after the prompt, never the Ctrl+Z form;
   ``AT+QSSLRECV`` after ``+QSSLURC: "recv"`` until ``+QSSLRECV: 0``;
   ``+QSSLURC: "closed"`` -> drain, then ``AT+QSSLCLOSE``.

**566.**  The module answers ``+QSSLOPEN: <id>,566`` for every handshake failure
(untrusted CA, wrong host, expired, clock, client certificate refused) [field
F-SSL].  :func:`explain_566` turns what the host knows (files uploaded? clock
set? SNI? the host name an IP?) and, best, the verdict of a **host-side TLS
probe** (the same handshake run by Python's ssl module over a plain
``AT+QIOPEN`` socket through the same module: the link layer does it with
``TlsByteStream``) into one reason a technician can act on.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from modem.at import ATCommandError, ATError, Urc

from .errors import QuectelError
from .tcp import QuectelSocket

if TYPE_CHECKING:
    from .modem import QuectelModem

log = logging.getLogger(__name__)

MAX_UPLOAD = 64 * 1024
"""Largest file AT+QFUPL is given: a CA bundle bigger than this is a mistake (the
module's UFS is a few hundred kB; a system bundle of 150 certificates is not for it)."""

CA_NAME = "cpsim_ca.pem"
CERT_NAME = "cpsim_cert.pem"
KEY_NAME = "cpsim_key.pem"

CLOCK_FLOOR = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
"""A module clock before this was never set (boot value 1980/2000 + uptime)."""

SSL_VERSION_TLS12 = 3
HANDSHAKE_FAILED = 566


class FileUploadError(QuectelError):
    """AT+QFUPL failed or the module's size / checksum differ from the file's."""


class TlsOpenError(QuectelError):
    """``AT+QSSLOPEN`` failed; ``code`` the +QSSLOPEN <err> when the module gave one."""

    def __init__(self, host: str, port: int, reason: str, code: int | None = None) -> None:
        super().__init__(f"TLS connection to {host}:{port} failed: {reason}")
        self.host = host
        self.port = port
        self.reason = reason
        self.code = code


def qfupl_checksum(data: bytes) -> int:
    """The +QFUPL <checksum>: XOR of the data taken as 16-bit big-endian words, an odd
    last byte as the high byte of a word (Quectel FILE AT manual; [verify] on EC200U)."""
    value = 0
    for start in range(0, len(data) - 1, 2):
        value ^= (data[start] << 8) | data[start + 1]
    if len(data) % 2:
        value ^= data[-1] << 8
    return value


_QFUPL = re.compile(r"^\s*(\d{1,9})\s*,\s*([0-9A-Fa-f]{1,8})\s*$")


async def upload_file(modem: QuectelModem, name: str, data: bytes) -> None:
    """``AT+QFDEL`` then ``AT+QFUPL`` (CONNECT, the bytes), size and checksum checked."""
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,60}", name):
        raise ValueError(f"file name {name!r}: letters, digits, _ . - only (at most 60)")
    if not 0 < len(data) <= MAX_UPLOAD:
        raise FileUploadError(
            f"{name}: {len(data)} bytes; AT+QFUPL takes 1..{MAX_UPLOAD} bytes here "
            "(give the CA that signed the CSMS, not a whole system bundle)"
        )
    driver = modem.driver
    with contextlib.suppress(ATCommandError):  # no such file: nothing to delete
        await driver.command(f'AT+QFDEL="{name}"')
    try:
        response = await driver.send_payload(
            f'AT+QFUPL="{name}",{len(data)}', data, note=f"file {name}, {len(data)} bytes"
        )
    except ATCommandError as exc:
        raise FileUploadError(f"uploading {name} into the module failed: {exc}") from exc
    value = response.value("+QFUPL:")
    match = _QFUPL.match(value or "")
    if match is None:
        raise FileUploadError(f"AT+QFUPL {name}: no +QFUPL: <size>,<checksum> line ({value!r})")
    size, checksum = int(match[1]), int(match[2], 16)
    if size != len(data) or checksum != qfupl_checksum(data):
        raise FileUploadError(
            f"AT+QFUPL {name}: the module stored {size} bytes with checksum {checksum:04x}; "
            f"the file has {len(data)} bytes, checksum {qfupl_checksum(data):04x} "
            "(bytes lost on the serial line? check the baud rate and flow control)"
        )


# -- the module's clock -------------------------------------------------------


@dataclass(frozen=True)
class ModuleClock:
    """What the module's clock says and where it was set from."""

    time: dt.datetime | None
    source: str  # "RTC", "NTP" or "not set"

    @property
    def is_set(self) -> bool:
        return self.time is not None and self.time >= CLOCK_FLOOR


_CCLK = re.compile(r'"?(\d{2,4})/(\d{2})/(\d{2}),(\d{2}):(\d{2}):(\d{2})([+-]\d{1,2})?')


def parse_module_time(text: str) -> dt.datetime | None:
    """``+CCLK: "26/12/07,10:51:12+00"`` (or QNTP's ``2026/12/07,...``) as UTC; the zone
    is in quarter hours of local time."""
    match = _CCLK.search(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(match[i]) for i in range(1, 7))
    if year < 100:
        year += 2000 if year < 80 else 1900
    try:
        local = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
    except ValueError:
        return None
    quarters = int(match[7]) if match[7] else 0
    return local - dt.timedelta(minutes=15 * quarters)


async def read_clock(modem: QuectelModem) -> dt.datetime | None:
    try:
        return parse_module_time((await modem.driver.command("AT+CCLK?")).value("+CCLK:") or "")
    except ATCommandError:
        return None


async def ensure_clock(
    modem: QuectelModem, ctx: int, ntp_server: str | None, ntp_timeout: float = 125.0
) -> ModuleClock:
    """The module's clock, set from the network if it is not: ``AT+CCLK?``, then (for the
    log) ``AT+QLTS``, then ``AT+QNTP=<ctx>,"<server>",123,1`` (autoset) and ``AT+CCLK?``."""
    now = await read_clock(modem)
    if now is not None and now >= CLOCK_FLOOR:
        return ModuleClock(now, "RTC")
    with contextlib.suppress(ATCommandError):
        nitz = (await modem.driver.command("AT+QLTS=2")).value("+QLTS:")
        log.info("module clock %s not set; network time (NITZ): %s", now, nitz or "none received")
    if ntp_server and await _ntp(modem, ctx, ntp_server, ntp_timeout):
        now = await read_clock(modem)
        if now is not None and now >= CLOCK_FLOOR:
            return ModuleClock(now, "NTP")
    return ModuleClock(now, "not set")


async def _ntp(modem: QuectelModem, ctx: int, server: str, timeout: float) -> bool:
    done: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def on_urc(urc: Urc) -> None:
        if urc.text.startswith("+QNTP:") and not done.done():
            done.set_result(urc.text)

    remove = modem.driver.add_urc_handler(on_urc)
    try:
        response = await modem.driver.command(f'AT+QNTP={ctx},"{server}",123,1')
        for line in response.values("+QNTP:"):
            on_urc(Urc("+QNTP: " + line))
        text = await asyncio.wait_for(done, timeout)
    except (ATError, TimeoutError) as exc:
        log.warning("AT+QNTP via %s failed: %s", server, exc)
        return False
    finally:
        remove()
    code = text.split(":", 1)[1].split(",")[0].strip()
    if code != "0":
        log.warning("AT+QNTP via %s: %s", server, text)
    return code == "0"


# -- AT+QSSLCFG ------------------------------------------------------------------


@dataclass(frozen=True)
class SslConfig:
    """What ``AT+QSSLCFG`` is told for one SSL context."""

    sslctx: int = 1
    seclevel: int = 1  # 0 none, 1 verify the server, 2 mutual
    cacert: str | None = None
    clientcert: str | None = None
    clientkey: str | None = None
    sslversion: int = SSL_VERSION_TLS12
    ciphersuite: str = "0XFFFF"
    sni: int = 1
    ignorelocaltime: int = 0
    negotiatetime: int = 120

    def commands(self) -> list[str]:
        c = self.sslctx
        out = [
            f'AT+QSSLCFG="sslversion",{c},{self.sslversion}',
            f'AT+QSSLCFG="ciphersuite",{c},{self.ciphersuite}',
            f'AT+QSSLCFG="seclevel",{c},{self.seclevel}',
        ]
        for name, value in (
            ("cacert", self.cacert),
            ("clientcert", self.clientcert),
            ("clientkey", self.clientkey),
        ):
            if value is not None:
                out.append(f'AT+QSSLCFG="{name}",{c},"{value}"')
        out += [
            f'AT+QSSLCFG="sni",{c},{self.sni}',
            f'AT+QSSLCFG="ignorelocaltime",{c},{self.ignorelocaltime}',
            f'AT+QSSLCFG="negotiatetime",{c},{self.negotiatetime}',
        ]
        return out


@dataclass(frozen=True)
class PreparedTls:
    """What :func:`prepare_tls` did: the config given and the clock it found."""

    config: SslConfig
    clock: ModuleClock
    uploaded: tuple[str, ...]


async def prepare_tls(
    modem: QuectelModem,
    *,
    ca_pem: bytes | None,
    client_pem: tuple[bytes, bytes] | None = None,
    sslctx: int = 1,
    ctx: int = 1,
    ntp_server: str | None = "pool.ntp.org",
) -> PreparedTls:
    """Upload the files, set the clock, configure SSL context ``sslctx``."""
    uploaded: list[str] = []
    if ca_pem is not None:
        await upload_file(modem, CA_NAME, ca_pem)
        uploaded.append(CA_NAME)
    if client_pem is not None:
        await upload_file(modem, CERT_NAME, client_pem[0])
        await upload_file(modem, KEY_NAME, client_pem[1])
        uploaded += [CERT_NAME, KEY_NAME]
    clock = await ensure_clock(modem, ctx, ntp_server)
    if not clock.is_set:
        log.warning(
            "the module's clock is not set (AT+CCLK? %s; no NITZ, NTP failed): certificate "
            "validity dates are NOT checked (ignorelocaltime 1) until it is",
            clock.time,
        )
    config = SslConfig(
        sslctx=sslctx,
        seclevel=(2 if client_pem else 1) if ca_pem is not None else 0,
        cacert=CA_NAME if ca_pem is not None else None,
        clientcert=CERT_NAME if client_pem else None,
        clientkey=KEY_NAME if client_pem else None,
        ignorelocaltime=0 if clock.is_set else 1,
    )
    for command in config.commands():
        await modem.driver.command(command)
    return PreparedTls(config, clock, tuple(uploaded))


# -- the socket -------------------------------------------------------------------


class QuectelSslSocket(QuectelSocket):
    """One QSSL client ID in buffer mode: QuectelSocket's rules with QSSL commands."""

    SEND = "AT+QSSLSEND"
    READ = "AT+QSSLRECV"
    CLOSED_URC = "+QSSLURC"

    def __repr__(self) -> str:
        return f"<QuectelSslSocket {self.connect_id} {self.host}:{self.port} ctx {self.ctx}>"

    async def _free(self) -> None:
        await self._modem.close_ssl_id(self.connect_id)


# -- 566 --------------------------------------------------------------------------


@dataclass(frozen=True)
class HandshakeFacts:
    """What the host knows when ``+QSSLOPEN: <id>,566`` comes."""

    host: str
    port: int
    prepared: PreparedTls | None
    tcp_reachable: bool | None = None  # a plain AT+QIOPEN to host:port worked
    probe: str | None = None  # host-side TLS probe: None not run, "" succeeded, else why


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def explain_566(facts: HandshakeFacts) -> str:
    """One line for ``+QSSLOPEN: <id>,566``, most specific first."""
    where = f"{facts.host}:{facts.port}"
    head = "+QSSLOPEN 566 (the module gives this one code for every TLS failure)"
    if facts.tcp_reachable is False:
        return (
            f"{head}: a plain TCP connection to {where} fails too, so it is not TLS: "
            "check the host, the port and the firewall"
        )
    prepared = facts.prepared
    if prepared is not None and prepared.config.seclevel >= 1 and not prepared.config.cacert:
        return f"{head}: no CA certificate in the module to verify {where} with: give --ca-file"
    if facts.probe:
        return f"{head}; the same handshake from the host through the module says: {facts.probe}"
    clock_unset = prepared is not None and not prepared.clock.is_set
    if facts.probe == "":
        if clock_unset:
            return (
                f"{head}: the host's handshake with the same CA works, the module's does not "
                "and its clock is not set: let it get network time (NITZ/NTP) and retry"
            )
        return (
            f"{head}: the host's handshake with the same files works, the module's does not: "
            "its TLS stack may lack the server's TLS version or cipher suites (update the "
            "module's firmware, or run TLS on the host: tls_on_host)"
        )
    causes = ["the CSMS certificate is not signed by the CA given (--ca-file)"]
    if not _is_ip(facts.host):
        causes.append(f"the certificate is not for {facts.host!r}")
    if prepared is not None and not prepared.config.sni:
        causes.append("the server needs SNI (sni is 0)")
    causes.append("the certificate has expired")
    if clock_unset:
        causes.append("the module's clock is not set")
    if prepared is not None and prepared.config.seclevel == 2:
        causes.append("the CSMS refused the charger's certificate")
    return f"{head}: one of: " + "; ".join(causes)
