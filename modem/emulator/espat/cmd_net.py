"""IP-level commands a field test asks for: AT+CIPSTA?, AT+CIPDOMAIN, AT+PING.

Formats follow Espressif's TCP-IP AT command documentation (v2.2 ... v5):

* ``AT+CIPSTA?`` -> ``+CIPSTA:ip:"<ip>"``, ``+CIPSTA:gateway:"<gw>"``,
  ``+CIPSTA:netmask:"<mask>"``, OK (all ``0.0.0.0`` while not on an AP).
* ``AT+CIPDOMAIN="<name>"[,<ip network>]`` -> ``+CIPDOMAIN:"<ip>"``, OK; a
  name that does not resolve gets a bare ERROR.  ``<ip network>``: 1 IPv4
  preferred (default), 2 IPv4 only, 3 IPv6 only.
* ``AT+PING="<host>"`` -> ``+PING:<ms>``, OK; or ``+PING:TIMEOUT``, ERROR
  (also when the name does not resolve, as the documentation says).

Both resolve for real, with the host OS resolver (``getaddrinfo`` in the
loop's executor), so a CSMS URL naming ``localhost`` or a real domain behaves
as it would through the access point's DNS.  Ping is *not* ICMP: see
:mod:`modem.emulator.netprobe`; silence until the timeout is ``+PING:TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import TYPE_CHECKING

from modem.emulator.atparse import Command, Kind
from modem.emulator.dialect import CommandIO, Reply, error, ok
from modem.emulator.espat.state import GATEWAY, NETMASK
from modem.emulator.espat.table import command
from modem.emulator.netprobe import connect_rtt

if TYPE_CHECKING:
    from modem.emulator.espat.dialect import EspAt

DNS_TIMEOUT = 10.0  # s; lwIP gives up after about this long
PING_TIMEOUT = 1.0  # s; esp_ping's default timeout_ms
# <ip network> of AT+CIPDOMAIN -> getaddrinfo family, and whether IPv4 comes first
_NETWORKS = {1: (socket.AF_UNSPEC, True), 2: (socket.AF_INET, True), 3: (socket.AF_INET6, False)}


async def resolve(m: EspAt, host: str, network: int = 1) -> str | None:
    """One address of ``host`` as the module's lwIP would give it; ``None`` if it does not resolve.

    An address given as text comes back unchanged without a lookup.
    """
    family, ipv4_first = _NETWORKS[network]
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        wanted = {socket.AF_UNSPEC, socket.AF_INET if literal.version == 4 else socket.AF_INET6}
        return str(literal) if family in wanted else None
    await asyncio.sleep(m.timing.dns)
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(DNS_TIMEOUT):
            infos = await loop.getaddrinfo(host, None, family=family, type=socket.SOCK_STREAM)
    except (OSError, TimeoutError, UnicodeError):
        return None
    addresses = [str(info[4][0]) for info in infos]
    if ipv4_first:
        addresses.sort(key=lambda a: ":" in a)  # stable: IPv4 first, resolver order kept
    return addresses[0] if addresses else None


@command("+CIPSTA")
async def cipsta(m: EspAt, cmd: Command, io: CommandIO) -> Reply:
    """The station's address from DHCP (only the query: setting a static IP is not modelled)."""
    if cmd.kind is not Kind.READ:
        return error()
    online = m.state.online
    ip, gateway, netmask = (m.state.ip, GATEWAY, NETMASK) if online else ("0.0.0.0",) * 3
    return ok(f'+CIPSTA:ip:"{ip}"', f'+CIPSTA:gateway:"{gateway}"', f'+CIPSTA:netmask:"{netmask}"')


@command("+CIPDOMAIN")
async def cipdomain(m: EspAt, cmd: Command, io: CommandIO) -> Reply:
    """A blocking lookup (``busy p...`` meanwhile); ERROR without Wi-Fi or when it fails."""
    if cmd.kind is not Kind.WRITE:
        return error()
    name = cmd.str_param(0)
    network = cmd.int_param(1, 1, 3, 1)
    if not m.state.online:
        return error()
    address = await io.blocking(resolve(m, name, network))
    return error() if address is None else ok(f'+CIPDOMAIN:"{address}"')


@command("+PING")
async def ping(m: EspAt, cmd: Command, io: CommandIO) -> Reply:
    """One timed probe (see the module docstring); blocking like the real command."""
    if cmd.kind is not Kind.WRITE:
        return error()
    host = cmd.str_param(0)
    if not m.state.online:
        return error()

    async def probe() -> int | None:
        address = await resolve(m, host)
        return None if address is None else await connect_rtt(address, PING_TIMEOUT)

    rtt = await io.blocking(probe())
    if rtt is None:
        return Reply([b"+PING:TIMEOUT"], b"ERROR")
    return ok(f"+PING:{rtt}")
