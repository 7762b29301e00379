"""The EC200U as data: SIM, radio, registration, PDP contexts, sockets, settings.

Kept explicit (rather than canned answers per command) so a field profile is
just different values here, and every diagnostic command tells one coherent
story: no SIM means no IMSI, no registration, no PDP, no sockets.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from modem.emulator.ec200u.transfer import HttpTransfer

REVISION = "EC200UCNAAR03A06M08"
MAX_CONNECT_ID = 11
MAX_CTX = 7
QISEND_MAX = 1460
QIRD_MAX = 1500
RX_BUFFER_LIMIT = 64 * 1024  # above this the socket stops reading: TCP flow control
SEND_BUFFER = 10240  # QISEND <Freesize> range 0-10240: unacked data beyond it -> SEND FAIL


# 3GPP TS 27.007 section 9.2 texts (CMEE=2).
CME_ERRORS: dict[int, str] = {
    3: "operation not allowed",
    4: "operation not supported",
    10: "SIM not inserted",
    11: "SIM PIN required",
    12: "SIM PUK required",
    13: "SIM failure",
    14: "SIM busy",
    16: "incorrect password",
    30: "no network service",
    50: "incorrect parameters",
    100: "unknown",
    # The Quectel file block (AT+QFUPL / AT+QFDEL; texts [verify] on EC200U).
    405: "file not found",
    407: "file already exists",
    420: "time out",
    421: "file too large",
}

# Registration <stat> values that mean "attached, data possible".
REGISTERED = (1, 5)


@dataclass
class Sim:
    status: str = "READY"  # READY | SIM PIN | SIM PUK | ABSENT
    pin: str = "1234"
    pin_tries: int = 3
    iccid: str = "89860012345678901234"
    imsi: str = "460001234567890"


@dataclass
class Cell:
    """Serving LTE cell and what the module measures on it."""

    mcc: int = 460
    mnc: int = 0
    oper_long: str = "CHINA MOBILE"
    oper_short: str = "CMCC"
    duplex: str = "FDD"
    band: int = 3
    earfcn: int = 1650
    cell_id: str = "1A2D001"
    pci: int = 123
    tac: str = "1A2B"
    bandwidth: int = 5  # 20 MHz
    rssi: int = -65  # dBm
    rsrp: int = -92
    rsrq: int = -8
    sinr: int = 19  # dB
    srxlev: int = 48

    @property
    def plmn(self) -> str:
        return f"{self.mcc}{self.mnc:02d}"

    @property
    def csq(self) -> int:
        """AT+CSQ <rssi>: -113 dBm + 2 dB per step, 0..31 (27.007)."""
        return max(0, min(31, (self.rssi + 113) // 2))

    @property
    def sinr_raw(self) -> int:
        """AT+QCSQ LTE <sinr>: raw 0..250 with dB = raw/5 - 20."""
        return max(0, min(250, (self.sinr + 20) * 5))


@dataclass
class PdpContext:
    ctx_type: int = 1
    apn: str = ""
    user: str = ""
    password: str = ""
    auth: int = 0
    active: bool = False
    ip: str = ""


@dataclass
class QiSocket:
    """One connectID.  ``state`` uses the QISTATE codes 0..4."""

    conn_id: int
    ctx: int
    service: str
    host: str
    remote_port: int
    access_mode: int = 0
    state: int = 1
    remote_ip: str = ""
    local_port: int = 0
    rx: bytearray = field(default_factory=bytearray)
    total_rx: int = 0
    total_read: int = 0
    total_sent: int = 0
    recv_urc_armed: bool = True  # False between a "recv" URC and the drain to 0
    writer: asyncio.StreamWriter | None = None
    task: asyncio.Task[None] | None = None  # the receive pump
    room: asyncio.Event = field(default_factory=asyncio.Event)  # set while rx has space
    http: HttpTransfer | None = None
    """Set when the host's first bytes are an HTTP request (a file transfer)."""
    cut_after: int | None = None
    """transfer-cut: the connection drops once this many bytes have been received."""
    cut_sent_at: int | None = None
    """transfer-cut of an upload: the connection drops once this many bytes were sent."""
    sslctx: int | None = None
    """Set for a QSSL client (AT+QSSLOPEN): TLS ends in the module, URCs are +QSSLURC."""

    @property
    def urc(self) -> str:
        """``+QIURC`` for a QI socket, ``+QSSLURC`` for a QSSL client."""
        return "+QIURC" if self.sslctx is None else "+QSSLURC"

    def unacked(self) -> int:
        """Bytes not yet acknowledged by the peer: our buffer plus the kernel's send queue."""
        if self.writer is None:
            return 0
        pending = self.writer.transport.get_write_buffer_size()
        return pending + _kernel_outq(self.writer)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.conn_id,
            "ctx": self.ctx,
            "state": self.state,
            "host": self.host,
            "port": self.remote_port,
            "rx_buffered": len(self.rx),
            "total_rx": self.total_rx,
            "total_sent": self.total_sent,
            "recv_urc_armed": self.recv_urc_armed,
        }


def _kernel_outq(writer: asyncio.StreamWriter) -> int:
    """Linux SIOCOUTQ (= TIOCOUTQ): unacknowledged bytes in the TCP send queue."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return 0
    try:
        import fcntl
        import struct
        import termios

        raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
        return int(struct.unpack("i", raw)[0])
    except (ImportError, OSError, AttributeError):
        return 0


def default_qicfg() -> dict[str, tuple[int, ...]]:
    """AT+QICFG values after boot (none are saved, reference A.13)."""
    return {
        "transpktsize": (1024,),
        "transwaittm": (2,),
        "dataformat": (0, 0),
        "viewmode": (0,),
        "passiveclosed": (0,),
        "close/mode": (0,),
        "recvind": (0,),
        "sendinfo": (0,),
        "formatcfg": (0,),
        "qisend/timeout": (5,),
        "tcp/keepalive": (0, 1800, 25, 3),
        "tcp/retranscfg": (8, 6),
    }


def default_sslcfg() -> dict[str, int | str]:
    """AT+QSSLCFG after boot.  The field-verified quirks (A.12): ``sni`` 0 and
    ``ignorelocaltime`` 1 (validity dates NOT checked); not saved across reboots."""
    return {
        "sslversion": 4,
        "ciphersuite": "0XFFFF",
        "seclevel": 0,
        "cacert": "",
        "clientcert": "",
        "clientkey": "",
        "ignorelocaltime": 1,
        "negotiatetime": 300,
        "sni": 0,
        "checkhost": 1,
    }


@dataclass
class ModemState:
    """Everything a power cycle resets."""

    sim: Sim = field(default_factory=Sim)
    cell: Cell = field(default_factory=Cell)
    reg_stat: int = 1
    reg_n: dict[str, int] = field(default_factory=lambda: {"+CREG": 0, "+CGREG": 0, "+CEREG": 0})
    cfun: int = 1
    cmee: int = 1
    qisde: int = 1
    qicfg: dict[str, tuple[int, ...]] = field(default_factory=default_qicfg)
    contexts: dict[int, PdpContext] = field(
        default_factory=lambda: {i: PdpContext() for i in range(1, MAX_CTX + 1)}
    )
    sockets: dict[int, QiSocket] = field(default_factory=dict)
    last_error: int = 0
    dns: tuple[str, str] = ("114.114.114.114", "8.8.8.8")
    files: dict[str, bytes] = field(default_factory=dict)
    """UFS: what AT+QFUPL stored (AT+QSSLCFG names CA, certificate and key in it)."""
    sslcfg: dict[int, dict[str, int | str]] = field(default_factory=dict)
    """AT+QSSLCFG per SSL context 0..5, from default_sslcfg() on first use."""
    clock_set: bool = True
    """The RTC was set from the network (NITZ); False: AT+CCLK? shows 1980."""
    stack_wedged: bool = False
    """Fault: the data stack degraded by rapid reconnects; every QIOPEN fails with 552
    until a power cycle (modem-at.md A.11 field caveat [field F-SSL])."""

    @property
    def registered(self) -> bool:
        return self.reg_stat in REGISTERED
