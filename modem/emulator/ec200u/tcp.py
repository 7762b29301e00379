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
from modem.emulator.ec200u.transfer import is_http_request

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
    if sock.sslctx is not None:
        from modem.emulator.ec200u.tls import open_tls  # the QSSL client (AT+QSSLOPEN)

        opened = await open_tls(m, sock, timeout)
        if opened is None:
            return 566  # every handshake failure, as the module reports it (A.8)
        reader, writer = opened
    else:
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
    opened = "+QIOPEN" if sock.sslctx is None else "+QSSLOPEN"
    m.engine.urc(f"{opened}: {sock.conn_id},{err}")


async def _pump(m: Ec200u, sock: QiSocket, reader: asyncio.StreamReader) -> None:
    try:
        while True:
            await sock.room.wait()
            data = await reader.read(RX_BUFFER_LIMIT)
            if not data:
                break
            rate = sock.http.rate if sock.http is not None else None
            going = _arrive(m, sock, data) if rate is None else await _trickle(m, sock, data, rate)
            if not going:
                break
    except OSError:
        pass
    if m.state.sockets.get(sock.conn_id) is sock and sock.state == 2:
        sock.task = None  # we are that task: nothing to cancel
        lost(m, sock)


async def _trickle(m: Ec200u, sock: QiSocket, data: bytes, rate: float) -> bool:
    """transfer-slow: the server's bytes arrive a tenth of ``rate`` every 0.1 s."""
    step = max(1, int(rate / 10))
    for start in range(0, len(data), step):
        piece = data[start : start + step]
        await asyncio.sleep(len(piece) / rate)
        if not _arrive(m, sock, piece):
            return False
    return True


def _arrive(m: Ec200u, sock: QiSocket, data: bytes) -> bool:
    """Bytes from the peer into the module; False once a transfer-cut ends the connection."""
    if sock.http is not None and sock.cut_after is None:
        sock.cut_after = sock.http.received_cut_at(data)
    if sock.cut_after is not None and sock.total_rx + len(data) >= sock.cut_after:
        # transfer-cut: the bytes up to the cut arrive, then the network drops the
        # connection (recv URC first, then "closed", as on a real drop)
        _deliver(m, sock, data[: max(0, sock.cut_after - sock.total_rx)])
        return False
    _deliver(m, sock, data)
    return True


def _deliver(m: Ec200u, sock: QiSocket, data: bytes) -> None:
    if not data:
        return
    sock.rx += data
    sock.total_rx += len(data)
    if len(sock.rx) >= RX_BUFFER_LIMIT:
        sock.room.clear()
    if sock.recv_urc_armed:
        sock.recv_urc_armed = False
        extra = f",{len(sock.rx)}" if m.state.qicfg["recvind"][0] else ""
        m.engine.urc(f'{sock.urc}: "recv",{sock.conn_id}{extra}')


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


def send(m: Ec200u, sock: QiSocket, data: bytes) -> bool:
    """Queue ``data`` to the peer; False (SEND FAIL) when the send buffer is full.

    The first bytes tell whether the socket carries an HTTP transfer (transfer.py):
    then every byte is checked as HTTP/1.1, and a transfer-cut of an upload forwards
    only the bytes before the cut (the caller drops the connection after its reply).
    """
    if sock.writer is None or sock.writer.transport.is_closing():
        return False
    if sock.unacked() + len(data) > SEND_BUFFER:
        return False
    if sock.total_sent == 0 and is_http_request(data):
        sock.http = m.new_transfer()
        sock.http.upload = not data.startswith((b"GET ", b"HEAD "))
        sock.cut_sent_at = sock.http.sent_cut_at(data)
    if sock.http is not None:
        where = f"socket {sock.conn_id} to {sock.host}:{sock.remote_port}"
        sock.http.check_sent(data, where)
        if sock.http.violations and sock.http.violations[-1] not in m.http_violations:
            m.http_violations.append(sock.http.violations[-1])
    if sock.cut_sent_at is not None and sock.total_sent + len(data) >= sock.cut_sent_at:
        data = data[: max(0, sock.cut_sent_at - sock.total_sent)]
    sock.writer.write(data)
    sock.total_sent += len(data)
    return True


def cut_now(sock: QiSocket) -> bool:
    """Whether an upload's transfer-cut point has been reached (drop after the reply)."""
    return sock.cut_sent_at is not None and sock.total_sent >= sock.cut_sent_at


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
    m.engine.urc(f'{sock.urc}: "closed",{sock.conn_id}')


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
