"""wss:// through the module's own TLS: certificates in its flash, its clock, the auth mode.

ESP-AT runs TLS itself (esp-tls / mbedTLS inside esp_websocket_client).  It
verifies the CSMS's certificate against the CA stored in the manufacturing
NVS namespace ``wss_ca`` and presents ``wss_cert`` / ``wss_key`` for mutual TLS
(shared/reference/modem-at.md B.3 AT+WSCFG, ESP-AT v4.1+).  Before a
verifying ``AT+WSOPEN`` the host therefore:

1. stores the files: ``AT+SYSMFG=2,"<ns>","<ns>.0",8,<length>`` -> ``\\r\\nOK\\r\\n\\r\\n>``
   -> exactly <length> bytes -> ``OK`` (Basic AT commands, AT+SYSMFG; type 8 =
   binary, the PEM file as is).  Each key is read first (``AT+SYSMFG=1,...``,
   answered ``+SYSMFG:"<ns>","<key>",8,<length>,<bytes>``) and written only when
   the module holds something else: flash wears, and NVS erases a page per rewrite.
   What was checked is remembered for the life of the port (NVS survives resets).
2. sets the clock (B.2): ``AT+CIPSNTPCFG=1,0,"<server>"`` (UTC), then
   ``AT+CIPSNTPTIME?`` until it is past 1970 (``+TIME_UPDATED`` wakes the poll
   early).  Without a clock mbedTLS finds every certificate "not yet valid" and
   the open fails with a bare ERROR; after a module restart the clock is set again.
3. ``AT+WSCFG=<id>,<ping>,<pong>,<buffer>,<auth_mode>,0,0`` (pki and CA index 0),
   then ``AT+WSOPEN`` with the wss:// URL.

The private key never reaches the AT trace: its payload is traced as a note,
and :mod:`modem.at.trace` masks any PEM private key in bytes read back.

What ESP-AT cannot tell: a failed TLS open is a bare ``ERROR`` whatever the
cause (untrusted CA, host name not in the certificate, dates, a server that
wants a client certificate, plain ws:// on that port).  :func:`tls_open_failure`
lists the causes with what the module holds, so a technician can compare.
Unverified on hardware [verify]: whether ESP-AT needs a NUL after a PEM value.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import time
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from modem.at import ATCommandError, ATTimeout

from .dialect import MAX_PKI_BYTES, quote
from .errors import CertificateStoreError, ClockNotSet

if TYPE_CHECKING:
    from .modem import EspAtModem

log = logging.getLogger(__name__)

CA_NAMESPACE, CERT_NAMESPACE, KEY_NAMESPACE = "wss_ca", "wss_cert", "wss_key"
BINARY = 8  # AT+SYSMFG <type>: binary
MIN_CLOCK_YEAR = 2021  # before this the module's clock is the 1970 it boots with
DEFAULT_NTP = "pool.ntp.org"


class AuthMode(IntEnum):
    """AT+WSCFG ``<auth_mode>`` (reference B.3)."""

    NONE = 0
    CLIENT_CERT = 1  # the module presents wss_cert / wss_key; the server is not verified
    VERIFY_SERVER = 2  # the server's certificate is verified against wss_ca
    MUTUAL = 3

    @property
    def verifies_server(self) -> bool:
        return self in (AuthMode.VERIFY_SERVER, AuthMode.MUTUAL)

    @property
    def presents_certificate(self) -> bool:
        return self in (AuthMode.CLIENT_CERT, AuthMode.MUTUAL)


@dataclass(frozen=True)
class ModuleTls:
    """What a wss:// open needs in the module: the auth mode and the PEM files it uses."""

    auth_mode: AuthMode
    ca_pem: bytes | None = None
    cert_pem: bytes | None = None
    key_pem: bytes | None = field(default=None, repr=False)  # a secret: never shown
    ntp_server: str = DEFAULT_NTP
    clock_timeout: float = 15.0  # seconds for SNTP to set the clock
    clock_poll: float = 0.5  # AT+CIPSNTPTIME? every this many seconds meanwhile

    def __post_init__(self) -> None:
        if self.auth_mode.verifies_server and not self.ca_pem:
            raise ValueError(f"auth_mode {int(self.auth_mode)} verifies the server: a CA is needed")
        if self.auth_mode.presents_certificate and not (self.cert_pem and self.key_pem):
            raise ValueError(
                f"auth_mode {int(self.auth_mode)} presents a client certificate: "
                "a certificate and its key are needed"
            )
        for what, data in (("CA", self.ca_pem), ("certificate", self.cert_pem)):
            if data is not None and len(data) > MAX_PKI_BYTES:
                raise ValueError(
                    f"the {what} file is {len(data)} bytes; the module stores at most "
                    f"{MAX_PKI_BYTES} per key"
                )
        if self.key_pem is not None and len(self.key_pem) > MAX_PKI_BYTES:
            raise ValueError(f"the key file is larger than the {MAX_PKI_BYTES} bytes stored")

    def files(self, prefix: str = "wss") -> list[tuple[str, str, bytes, bool]]:
        """(namespace, what, bytes, secret) the mode uses, in the order they are stored;
        ``prefix`` "wss" for AT+WSCFG, "https" for AT+HTTPCFG."""
        out: list[tuple[str, str, bytes, bool]] = []
        if self.auth_mode.verifies_server and self.ca_pem:
            out.append((f"{prefix}_ca", "CA certificate", self.ca_pem, False))
        if self.auth_mode.presents_certificate and self.cert_pem and self.key_pem:
            out.append((f"{prefix}_cert", "charger certificate", self.cert_pem, False))
            out.append((f"{prefix}_key", "charger private key", self.key_pem, True))
        return out


def describe_pem(data: bytes | None) -> str:
    """``CN=... (SHA-256 ab12cd34...)`` of a PEM certificate, for messages; never a key."""
    if not data:
        return "nothing"
    try:
        cert = x509.load_pem_x509_certificates(data)[0]
    except ValueError:
        return f"{len(data)} bytes that are no PEM certificate"
    digest = hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()[:16]
    return f"{cert.subject.rfc4514_string()}, SHA-256 fingerprint {digest}..."


def parse_module_time(value: str) -> dt.datetime | None:
    """``Thu Jan  1 00:00:05 1970`` (asctime) or ``2022-10-21 19:20:39`` -> a datetime."""
    text = " ".join(value.split())
    for form in ("%a %b %d %H:%M:%S %Y", "%Y-%m-%d %H:%M:%S"):
        try:
            return dt.datetime(*time.strptime(text, form)[:6], tzinfo=dt.UTC)
        except ValueError:
            continue
    return None


class EspAtTls:
    """The module's TLS material and clock, on one :class:`EspAtModem` (``modem.tls``)."""

    def __init__(self, modem: EspAtModem) -> None:
        self._modem = modem
        self._checked: dict[str, str] = {}  # namespace -> SHA-256 the module is known to hold
        self.clock: dt.datetime | None = None  # the module's time when it was last found set
        self.writes = 0  # AT+SYSMFG writes this session (flash wear)
        self.https_mode: AuthMode | None = None  # what AT+HTTPCFG was last set to
        self._time_updated = asyncio.Event()

    def on_restart(self) -> None:
        """A restarted module boots at 1970 and forgets its SNTP settings; NVS stays."""
        self.clock = None
        self.https_mode = None
        self._time_updated.clear()

    def on_time_updated(self) -> None:
        self._time_updated.set()

    # -- certificates ----------------------------------------------------------------

    async def read(self, namespace: str) -> bytes | None:
        """The value of ``<namespace>.0``; None when the module holds none (ERROR)."""
        key = f"{namespace}.0"
        try:
            response = await self._modem.command(f"AT+SYSMFG=1,{quote(namespace)},{quote(key)}")
        except ATCommandError:
            return None
        prefix = f'+SYSMFG:"{namespace}","{key}",'
        for payload in response.payloads:
            if payload.header.startswith(prefix):
                return payload.data
        return None

    async def store(self, namespace: str, what: str, data: bytes, *, secret: bool) -> bool:
        """Make the module hold ``data`` under ``<namespace>.0``; True if it was written."""
        digest = hashlib.sha256(data).hexdigest()
        if self._checked.get(namespace) == digest:
            return False
        current = await self.read(namespace)
        if current == data:
            log.info("ESP-AT already holds the %s (%s.0): not rewritten", what, namespace)
            self._checked[namespace] = digest
            return False
        key = f"{namespace}.0"
        command = f"AT+SYSMFG=2,{quote(namespace)},{quote(key)},{BINARY},{len(data)}"
        note = f"{what}, {len(data)} bytes" + (" (secret: not shown)" if secret else "")
        try:
            await self._modem.command_with_payload(command, data, note=note)
        except ATCommandError as exc:
            raise CertificateStoreError(
                what,
                f"AT+SYSMFG -> {exc.reason}: this firmware has no {namespace} namespace "
                "(ESP-AT v4.1 or later has wss_ca / wss_cert / wss_key) or its mfg_nvs "
                "partition is full",
            ) from exc
        self.writes += 1
        self._checked[namespace] = digest
        log.info("ESP-AT: %s stored in %s.0 (%d bytes)", what, namespace, len(data))
        return True

    # -- clock -----------------------------------------------------------------------

    async def module_time(self) -> tuple[dt.datetime | None, str | None]:
        """``AT+CIPSNTPTIME?``: the module's time (None if unreadable) and its text."""
        value = (await self._modem.command("AT+CIPSNTPTIME?")).value("+CIPSNTPTIME:")
        return (None if value is None else parse_module_time(value)), value

    async def set_clock(self, server: str, timeout: float, poll: float) -> dt.datetime:
        """SNTP on, in UTC; wait until the module's clock is past 1970.  :class:`ClockNotSet`."""
        if self.clock is not None:
            return self.clock
        await self._modem.command(f"AT+CIPSNTPCFG=1,0,{quote(server)}")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        reported: str | None = None
        while True:
            self._time_updated.clear()
            now, reported = await self.module_time()
            if now is not None and now.year >= MIN_CLOCK_YEAR:
                log.info("ESP-AT clock set by SNTP: %s UTC", now.isoformat(" "))
                self.clock = now
                return now
            left = deadline - loop.time()
            if left <= 0:
                raise ClockNotSet(server, timeout, reported)
            try:
                async with asyncio.timeout(min(poll, left)):
                    await self._time_updated.wait()
            except TimeoutError:
                pass

    async def prepare(self, tls: ModuleTls, prefix: str = "wss") -> None:
        """Files stored (only when different) and the clock set, before AT+WSCFG / AT+WSOPEN
        (``prefix`` "https": before AT+HTTPCFG)."""
        for namespace, what, data, secret in tls.files(prefix):
            await self.store(namespace, what, data, secret=secret)
        if tls.auth_mode.verifies_server:
            try:
                await self.set_clock(tls.ntp_server, tls.clock_timeout, tls.clock_poll)
            except ATCommandError as exc:
                raise ClockNotSet(tls.ntp_server, 0, f"AT+CIPSNTP* -> {exc.reason}") from exc
            except ATTimeout:
                raise

    async def configure_https(self, tls: ModuleTls) -> None:
        """https:// through the module's HTTP client verified like the WebSocket:
        the https_* namespaces, the clock, ``AT+HTTPCFG=<auth_mode>,0,0`` (B.6, v4.1+)."""
        await self.prepare(tls, "https")
        if self.https_mode != tls.auth_mode:
            await self._modem.command(f"AT+HTTPCFG={int(tls.auth_mode)},0,0")
            self.https_mode = tls.auth_mode


def tls_open_failure(
    reason: str, host: str, tls: ModuleTls, clock: dt.datetime | None, elapsed: float
) -> str:
    """Why a wss:// AT+WSOPEN may have failed, the likeliest first, with what the module holds.

    ESP-AT answers a failed TLS handshake with a bare ERROR (no alert, no mbedTLS
    code), so these are the causes to check, not a diagnosis.
    """
    mode = tls.auth_mode
    causes: list[str] = []
    if mode.verifies_server:
        causes.append(
            "the CSMS's certificate is not signed by the CA stored in wss_ca "
            f"({describe_pem(tls.ca_pem)})"
        )
        causes.append(f"the host {host!r} of the URL is not among the CSMS certificate's names")
        when = "not set" if clock is None else f"{clock:%Y-%m-%d %H:%M} UTC by SNTP"
        causes.append(
            f"the certificate is outside its validity dates by the module's clock ({when})"
        )
    if mode.presents_certificate:
        causes.append(
            "the CSMS does not accept the charger certificate stored in wss_cert "
            f"({describe_pem(tls.cert_pem)})"
        )
    else:
        causes.append("the CSMS requires a client certificate (security profile 3)")
    causes.append("nothing speaks TLS on that port (a plain ws:// server?)")
    causes.append("after TLS, the CSMS refused the upgrade (unknown charge-point id or password)")
    return (
        f"AT+WSOPEN (TLS, auth_mode {int(mode)}) -> {reason} after {elapsed:.1f} s. ESP-AT does "
        "not say why a TLS open failed; check, most likely first: " + "; ".join(causes)
    )
