"""What the emulated ESP-AT module remembers: Wi-Fi station, WebSocket settings and links."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modem.emulator.espat.wslink import WsLink

LINK_IDS = range(3)
MAX_BUFFER = 8192  # v3.2 ... v5.0.1
SEND_OVERHEAD = 10  # AT+WSSEND <length> <= buffer_size - 10
PROMPT = b"\r\nOK\r\n\r\n>"  # at_port.c: OK, blank line, '>' and nothing after it
SNTP_SYNC = 0.2  # seconds from AT+CIPSNTPCFG (on Wi-Fi) until the clock is set
BSSID = "24:0a:c4:00:c0:de"
CHANNEL, RSSI = 6, -52
# What the emulated access point's DHCP hands out (AT+CIPSTA?).
STATION_IP, GATEWAY, NETMASK = "192.168.4.23", "192.168.4.1", "255.255.255.0"


@dataclass
class WsConfig:
    """AT+WSCFG for one link id; read by the next AT+WSOPEN only."""

    ping_interval: int = 10
    ping_timeout: int = 120
    buffer_size: int = 1024
    auth_mode: int = 0


@dataclass
class EspState:
    mode: int = 1  # AT+CWMODE (kept in flash on the real module)
    ssid: str | None = None  # the AP joined, once it gave an IP
    ip: str = ""
    saved: tuple[str, str] | None = None  # AP re-joined after a reset, as in flash
    headers: list[str] = field(default_factory=list)  # AT+WSHEAD, global to all links
    configs: dict[int, WsConfig] = field(default_factory=dict)
    links: dict[int, WsLink] = field(default_factory=dict)
    http_url: str | None = None  # AT+HTTPURLCFG: used where a command gives ""

    def config(self, link_id: int) -> WsConfig:
        return self.configs.setdefault(link_id, WsConfig())

    @property
    def online(self) -> bool:
        return self.ssid is not None
