"""Reachability without ICMP, shared by the dialects' ping commands (AT+QPING, AT+PING).

ICMP needs raw sockets, i.e. root, so an emulated ping is one TCP connect to
port 80 of the address, timed: an answer of any kind (accepted, or refused
with a RST) counts as a reply and its round trip is the ping time; only
silence until the timeout, or an unreachable network, is a lost echo.  The
latency is comparable to ICMP's; a host that drops both ICMP and SYNs to
port 80 looks the same either way.
"""

from __future__ import annotations

import asyncio

PING_PORT = 80


async def connect_rtt(address: str, timeout: float) -> int | None:
    """Milliseconds until a TCP connect to ``address`` was answered (SYN-ACK or RST), or None."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(address, PING_PORT)
        writer.transport.abort()
    except ConnectionRefusedError:
        pass  # a RST is an answer: the host is there
    except (OSError, TimeoutError):
        return None
    return max(1, round((loop.time() - start) * 1000))
