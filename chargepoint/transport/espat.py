"""The charger's link through an ESP32 running ESP-AT: the module does the WebSocket.

Unlike the EC200U path there is no host-side WebSocket: ``AT+WSOPEN`` runs
the handshake in the module, which then carries whole messages (and answers
pings itself, at the interval given to ``AT+WSCFG`` from the charger's
WebSocketPingInterval, read at every connect because WSCFG only applies to
the next WSOPEN).  The serial port and the Wi-Fi association outlive a
WebSocket: a drop reopens only the link; Wi-Fi is re-joined if it was lost.

Security profiles 2 and 3 (:class:`TlsSettings`) use the module's own TLS: the
CA (and for 3 the charger's certificate and key) are stored in its flash with
AT+SYSMFG, its clock is set by SNTP, and AT+WSCFG gets auth_mode 2 (verify the
CSMS) or 3 (mutual TLS) before AT+WSOPEN (modem-at.md B.2, B.3; :mod:`modem.espat.tls`).
The Authorization header goes out for profiles 0-2 only: profile 3 authenticates
the charger by its certificate (Security Whitepaper ed. 3 §2.1).  The module answers a
failed handshake with a bare ERROR: the same handshake run from this computer
(:func:`host_handshake_failure`) then names the problem and the security event
(A00.FR.309/315/322); when it gets through or cannot reach the CSMS, the module
layer's list of causes stands.

Like the EC200U link, the settings are those of the endpoint *at every connect*
(:meth:`EspAtLink.current_tls`): a SecurityProfile the CSMS raised (WP A05: the
same host and port dialled with wss:// and a verified certificate), the fallback
to the previous one, a charger certificate a CertificateSigned installed (A02.FR.08:
the next connection presents it) or roots InstallCertificate installed (M05).  The
files are read again at each connect, but AT+SYSMFG rewrites a namespace only
when its SHA-256 differs from what the module holds: the flash sees a write per
renewal, not per connect.

A module that stops answering is the watchdog's (:meth:`EspAtModem.recover`):
``AT`` retries, ``AT+RST``, ``ready``, then the link is brought up again in the
same connect.  When not even that helps, the port is closed and opened again
at the next connect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from modem import serialport
from modem.at import ATCommandError, ATError, ATPortError, ATRestarted, ATTimeout
from modem.espat import (
    ESP_AT,
    MAX_BUFFER,
    AuthMode,
    EspAtModem,
    EspAtWebSocket,
    ModuleTls,
    ping_settings,
)
from modem.espat.errors import WebSocketOpenError
from modem.espat.modem import ModuleUnresponsive
from modem.espat.websocket import closed_by_host
from modem.stream import StreamClosed

from .base import Connection, LinkClosed, LinkError, Seconds, seconds
from .handshake import Endpoint
from .tcp import TcpByteStream
from .tls import TlsByteStream, TlsHandshakeError
from .tlssettings import TlsSettings
from .transfer import FileTransfer
from .transfers_espat import EspAtTransfer

log = logging.getLogger(__name__)

PROBE_TIMEOUT = 10.0
"""How long this computer's own handshake with the CSMS may take after a bare ERROR."""


@dataclass
class EspAtSettings:
    port: str
    wifi_ssid: str
    wifi_password: str
    baud: int = 115200
    at_log: Path | None = None
    # AT+WSCFG <buffer_size>: 8192 lifts the send limit to 8182 bytes and cuts the
    # +WS_DATA records per message; 1024 is the module's default.
    buffer_size: int = MAX_BUFFER
    link_id: int = 0
    open_timeout: float = 20.0  # AT+WSOPEN <timeout_ms>
    # Per-command driver timeouts over the dialect's (e.g. {"AT+WSSEND=": 15.0}).
    timeouts: Mapping[str, float] | None = None
    # The watchdog's AT after this many seconds without a byte from the module (0: off).
    watchdog_interval: float = 60.0
    # wss:// with a verified CSMS certificate: the module's clock is set from this server
    # (AT+CIPSNTPCFG) first, waiting at most clock_timeout seconds.
    ntp_server: str = "pool.ntp.org"
    clock_timeout: float = 15.0
    # https:// file transfers verified by the module against the link's CA (AT+HTTPCFG);
    # off by default: a firmware server with a public CA would fail (no system CAs).
    https_verify: bool = False
    open_port: serialport.PortOpener = field(
        default=serialport.open_port, kw_only=True, repr=False, compare=False
    )
    """How the port is opened (a benchmark wraps it to count the serial bytes)."""


class EspAtConnection:
    """An :class:`EspAtWebSocket` with the Connection contract: a dead link is LinkClosed.

    A message too long for one AT+WSSEND raises :class:`modem.espat.MessageTooLarge`
    (a ValueError): nothing was sent and the link is still up.
    """

    def __init__(self, ws: EspAtWebSocket) -> None:
        self._ws = ws
        self._our_close: tuple[int, str] | None = None

    async def send(self, message: str) -> None:
        try:
            await self._ws.send(message)
        except StreamClosed as exc:
            raise self._closed(exc) from exc

    async def recv(self) -> str:
        try:
            return await self._ws.recv()
        except StreamClosed as exc:
            raise self._closed(exc) from exc

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self._our_close = (code, reason)
        await self._ws.close(code, reason)

    def _closed(self, exc: StreamClosed) -> LinkClosed:
        """A close this host sent ends the link with its code and reason, as on the direct
        link ("charger certificate renewed (code 1000)"), not as a lost one (1006)."""
        if self._our_close is None or exc.reason != closed_by_host(self._our_close[0]):
            return LinkClosed(exc.reason)  # lost, or the module did not answer the close
        code, reason = self._our_close
        return LinkClosed(reason or exc.reason, code)


@dataclass
class EspAtLink:
    """``ping_interval``: WebSocketPingInterval in seconds, or a callable giving its current
    value; like the endpoint's password it is read at every connect, so a
    ChangeConfiguration applies from the next WebSocket on.

    ``tls``: the security settings when the endpoint has none of its own (its
    ``tls`` source, read at every connect, wins: :meth:`current_tls`).

    The URL and headers are checked against ESP-AT's 256-byte limits here, so a
    misconfiguration is refused before any port is opened (ValueError).
    """

    endpoint: Endpoint
    modem: EspAtSettings
    ping_interval: Seconds = 0
    tls: TlsSettings = field(default_factory=TlsSettings)
    _device: EspAtModem | None = field(default=None, init=False, repr=False)
    _auth_mode: AuthMode | None = field(default=None, init=False, repr=False)
    """The auth mode of the last open (a change is logged: a profile raised or fallen back)."""
    # A transfer may bring the module up while a connect does: one port opening at a time.
    _bringing_up: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        url = self.endpoint.url
        tls = self.current_tls()
        if not tls.uses_tls and url.startswith("wss://"):
            # No profile configured: the URL decides, as before; nothing to verify with.
            log.warning(
                "%s: wss:// without security profile 2 or 3: the module will not verify the "
                "CSMS certificate (AT+WSCFG auth_mode 0); give --security-profile and --ca-file",
                url,
            )
        if tls.uses_tls:
            tls.check_url(url)
            self.module_tls(tls)  # the files fit the module (read again at every connect)
        EspAtModem.plan_open(
            url,
            self.request_headers(tls),
            link_id=self.modem.link_id,
            timeout=self.modem.open_timeout,
        )

    def current_tls(self) -> TlsSettings:
        """The settings of the next connect: the endpoint's of the moment (a SecurityProfile
        raised over OCPP or fallen back, a renewed charger certificate, installed roots),
        else the link's own ``tls``."""
        return self.endpoint.current_tls() or self.tls

    @property
    def description(self) -> str:
        tls = self.current_tls()
        secure = f", security profile {tls.security_profile}" if tls.uses_tls else ""
        return (
            f'{self.endpoint.url} via ESP-AT (Wi-Fi "{self.modem.wifi_ssid}"{secure}) '
            f"on {self.modem.port}"
        )

    def request_headers(self, tls: TlsSettings | None = None) -> list[tuple[str, str]]:
        """The endpoint's headers; without Authorization for profile 3 (certificate auth)."""
        headers = self.endpoint.request_headers()
        if (tls or self.current_tls()).security_profile == 3:
            headers = [(k, v) for k, v in headers if k.lower() != "authorization"]
        return headers

    def module_tls(self, tls: TlsSettings | None = None) -> ModuleTls | None:
        """What the module needs for the profile of ``tls`` (default: :meth:`current_tls`):
        2 -> auth_mode 2 + CA; 3 -> auth_mode 3 + CA + certificate + key, read now (a
        renewed certificate is used from the next connect on).  None for profiles 0 and 1.

        ValueError when the profile cannot be served: ESP-AT has no system CAs, so
        profiles 2 and 3 need a CA file (it never opens wss:// unverified for them)."""
        tls = tls or self.current_tls()
        settings = self.modem
        if not tls.uses_tls:
            return None
        missing = tls.missing_for(tls.security_profile)
        if missing is not None or tls.ca_file is None:
            why = missing or "no CA file"
            raise ValueError(f"security profile {tls.security_profile} through ESP-AT: {why}")
        try:
            ca = tls.ca_file.read_bytes()
            if tls.security_profile == 3 and tls.identity is not None:
                return ModuleTls(
                    AuthMode.MUTUAL,
                    ca_pem=ca,
                    cert_pem=tls.identity.cert_path.read_bytes(),
                    key_pem=tls.identity.key_path.read_bytes(),
                    ntp_server=settings.ntp_server,
                    clock_timeout=settings.clock_timeout,
                )
        except OSError as exc:
            raise ValueError(f"reading {exc.filename}: {exc.strerror}") from None
        return ModuleTls(
            AuthMode.VERIFY_SERVER,
            ca_pem=ca,
            ntp_server=settings.ntp_server,
            clock_timeout=settings.clock_timeout,
        )

    async def connect(self) -> Connection:
        try:
            try:
                ws = await self._open()
            except ATTimeout as exc:
                # The watchdog: a module that stopped answering is reset, then the link
                # is brought up again at once.
                log.warning("%s: %s; checking the module", self.description, exc)
                if self._device is None or not await self._device.recover():
                    raise
                ws = await self._open()
        except (ATPortError, ModuleUnresponsive) as exc:  # its message names the port
            await self._drop_device()
            raise LinkError(str(exc)) from exc
        except (ATError, ValueError) as exc:
            raise LinkError(f"{self.description}: {exc}") from exc
        return EspAtConnection(ws)

    async def _open(self) -> EspAtWebSocket:
        ping, pong = ping_settings(seconds(self.ping_interval))
        device = await self._bring_up()
        try:
            return await self._open_on(device, ping, pong)
        except ATRestarted:  # reset meanwhile (the watchdog settling an old link): again
            return await self._open_on(await self._bring_up(), ping, pong)

    async def _open_on(self, device: EspAtModem, ping: int, pong: int) -> EspAtWebSocket:
        settings = self.modem
        tls = self.current_tls()  # this connect's: one reading for the URL, headers and files
        module_tls = self.module_tls(tls)
        mode = module_tls.auth_mode if module_tls is not None else AuthMode.NONE
        if mode != self._auth_mode:
            if self._auth_mode is not None:
                log.info(
                    "%s: security profile %d from this connect on (AT+WSCFG auth_mode %d)",
                    settings.port,
                    tls.security_profile,
                    int(mode),
                )
            self._auth_mode = mode
        try:
            return await device.open_websocket(
                self.endpoint.url,
                headers=self.request_headers(tls),
                ping_interval=ping,
                ping_timeout=pong,
                buffer_size=settings.buffer_size,
                link_id=settings.link_id,
                timeout=settings.open_timeout,
                tls=module_tls,
            )
        except WebSocketOpenError as exc:
            if module_tls is None or not isinstance(exc.__cause__, ATCommandError):
                raise
            # ESP-AT answers a failed handshake with a bare ERROR: the same handshake from
            # this computer names the problem (and the security event, A00.FR.309) when it
            # fails too; else the module layer's list of causes stands.
            failure = await host_handshake_failure(self.endpoint.url, tls)
            if failure is None:
                raise
            said = f"AT+WSOPEN (TLS, auth_mode {int(mode)}) -> {exc.__cause__.reason}"
            why = f"{said}; the same handshake from this computer says: {failure.reason}"
            raise WebSocketOpenError(exc.url, why) from failure

    async def _bring_up(self) -> EspAtModem:
        async with self._bringing_up:
            return await self._bring_up_now()

    async def _bring_up_now(self) -> EspAtModem:
        settings = self.modem
        if self._device is not None and (
            self._device.driver.lost is not None or self._device.dead is not None
        ):
            await self._drop_device()
        if self._device is None:
            self._device = await self._open_device()
        was_up = self._device.wifi_up
        await self._device.bring_up(settings.wifi_ssid, settings.wifi_password)
        if not was_up:
            log.info('ESP-AT on %s: Wi-Fi "%s" up', settings.port, settings.wifi_ssid)
        return self._device

    async def _open_device(self) -> EspAtModem:
        settings = self.modem
        device = EspAtModem(
            await serialport.open_driver(
                settings.port,
                ESP_AT,
                baudrate=settings.baud,
                at_log=settings.at_log,
                timeouts=settings.timeouts,
                opener=settings.open_port,
            ),
            baud=settings.baud,
        )
        device.start_watchdog(settings.watchdog_interval)
        return device

    async def _drop_device(self) -> None:
        if self._device is not None:
            device, self._device = self._device, None
            await device.aclose()

    def file_transfer(self) -> FileTransfer:
        """Firmware and diagnostics through the module's own HTTP client (modem-at.md B.6),
        on the Wi-Fi the OCPP link uses: http and https; ftp:// is refused with the reason."""
        return EspAtTransfer(self._bring_up, tls=self._https_tls)

    def _https_tls(self) -> ModuleTls | None:
        return self.module_tls() if self.modem.https_verify else None

    async def aclose(self) -> None:
        await self._drop_device()


async def host_handshake_failure(url: str, tls: TlsSettings) -> TlsHandshakeError | None:
    """The TLS handshake with the CSMS of ``url`` run from this computer as the module runs
    it (TLS 1.2, the same CA, host name and client certificate): its failure, or None when
    it succeeds or this computer cannot reach the CSMS (another network)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 443
    context = tls.context()
    # As the module's mbedTLS: in TLS 1.2 a refused client certificate fails the handshake
    # itself, where TLS 1.3 would report it only after.
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        tcp = await TcpByteStream.open(host, port, PROBE_TIMEOUT)
    except (OSError, TimeoutError):
        return None
    try:
        async with asyncio.timeout(PROBE_TIMEOUT):
            stream = await TlsByteStream.open(tcp, context, host)
    except TlsHandshakeError as exc:
        return exc
    except (OSError, TimeoutError, StreamClosed):
        return None  # TlsByteStream.open closed the socket
    with contextlib.suppress(OSError, StreamClosed):
        await stream.close()
    return None
