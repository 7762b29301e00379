"""QI socket commands in buffer access mode (reference A.3-A.8, A.13).

Only ``"TCP"`` clients in buffer mode (access_mode 0) are emulated: that is
what the driver must use.  Direct push, transparent mode, UDP and listeners
answer ``ERROR`` with QIGETERROR 555 "operation not supported", so a driver
that drifts into them fails loudly instead of silently half-working.
"""

from __future__ import annotations

import binascii
from typing import TYPE_CHECKING

from modem.emulator.atparse import Command, Kind, ParamError
from modem.emulator.dialect import CommandIO, Reply, error, ok
from modem.emulator.ec200u import tcp
from modem.emulator.ec200u.state import (
    MAX_CONNECT_ID,
    MAX_CTX,
    QIRD_MAX,
    QISEND_MAX,
    SEND_BUFFER,
    QiSocket,
)
from modem.emulator.ec200u.table import command

if TYPE_CHECKING:
    from modem.emulator.ec200u.dialect import Ec200u

CTRL_Z, ESC = 0x1A, 0x1B
SERVICES = ("TCP", "UDP", "TCP LISTENER", "UDP SERVICE")
QICFG_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    "transpktsize": ((1, 1460),),
    "transwaittm": ((0, 20),),
    "dataformat": ((0, 1), (0, 1)),
    "viewmode": ((0, 1),),
    "passiveclosed": ((0, 1),),
    "close/mode": ((0, 1),),
    "recvind": ((0, 1),),
    "sendinfo": ((0, 1),),
    "formatcfg": ((0, 1),),
    "qisend/timeout": ((0, 120),),
    "tcp/keepalive": ((0, 1), (1, 1800), (25, 100), (3, 10)),
    "tcp/retranscfg": ((3, 12), (5, 60)),
}


@command("+QIOPEN")
async def qiopen(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    """``OK`` at once; the real connect runs afterwards and ends in ``+QIOPEN: <id>,<err>``.

    An ID that is still allocated (connected, opening, or state 4 after a
    remote close) is reported as ``+QIOPEN: <id>,563`` after the OK; the
    reference leaves open whether hardware answers ERROR instead.
    """
    if cmd.kind is Kind.TEST:
        return ok(
            '+QIOPEN: (1-7),(0-11),"TCP/UDP/TCP LISTENER/UDP SERVICE",'
            '"<IP_address>/<domain_name>",<remote_port>,<local_port>,(0-2),(0-11),(10-150)'
        )
    if cmd.kind is not Kind.WRITE:
        return error()
    ctx = cmd.int_param(0, 1, MAX_CTX)
    conn_id = cmd.int_param(1, 0, MAX_CONNECT_ID)
    service = cmd.str_param(2).upper()
    host = cmd.str_param(3)
    port = cmd.int_param(4, 0, 65535)
    cmd.int_param(5, 0, 65535, 0)  # local port: the OS picks one
    mode = cmd.int_param(6, 0, 2, 0)
    cmd.int_param(7, 0, 11, 11)
    timeout = cmd.int_param(8, 10, 150, 0) or m.timing.connect_timeout
    if service not in SERVICES or not host:
        raise ParamError(f"+QIOPEN: bad service {service!r} or empty host")
    if service != "TCP" or mode != 0:
        return m.qi_error(555)
    if m.state.stack_wedged:

        async def wedged() -> None:
            m.state.last_error = 552
            m.engine.urc(f"+QIOPEN: {conn_id},552")

        io.after_reply(wedged)
        return ok()
    if conn_id in m.state.sockets:

        async def in_use() -> None:
            m.state.last_error = 563
            m.engine.urc(f"+QIOPEN: {conn_id},563")

        io.after_reply(in_use)
        return ok()
    sock = QiSocket(conn_id=conn_id, ctx=ctx, service=service, host=host, remote_port=port)
    m.state.sockets[conn_id] = sock

    async def connect() -> None:
        await tcp.open_socket(m, sock, timeout)

    io.after_reply(connect)
    return ok()


@command("+QICLOSE")
async def qiclose(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    """Frees the ID whatever its state; unread data is discarded."""
    if cmd.kind is Kind.TEST:
        return ok("+QICLOSE: (0-11),(0-65535)")
    if cmd.kind is not Kind.WRITE:
        return error()
    conn_id = cmd.int_param(0, 0, MAX_CONNECT_ID)
    timeout = cmd.int_param(1, 0, 65535, 10)
    sock = m.state.sockets.pop(conn_id, None)
    if sock is not None:
        await tcp.close(sock, timeout)
        if m.state.qicfg["close/mode"][0]:

            async def report() -> None:
                m.engine.urc(f'+QIURC: "closed",{conn_id}')

            io.after_reply(report)
    return ok()


def _sendable(m: Ec200u, sock: QiSocket | None) -> Reply | None:
    """The ERROR a send gets before any prompt, or None when the socket can send."""
    if sock is None:
        return m.qi_error(572)
    if sock.state == 1:
        return m.qi_error(568)
    if sock.state != 2:
        return m.qi_error(567)
    return None


def _finish_send(m: Ec200u, sock: QiSocket, data: bytes, io: CommandIO) -> Reply:
    if sock.state != 2:  # closed while the payload was typed
        return m.qi_error(567)
    sendinfo = m.state.qicfg["sendinfo"][0]
    failed = m.take_send_failure() or not tcp.send(m, sock, data)
    if tcp.cut_now(sock):

        async def drop() -> None:  # transfer-cut of an upload: after SEND OK, the drop
            if sock.state == 2:
                tcp.lost(m, sock)

        io.after_reply(drop)
    if sendinfo:
        free = max(0, SEND_BUFFER - sock.unacked())
        return ok(f"+QISEND: {sock.conn_id},{1 if failed else 0},{free}")
    return Reply(final=b"SEND FAIL" if failed else b"SEND OK")


def _payload_timeout(m: Ec200u) -> float | None:
    seconds = m.state.qicfg["qisend/timeout"][0]
    return float(seconds) if seconds else None


@command("+QISEND")
async def qisend(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    """Fixed length (binary-safe), Ctrl+Z form (0x1A sends, 0x1B cancels), or ``,0`` query."""
    if cmd.kind is Kind.TEST:
        return ok("+QISEND: (0-11),(0-1460)")
    if cmd.kind is not Kind.WRITE:
        return error()
    conn_id = cmd.int_param(0, 0, MAX_CONNECT_ID)
    if len(cmd.params) > 2:
        return m.qi_error(555)  # UDP SERVICE form
    sock = m.state.sockets.get(conn_id)
    length = cmd.int_param(1, 0, QISEND_MAX) if cmd.has(1) else None
    if length == 0:
        if sock is None:
            return m.qi_error(572)
        unacked = sock.unacked()
        return ok(f"+QISEND: {sock.total_sent},{sock.total_sent - unacked},{unacked}")
    if (refusal := _sendable(m, sock)) is not None:
        return refusal
    assert sock is not None
    await io.prompt(m.prompt, m.take_prompt_delay())
    if length is not None:
        data = await io.read_exact(length, _payload_timeout(m))
        if data is None:
            return m.qi_error(569)
    else:
        got = await io.read_until(bytes([CTRL_Z, ESC]), _payload_timeout(m))
        if got is None:
            return m.qi_error(569)
        data, stop = got
        if stop == ESC:
            return m.qi_error(571)
        if not data or len(data) > QISEND_MAX:
            return m.qi_error(552)
    if m.state.qisde:
        io.send_raw(data)
    return _finish_send(m, sock, data, io)


@command("+QISENDEX")
async def qisendex(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.TEST:
        return ok('+QISENDEX: (0-11),"HEX_STRING"')
    if cmd.kind is not Kind.WRITE:
        return error()
    sock = m.state.sockets.get(cmd.int_param(0, 0, MAX_CONNECT_ID))
    text = cmd.str_param(1)
    if not text or len(text) > 512:
        raise ParamError("+QISENDEX: hex string must be 1..512 characters")
    try:
        data = binascii.unhexlify(text)
    except (binascii.Error, ValueError) as exc:
        raise ParamError(f"+QISENDEX: {exc}") from exc
    if (refusal := _sendable(m, sock)) is not None:
        return refusal
    assert sock is not None
    return _finish_send(m, sock, data, io)


@command("+QIRD")
async def qird(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    """``+QIRD: <n>\\r\\n<n raw bytes>`` then OK; ``,0`` reports total,read,unread."""
    if cmd.kind is Kind.TEST:
        return ok("+QIRD: (0-11),(0-1500)")
    if cmd.kind is not Kind.WRITE:
        return error()
    sock = m.state.sockets.get(cmd.int_param(0, 0, MAX_CONNECT_ID))
    length = cmd.int_param(1, 0, QIRD_MAX, QIRD_MAX)
    if sock is None:
        return m.qi_error(572)
    if length == 0:
        return ok(f"+QIRD: {sock.total_rx},{sock.total_read},{len(sock.rx)}")
    data = tcp.take(sock, length)
    return ok(f"+QIRD: {len(data)}".encode() + (b"\r\n" + data if data else b""))


def _qistate_line(m: Ec200u, s: QiSocket) -> str:
    return (
        f'+QISTATE: {s.conn_id},"{s.service}","{s.remote_ip or s.host}",{s.remote_port},'
        f'{s.local_port},{s.state},{s.ctx},0,{s.access_mode},"{m.config.at_port}"'
    )


@command("+QISTATE")
async def qistate(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    socks = sorted(m.state.sockets.values(), key=lambda s: s.conn_id)
    if cmd.kind is Kind.TEST:
        return ok()
    if cmd.kind is Kind.WRITE:
        if cmd.int_param(0, 0, 1) == 0:
            ctx = cmd.int_param(1, 1, MAX_CTX)
            socks = [s for s in socks if s.ctx == ctx]
        else:
            conn_id = cmd.int_param(1, 0, MAX_CONNECT_ID)
            socks = [s for s in socks if s.conn_id == conn_id]
    return ok(*(_qistate_line(m, s) for s in socks))


@command("+QIGETERROR")
async def qigeterror(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.TEST:
        return ok()
    code = m.state.last_error
    return ok(f"+QIGETERROR: {code},{m.qi_error_text(code)}")


@command("+QISDE")
async def qisde(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.READ:
        return ok(f"+QISDE: {m.state.qisde}")
    if cmd.kind is Kind.TEST:
        return ok("+QISDE: (0,1)")
    if cmd.kind is Kind.WRITE:
        m.state.qisde = cmd.int_param(0, 0, 1)
        return ok()
    return error()


@command("+QISWTMD")
async def qiswtmd(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.TEST:
        return ok("+QISWTMD: (0-11),(0-2)")
    if cmd.kind is not Kind.WRITE:
        return error()
    sock = m.state.sockets.get(cmd.int_param(0, 0, MAX_CONNECT_ID))
    mode = cmd.int_param(1, 0, 2)
    if sock is None:
        return m.qi_error(572)
    return ok() if mode == 0 else m.qi_error(555)


@command("+QICFG")
async def qicfg(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    """Settings kept per boot; only hex ``dataformat`` is refused (555, not emulated)."""
    if cmd.kind is Kind.TEST:
        return ok(*(f'+QICFG: "{name}"' for name in QICFG_RANGES))
    if cmd.kind is not Kind.WRITE:
        return error()
    name = cmd.str_param(0).lower()
    ranges = QICFG_RANGES.get(name)
    if ranges is None:
        raise ParamError(f"+QICFG: unknown setting {name!r}")
    current = m.state.qicfg[name]
    if len(cmd.params) == 1:
        return ok(f'+QICFG: "{name}",' + ",".join(str(v) for v in current))
    if len(cmd.params) - 1 > len(ranges):
        raise ParamError(f"+QICFG: too many values for {name!r}")
    values = list(current)
    for i, (lo, hi) in enumerate(ranges):
        values[i] = cmd.int_param(i + 1, lo, hi, current[i])
    if name == "dataformat" and any(values):
        return m.qi_error(555)
    m.state.qicfg[name] = tuple(values)
    return ok()
