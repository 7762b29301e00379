"""Real TCP connections behind QI connectIDs, with the module's buffer-mode rules.

The receive side is where drivers break: exactly one ``+QIURC: "recv"`` when
the buffer goes from empty to non-empty, then silence until QIRD has drained
it to zero (reference A.5).  A peer close leaves unread bytes readable and the
ID in state 4 until AT+QICLOSE.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from typing import TYPE_CHECKING

from modem.emulator.ec200u.state import RX_BUFFER_LIMIT, SEND_BUFFER, QiSocket

if TYPE_CHECKING:
    from modem.emulator.ec200u.dialect import Ec200u


def is_ipv4(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


async def resolve(m: Ec200u, host: str) -> list[str] | None:
    """IPv4 addresses of ``host`` via the host OS resolver; ``None`` = DNS failure (565)."""
    if is_ipv4(host):
        return [host]
    if not m.profile.dns_ok:
        await m.net_delay(m.timing.dns_fail)
        return None
    await m.net_delay(m.timing.dns)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, family=socket.AF_INET, type=socket.SOCK_STREAM)
    except OSError:
        return None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


async def _connect(m: Ec200u, sock: QiSocket, timeout: float) -> int:
    """Open the real connection; returns the +QIOPEN <err> code."""
    await m.net_delay(m.timing.qiopen)
    if not m.state.contexts[sock.ctx].active or not m.state.registered:
        return 561
    addrs = await resolve(m, sock.host)
    if not addrs:
        return 565
    sock.remote_ip = addrs[0]
    if not m.profile.reachable:
        await m.net_delay(m.timing.unreachable)
        return 566
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(sock.remote_ip, sock.remote_port)
    except (OSError, TimeoutError):
        return 566
    if sock.state != 1:  # the PDP context went down while connecting
        writer.transport.abort()
        return 570
    with contextlib.suppress(OSError):
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.writer = writer
    sock.local_port = writer.get_extra_info("sockname")[1]
    sock.state = 2
    sock.room.set()
    sock.task = m.engine.spawn(_pump(m, sock, reader))
    return 0


async def open_socket(m: Ec200u, sock: QiSocket, timeout: float) -> None:
    """Runs after QIOPEN's ``OK``; always ends with one ``+QIOPEN: <id>,<err>``."""
    err = await _connect(m, sock, timeout)
    if m.state.sockets.get(sock.conn_id) is not sock:
        abort(sock)  # QICLOSE or reboot while opening
        return
    if err:
        del m.state.sockets[sock.conn_id]
        m.state.last_error = err
    m.engine.urc(f"+QIOPEN: {sock.conn_id},{err}")


async def _pump(m: Ec200u, sock: QiSocket, reader: asyncio.StreamReader) -> None:
    try:
        while True:
            await sock.room.wait()
            data = await reader.read(RX_BUFFER_LIMIT)
            if not data:
                break
            _deliver(m, sock, data)
    except OSError:
        pass
    if m.state.sockets.get(sock.conn_id) is sock and sock.state == 2:
        sock.task = None  # we are that task: nothing to cancel
        lost(m, sock)


def _deliver(m: Ec200u, sock: QiSocket, data: bytes) -> None:
    sock.rx += data
    sock.total_rx += len(data)
    if len(sock.rx) >= RX_BUFFER_LIMIT:
        sock.room.clear()
    if sock.recv_urc_armed:
        sock.recv_urc_armed = False
        extra = f",{len(sock.rx)}" if m.state.qicfg["recvind"][0] else ""
        m.engine.urc(f'+QIURC: "recv",{sock.conn_id}{extra}')


def take(sock: QiSocket, n: int) -> bytes:
    """Read up to ``n`` buffered bytes (QIRD); re-arms the recv URC once drained."""
    data = bytes(sock.rx[:n])
    del sock.rx[:n]
    sock.total_read += len(data)
    if not sock.rx:
        sock.recv_urc_armed = True
    if len(sock.rx) < RX_BUFFER_LIMIT:
        sock.room.set()
    return data


def send(sock: QiSocket, data: bytes) -> bool:
    """Queue ``data`` to the peer; False (SEND FAIL) when the send buffer is full."""
    if sock.writer is None or sock.writer.transport.is_closing():
        return False
    if sock.unacked() + len(data) > SEND_BUFFER:
        return False
    sock.writer.write(data)
    sock.total_sent += len(data)
    return True


def abort(sock: QiSocket) -> None:
    """Drop the connection at once (reboot, network loss); the peer sees it closed."""
    if sock.task is not None:
        sock.task.cancel()
        sock.task = None
    if sock.writer is not None:
        sock.writer.transport.abort()
        sock.writer = None


def lost(m: Ec200u, sock: QiSocket) -> None:
    """Peer close or network drop: state 4 and ``+QIURC: "closed"``; unread data stays."""
    abort(sock)
    sock.state = 4
    m.engine.urc(f'+QIURC: "closed",{sock.conn_id}')


async def close(sock: QiSocket, timeout: float) -> None:
    """AT+QICLOSE: FIN and wait for it up to ``timeout``, then force the close."""
    if sock.task is not None:
        sock.task.cancel()
        sock.task = None
    writer, sock.writer = sock.writer, None
    if writer is None:
        return
    writer.close()
    try:
        async with asyncio.timeout(timeout):
            await writer.wait_closed()
    except (OSError, TimeoutError):
        writer.transport.abort()
