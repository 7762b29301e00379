"""Emulator settings.  Delays are short by default so CI stays fast, yet never zero:
a driver that works only because answers are instant would fail on hardware."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Timing:
    """Seconds the emulated network takes; real worst cases are in reference A.11."""

    boot: float = 0.5  # AT+CFUN=1,1 / reboot until RDY
    boot_urcs: float = 0.2  # RDY until +CPIN: READY and the rest
    register: float = 0.5  # PIN accepted / radio on until registered
    qiact: float = 0.3  # PDP activation accepted
    qiact_fail: float = 2.0  # network rejects the activation (bad APN, not registered)
    qideact: float = 0.1
    qiopen: float = 0.1  # added before the real TCP connect (a cellular round trip)
    unreachable: float = 3.0  # csms-unreachable: until +QIOPEN: <id>,566
    dns: float = 0.02
    dns_fail: float = 2.0  # no-dns: until 565
    connect_timeout: float = 150.0  # default when QIOPEN gives no <connect_timeout>
    wifi_join: float = 0.5  # ESP-AT: AT+CWJAP until WIFI GOT IP
    wifi_fail: float = 2.0  # ESP-AT: wrong password / no such AP until +CWJAP:<code>
    wifi_timeout: float = 15.0  # ESP-AT: AT+CWJAP's default <jap_timeout>, until +CWJAP:1
    ws_reconnect: float = 10.0  # ESP-AT auto-reconnect after +WS_DISCONNECTED (if enabled)

    def scaled(self, factor: float) -> Timing:
        """Every delay multiplied by ``factor`` (tests use 0.1)."""
        return Timing(**{f.name: getattr(self, f.name) * factor for f in dataclasses.fields(self)})


@dataclass(frozen=True)
class EmulatorConfig:
    dialect: str = "ec200u"
    baud: int | None = 115200  # None or 0: no pacing
    latency_ms: int = 0  # added before every response
    profile: str = "ok"
    good_apns: tuple[str, ...] = ()  # bad-apn profile: APNs the network accepts
    prompt: bytes | None = None  # QISEND prompt; None = dialect default
    timing: Timing = field(default_factory=Timing)
    at_port: str = "uart1"  # <AT_port> shown by AT+QISTATE
    # ESP-AT: the access point in range (None: any SSID and password join).
    wifi_ssid: str | None = None
    wifi_password: str | None = None
    # ESP-AT: the AP is in range but joining fails: 1 it never answers (+CWJAP:1 after the
    # timeout), 4 it refuses the station (+CWJAP:4, e.g. a MAC filter); None: joins work
    wifi_failure: int | None = None
    ws_commands: bool = True  # False: firmware built without WebSocket support
    ws_auto_reconnect: bool = False  # reconnect by itself after +WS_DISCONNECTED
    # Seed for +WS_DATA pieces of random length 1..buffer_size (None: full pieces)
    ws_piece_seed: int | None = None
