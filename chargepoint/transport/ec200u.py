"""The charger's link through a Quectel EC200U: WebSocket over AT+QISEND / AT+QIRD.

The modem only offers a TCP byte pipe, so the Sans-I/O WebSocket adapter the
direct link is tested with runs on a :class:`modem.quectel.QuectelSocket`
unchanged.  The serial port and the PDP context outlive a WebSocket: a drop
reopens only the socket (the Quectel layer re-activates the context after a
``pdpdeact`` or a modem reboot by itself).

wss:// (security profiles 2 and 3) runs over the module's own TLS (AT+QSSL*,
:mod:`.ec200u_tls`) or, with ``ModemSettings.tls_on_host``, over TLS on the host
above a plain QI socket; either is a byte stream, so the WebSocket code is the
same.  A ``+QSSLOPEN: <id>,566`` is diagnosed into one reason (the CA, the host
name, the dates, the clock, the client certificate).

A send that times out leaves the TCP stream's framing in doubt: the socket
fails, is closed with ``AT+QICLOSE`` (after the module has left its payload
phase) and the next connect starts the WebSocket on a clean one.  A command
that times out while connecting runs the watchdog: ``AT`` retries, then
``AT+CFUN=1,1`` and ``RDY``, then the link is brought up again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from modem import serialport
from modem.at import ATError, ATPortError, ATTimeout
from modem.quectel import QuectelModem, QuectelSocket
from modem.quectel.dialect import QUECTEL, auth_code
from modem.quectel.errors import SocketOpenError
from modem.quectel.ssl import TlsOpenError
from modem.stream import ByteStream, StreamClosed

from .base import Connection, LinkError, Seconds, seconds
from .ec200u_tls import ModemTls, ModemTlsError
from .handshake import Endpoint
from .transfer import FileTransfer
from .transfers_ec200u import Ec200uTransfer
from .websocket import WebSocketOverStream

log = logging.getLogger(__name__)


@dataclass
class ModemSettings:
    port: str
    baud: int = 115200
    apn: str = "internet"
    apn_user: str = ""
    apn_password: str = ""
    at_log: Path | None = None
    apn_auth: str | None = None  # none, pap or chap; None: PAP when there is a user
    context: int = 1  # the PDP context (AT+QICSGP / AT+QIACT / AT+QIOPEN <contextID>)
    timeouts: Mapping[str, float] | None = None  # overrides of the driver's timeout table
    boot_timeout: float = 60.0  # the watchdog: AT+CFUN=1,1 until RDY
    tls_on_host: bool = False
    """wss:// / https:// with TLS on the host over the modem's plain TCP socket, for a
    module whose TLS stack is too old; False: the module's own TLS (AT+QSSL*)."""
    ntp_server: str | None = "pool.ntp.org"
    """Sets the module's clock (AT+QNTP) when the network gave it no time (NITZ)."""
    open_port: serialport.PortOpener = field(
        default=serialport.open_port, kw_only=True, repr=False, compare=False
    )
    """How the port is opened (a benchmark wraps it to count the serial bytes)."""


WEDGED_AFTER = 3
"""Consecutive failed socket opens after which the modem is power-cycled (AT+CFUN=1,1)."""


@dataclass
class Ec200uLink:
    endpoint: Endpoint
    modem: ModemSettings
    ping_interval: Seconds = 0  # WebSocketPingInterval, read at each connect
    connect_id: int = 0
    sim_identity: dict[str, str] = field(default_factory=dict)
    _device: QuectelModem | None = None
    _open_failures: int = 0
    """Consecutive AT+QIOPEN failures: after WEDGED_AFTER, the data stack is reset."""
    _transfer: Ec200uTransfer | None = field(default=None, repr=False)
    _tls: ModemTls | None = field(default=None, repr=False)

    @property
    def modem_tls(self) -> ModemTls:
        """How this link (and its transfers) do TLS through the module."""
        if self._tls is None:
            self._tls = ModemTls(on_host=self.modem.tls_on_host, ntp_server=self.modem.ntp_server)
        return self._tls

    @property
    def description(self) -> str:
        return f"{self.endpoint.url} via EC200U on {self.modem.port}"

    async def connect(self) -> Connection:
        try:
            device = await self._bring_up()
            if self._open_failures >= WEDGED_AFTER:
                # modem-at.md A.11 / item 15: after rapid reconnects the data stack can
                # wedge (every QIOPEN fails, QIDEACT/QIACT do not help): the escape
                # hatch is a power cycle.
                log.warning(
                    "%s: %d socket opens failed in a row; resetting the modem (AT+CFUN=1,1)",
                    self.description,
                    self._open_failures,
                )
                self._open_failures = 0
                await device.reset()
            try:
                sock = await self._open_socket(device)
            except ATTimeout as exc:
                log.warning("%s: %s; checking the modem", self.description, exc)
                if not await device.revive():
                    raise  # it answers AT: a slow moment; the next attempt retries
                sock = await self._open_socket(device)
            except (SocketOpenError, TlsOpenError):
                self._open_failures += 1
                raise
            self._open_failures = 0
        except ATPortError as exc:  # its message already names the port
            await self._drop_device()
            raise LinkError(str(exc)) from exc
        except ModemTlsError as exc:
            raise LinkError(f"{self.description}: {exc}") from exc
        except ATError as exc:
            raise LinkError(f"{self.description}: {exc}") from exc
        try:
            return await WebSocketOverStream.open(
                sock,
                self.endpoint.url,
                self.endpoint.request_headers(),
                seconds(self.ping_interval),
            )
        except StreamClosed as exc:
            raise LinkError(f"{self.description}: {exc.reason}") from exc

    async def _open_socket(self, device: QuectelModem) -> QuectelSocket | ByteStream:
        uri = self.endpoint.uri()
        if uri.secure:
            return await self.modem_tls.open(
                device,
                uri.host,
                uri.port,
                connect_id=self.connect_id,
                ctx=self.modem.context,
                tls=self.endpoint.current_tls(),
            )
        return await device.open_tcp(
            uri.host, uri.port, connect_id=self.connect_id, ctx=self.modem.context
        )

    async def _bring_up(self) -> QuectelModem:
        if self._device is not None:
            return self._device
        settings = self.modem
        device = QuectelModem(
            await serialport.open_driver(
                settings.port,
                QUECTEL,
                baudrate=settings.baud,
                at_log=settings.at_log,
                timeouts=settings.timeouts,
                opener=settings.open_port,
            ),
            boot_timeout=settings.boot_timeout,
        )
        try:
            address = await device.bring_up(
                settings.apn,
                settings.apn_user,
                settings.apn_password,
                auth=auth_code(settings.apn_user, settings.apn_auth),
                ctx=settings.context,
            )
            ident = await device.identity()
        except BaseException:
            await device.aclose()
            raise
        self.sim_identity = {k: v for k, v in (("iccid", ident.iccid), ("imsi", ident.imsi)) if v}
        log.info(
            "%s %s on %s: APN %r up, IP %s, ICCID %s",
            ident.manufacturer,
            ident.model,
            settings.port,
            settings.apn,
            address,
            ident.iccid,
        )
        self._device = device
        return device

    def file_transfer(self) -> FileTransfer:
        """Firmware and diagnostics over a second socket on the same PDP context, while
        the OCPP WebSocket keeps its own (modem-at.md A.16 (a)): http, and https through
        the same TLS as the link."""
        if self._transfer is None:
            self._transfer = Ec200uTransfer(
                self._bring_up,
                context=self.modem.context,
                ocpp_connect_id=self.connect_id,
                modem_tls=self.modem_tls,
                tls=self.endpoint.current_tls,
            )
        return self._transfer

    async def _drop_device(self) -> None:
        if self._device is not None:
            device, self._device = self._device, None
            await device.aclose()

    async def aclose(self) -> None:
        await self._drop_device()
