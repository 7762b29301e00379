"""The charger's link through an ESP32 running ESP-AT: the module does the WebSocket.

Unlike the EC200U path there is no host-side WebSocket: ``AT+WSOPEN`` runs
the handshake in the module, which then carries whole messages (and answers
pings itself, at the interval given to ``AT+WSCFG`` from the charger's
WebSocketPingInterval, read at every connect because WSCFG only applies to
the next WSOPEN).  The serial port and the Wi-Fi association outlive a
WebSocket: a drop reopens only the link; Wi-Fi is re-joined if it was lost.

A module that stops answering is the watchdog's (:meth:`EspAtModem.recover`):
``AT`` retries, ``AT+RST``, ``ready``, then the link is brought up again in the
same connect.  When not even that helps, the port is closed and opened again
at the next connect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from modem import serialport
from modem.at import ATError, ATPortError, ATRestarted, ATTimeout
from modem.espat import ESP_AT, MAX_BUFFER, EspAtModem, EspAtWebSocket, ping_settings
from modem.espat.modem import ModuleUnresponsive
from modem.stream import StreamClosed

from .base import Connection, LinkClosed, LinkError, Seconds, seconds
from .handshake import Endpoint
from .transfer import FileTransfer
from .transfers_espat import EspAtTransfer

log = logging.getLogger(__name__)


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

    async def send(self, message: str) -> None:
        try:
            await self._ws.send(message)
        except StreamClosed as exc:
            raise LinkClosed(exc.reason) from exc

    async def recv(self) -> str:
        try:
            return await self._ws.recv()
        except StreamClosed as exc:
            raise LinkClosed(exc.reason) from exc

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self._ws.close(code, reason)


@dataclass
class EspAtLink:
    """``ping_interval``: WebSocketPingInterval in seconds, or a callable giving its current
    value; like the endpoint's password it is read at every connect, so a
    ChangeConfiguration applies from the next WebSocket on.

    The URL and headers are checked against ESP-AT's 256-byte limits here, so a
    misconfiguration is refused before any port is opened (ValueError).
    """

    endpoint: Endpoint
    modem: EspAtSettings
    ping_interval: Seconds = 0
    _device: EspAtModem | None = field(default=None, init=False, repr=False)
    # A transfer may bring the module up while a connect does: one port opening at a time.
    _bringing_up: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        EspAtModem.plan_open(
            self.endpoint.url,
            self.endpoint.request_headers(),
            link_id=self.modem.link_id,
            timeout=self.modem.open_timeout,
        )

    @property
    def description(self) -> str:
        return (
            f'{self.endpoint.url} via ESP-AT (Wi-Fi "{self.modem.wifi_ssid}") on {self.modem.port}'
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
        return await device.open_websocket(
            self.endpoint.url,
            headers=self.endpoint.request_headers(),
            ping_interval=ping,
            ping_timeout=pong,
            buffer_size=settings.buffer_size,
            link_id=settings.link_id,
            timeout=settings.open_timeout,
        )

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
        return EspAtTransfer(self._bring_up)

    async def aclose(self) -> None:
        await self._drop_device()
