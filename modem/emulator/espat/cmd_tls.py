"""What a wss:// link needs in the module: AT+SYSMFG (certificates in the manufacturing NVS),
AT+CIPSNTPCFG / AT+CIPSNTPTIME? (its clock).

Formats (Espressif's Basic and TCP-IP AT command documentation, v4.1 ... v5):

* ``AT+SYSMFG?`` -> ``+SYSMFG:"<namespace>"`` per namespace, OK.
* ``AT+SYSMFG=0,"<ns>"[,"<key>"]`` erases; OK.
* ``AT+SYSMFG=1,"<ns>","<key>"`` -> ``+SYSMFG:"<ns>","<key>",<type>,<length>,<value>``
  (raw bytes) CR LF, OK; ERROR for a key that does not exist.  ``=1,"<ns>"`` lists
  ``+SYSMFG:"<ns>","<key>",<type>`` lines.
* ``AT+SYSMFG=2,"<ns>","<key>",<type>,<value>``: for type 7 (string) and 8 (binary)
  <value> is a length: the data prompt ``\\r\\nOK\\r\\n\\r\\n>``, exactly that many bytes,
  then OK.  Types 1-6 take the number itself.  An unknown namespace is ERROR.
* ``AT+CIPSNTPCFG=<enable>,<timezone>[,"<server>"...]`` -> OK; the clock is set a
  little later (``SNTP_SYNC`` s once on Wi-Fi), announced by ``+TIME_UPDATED``;
  ``AT+CIPSNTPCFG?`` -> ``+CIPSNTPCFG:<enable>,<timezone>,"<server>"``.
* ``AT+CIPSNTPTIME?`` -> ``+CIPSNTPTIME:<asctime>`` in the configured zone, OK; before
  SNTP has set it, the 1970 the module boots with (seconds since boot).

The manufacturing NVS survives resets (``EspAt.mfg``); the clock and the SNTP settings
do not.  The emulated SNTP client does not ask a real NTP server: the host's clock
stands in for it; the ``sntp_blocked`` fault keeps it from ever syncing.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from modem.emulator.atparse import Command, Kind, ParamError
from modem.emulator.dialect import CommandIO, Reply, error, ok
from modem.emulator.espat.state import PROMPT, SNTP_SYNC  # noqa: F401 (documented)
from modem.emulator.espat.table import command

if TYPE_CHECKING:
    from modem.emulator.espat.dialect import EspAt

# The PKI namespaces of the manufacturing NVS (AT+SYSMFG command examples) and the one
# with the factory parameters.
NAMESPACES = (
    "factory_param",
    "client_cert",
    "client_key",
    "client_ca",
    "mqtt_cert",
    "mqtt_key",
    "mqtt_ca",
    "https_cert",
    "https_key",
    "https_ca",
    "wss_cert",
    "wss_key",
    "wss_ca",
)
MAX_VALUE = 65536  # bytes one binary/string value may take (the mfg_nvs partition is small)
DATA_WAIT = 10.0  # seconds the module waits for the announced bytes


@command("+SYSMFG")
async def sysmfg(m: EspAt, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.READ:
        return ok(*(f'+SYSMFG:"{ns}"' for ns in NAMESPACES))
    if cmd.kind is not Kind.WRITE:
        return error()
    operation = cmd.int_param(0, 0, 2)
    namespace = cmd.str_param(1, "")
    if namespace and namespace not in NAMESPACES:
        return error()
    if operation == 0:
        if not namespace:
            return error()
        if cmd.has(2):
            m.mfg.pop((namespace, cmd.str_param(2)), None)
        else:
            for stored in [k for k in m.mfg if k[0] == namespace]:
                del m.mfg[stored]
        return ok()
    if operation == 1:
        return _read(m, cmd, namespace)
    key = cmd.str_param(2)
    value_type = cmd.int_param(3, 1, 8)
    if value_type < 7:
        m.mfg[(namespace, key)] = (value_type, cmd.int_param(4, -(1 << 31), (1 << 32) - 1, 0))
        return ok()
    length = cmd.int_param(4, 1, MAX_VALUE)
    await io.prompt(PROMPT, m.take_prompt_delay())
    data = await io.read_exact(length, DATA_WAIT)
    if data is None:
        return error()
    m.mfg[(namespace, key)] = (value_type, data)
    m.mfg_writes += 1
    return ok()


def _read(m: EspAt, cmd: Command, namespace: str) -> Reply:
    if not namespace:
        return ok(*(f'+SYSMFG:"{ns}"' for ns in NAMESPACES))
    if not cmd.has(2):
        held = sorted(k for k in m.mfg if k[0] == namespace)
        return ok(*(f'+SYSMFG:"{ns}","{name}",{m.mfg[(ns, name)][0]}' for ns, name in held))
    key = cmd.str_param(2)
    found = m.mfg.get((namespace, key))
    if found is None:
        return error()
    value_type, value = found
    data = value if isinstance(value, bytes) else str(value).encode()
    if cmd.has(3):  # <offset>,<length>
        offset = cmd.int_param(3, 0, len(data))
        data = data[offset : offset + cmd.int_param(4, 1, MAX_VALUE)]
    header = f'+SYSMFG:"{namespace}","{key}",{value_type},{len(data)},'.encode()
    return ok(header + data)


@command("+CIPSNTPCFG")
async def cipsntpcfg(m: EspAt, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.READ:
        if m.sntp is None:
            return ok("+CIPSNTPCFG:0,0")
        zone, servers = m.sntp
        return ok(f"+CIPSNTPCFG:1,{zone}," + ",".join(f'"{s}"' for s in servers))
    if cmd.kind is not Kind.WRITE:
        return error()
    enable = cmd.int_param(0, 0, 1)
    zone = cmd.int_param(1, -12, 14, 0) if enable else 0
    servers = [cmd.str_param(i) for i in range(2, min(len(cmd.params), 5)) if cmd.has(i)]
    if len(cmd.params) > 5:
        raise ParamError("+CIPSNTPCFG: at most three servers")
    if not enable:
        m.sntp = None
        return ok()
    m.sntp = (zone, servers or ["cn.ntp.org.cn"])
    m.start_sntp()
    return ok()


@command("+CIPSNTPTIME")
async def cipsntptime(m: EspAt, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is not Kind.READ:
        return error()
    zone = m.sntp[0] if m.sntp is not None else 0
    if m.clock_set:
        shown = time.gmtime(time.time() + zone * 3600)
    else:  # the epoch it boots with, plus the time since boot
        shown = time.gmtime(int(time.monotonic() - m.booted_at) % 86400)
    return ok(f"+CIPSNTPTIME:{time.asctime(shown)}")
