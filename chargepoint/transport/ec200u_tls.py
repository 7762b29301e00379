"""wss:// and https:// through the EC200U: the module's own TLS, or TLS on the host.

Two ways, the same :class:`modem.stream.ByteStream` to the layer above (the
WebSocket and the HTTP client do not change):

* **the module's TLS** (default): the CA, and for security profile 3 the
  charger's certificate and key, go into the module with AT+QFUPL; AT+QSSLCFG
  sets TLS 1.2, seclevel 1 (verify the CSMS) or 2 (mutual), SNI on and the date
  check on once the module's clock is set from the network; AT+QSSLOPEN opens
  a :class:`~modem.quectel.ssl.QuectelSslSocket` (:mod:`modem.quectel.ssl`);
* **TLS on the host** (``ModemSettings.tls_on_host``): a plain AT+QIOPEN socket
  with :class:`~.tls.TlsByteStream` (ssl.MemoryBIO) over it, for modules whose TLS
  stack is too old (no TLS 1.2, missing cipher suites) or not trusted.

**566.**  The module reports every handshake failure as ``+QSSLOPEN: <id>,566``.
The link then diagnoses it: a plain TCP connection to the same host and port
through the module (is it TLS at all?), then the same handshake run on the host
over that socket with Python's ssl module and the same CA and certificate
(``TlsByteStream``), which names the precise cause (untrusted CA, wrong host,
expired, client certificate refused).  If the host's handshake works, the cause
is the module (its clock, its TLS stack): :func:`~modem.quectel.ssl.explain_566`
says which.  The probe costs one extra connection, only after a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from chargepoint.security.tlsfailure import TlsFailure
from modem.at import ATError
from modem.quectel import QuectelModem
from modem.quectel.ssl import HandshakeFacts, PreparedTls, TlsOpenError, explain_566, prepare_tls
from modem.stream import ByteStream, StreamClosed

from .tls import TlsByteStream, TlsHandshakeError
from .tlssettings import TlsSettings

log = logging.getLogger(__name__)

SSLCTX = 1
"""The module's SSL context used by the link and its transfers (0..5)."""
PROBE_TIMEOUT = 60.0


class ModemTlsError(Exception):
    """TLS through the modem cannot work as configured, or failed; the message says why,
    ``tls_failure`` the Security Whitepaper event it raises, when it is one."""

    def __init__(self, message: str, tls_failure: TlsFailure | None = None) -> None:
        super().__init__(message)
        self.tls_failure = tls_failure


@dataclass
class ModemTls:
    """What the link and its file transfers share: how TLS is done, and whether the
    module has been given its files and settings since it last booted."""

    on_host: bool = False
    ntp_server: str | None = "pool.ntp.org"
    prepared: PreparedTls | None = None
    probe_failure: TlsFailure | None = None
    """What the last 566 diagnosis's host-side handshake found (:meth:`diagnose`)."""
    _prepared_for: tuple[object, ...] | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    async def open(
        self,
        device: QuectelModem,
        host: str,
        port: int,
        *,
        connect_id: int,
        ctx: int,
        tls: TlsSettings | None,
        timeout: float = 150.0,
    ) -> ByteStream:
        """A TLS byte stream to ``host:port``; :class:`ModemTlsError` (a reason a
        technician can act on) or the modem's errors otherwise."""
        if self.on_host:
            sock = await device.open_tcp(
                host, port, connect_id=connect_id, ctx=ctx, timeout=timeout
            )
            context = tls.context() if tls is not None else ssl.create_default_context()
            try:
                return await TlsByteStream.open(sock, context, host)
            except TlsHandshakeError as exc:
                raise ModemTlsError(
                    f"{exc.reason} (TLS on the host, over the modem's TCP)", exc.tls_failure
                ) from None
        if tls is None or tls.ca_file is None:
            raise ModemTlsError(
                "TLS in the EC200U needs the CA that signed the server's certificate "
                "(--ca-file): the module has no CA store of its own"
            )
        if device.restarted or device.needs_recovery(ctx):
            await device.recover(ctx)  # NTP needs the data context
        prepared = await self.prepare(device, tls, ctx)
        try:
            return await device.open_ssl(
                host, port, client_id=connect_id, ctx=ctx, sslctx=SSLCTX, timeout=timeout
            )
        except TlsOpenError as exc:
            if exc.code != 566:
                raise
            facts = await self.diagnose(device, host, port, ctx, tls, prepared, connect_id)
            # the host's probe names the event; a 566 alone cannot (module, clock, ...)
            failure = self.probe_failure if facts.probe else None
            raise ModemTlsError(explain_566(facts), failure) from None

    async def prepare(self, device: QuectelModem, tls: TlsSettings, ctx: int) -> PreparedTls:
        """Files, clock and AT+QSSLCFG, once per module boot and set of files."""
        identity = tls.identity if tls.security_profile == 3 else None
        key = (
            id(device),
            device.boots,
            _stamp(tls.ca_file),  # the installed roots' file is rewritten in place (WP M05)
            _stamp(identity.cert_path) if identity else None,
            identity.key_path if identity else None,
        )
        async with self._lock:
            if self.prepared is not None and self._prepared_for == key:
                return self.prepared
            assert tls.ca_file is not None
            try:
                ca_pem = tls.ca_file.read_bytes()
                client = (
                    (identity.cert_path.read_bytes(), identity.key_path.read_bytes())
                    if identity
                    else None
                )
            except OSError as exc:
                raise ModemTlsError(f"reading the TLS files failed: {exc.strerror}") from None
            self.prepared = await prepare_tls(
                device,
                ca_pem=ca_pem,
                client_pem=client,
                sslctx=SSLCTX,
                ctx=ctx,
                ntp_server=self.ntp_server,
            )
            self._prepared_for = key
            return self.prepared

    async def diagnose(
        self,
        device: QuectelModem,
        host: str,
        port: int,
        ctx: int,
        tls: TlsSettings,
        prepared: PreparedTls,
        avoid: int,
    ) -> HandshakeFacts:
        """After a 566: a plain socket to the same place, then the host's own handshake
        over it with the same files (the precise cause)."""
        self.probe_failure = None
        try:
            connect_id = device.free_connect_id(avoid=(avoid,))
            sock = await device.open_tcp(host, port, connect_id=connect_id, ctx=ctx)
        except (ATError, ValueError) as exc:
            log.info(
                "566 diagnosis: a plain TCP connection to %s:%d failed too: %s", host, port, exc
            )
            return HandshakeFacts(host, port, prepared, tcp_reachable=False)
        probe: str | None
        context = tls.context()
        # As the module was told (sslversion 3): in TLS 1.2 a refused client certificate
        # fails the handshake itself, where TLS 1.3 would report it only later.
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                stream = await TlsByteStream.open(sock, context, host)
            probe = ""
            await stream.close()
        except TlsHandshakeError as exc:
            probe = exc.reason
            self.probe_failure = exc.tls_failure
        except (StreamClosed, TimeoutError, ssl.SSLError) as exc:
            probe = None
            log.info("566 diagnosis: the host-side probe gave no verdict: %s", exc)
        finally:
            with contextlib.suppress(ATError, StreamClosed):
                await sock.close()
        return HandshakeFacts(host, port, prepared, tcp_reachable=True, probe=probe)


def _stamp(path: Path | None) -> tuple[object, ...]:
    """A file as the module was given it: its path and a hash of its content (a few KiB,
    read at each connect)."""
    if path is None:
        return ()
    try:
        return (path, hashlib.sha256(path.read_bytes()).hexdigest())
    except OSError:
        return (path,)
