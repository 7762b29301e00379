"""File upload and the QSSL client commands of the EC200U (modem-at.md A.12).

* ``AT+QFUPL="<name>",<size>[,<timeout>[,<ackmode>]]`` -> ``CONNECT``, exactly
  ``<size>`` bytes, ``+QFUPL: <size>,<checksum>`` ``OK``; an existing name is
  ``+CME ERROR: 407`` (delete first), too few bytes in ``<timeout>`` s 420.
  ``AT+QFDEL`` (405 when absent; ``"*"`` deletes all), ``AT+QFLST``.
* ``AT+QSSLCFG="<name>",<sslctx>[,<value>]`` with the field defaults (sni 0,
  ignorelocaltime 1: :func:`~modem.emulator.ec200u.state.default_sslcfg`).
* ``AT+QSSLOPEN=<ctx>,<sslctx>,<id>,"<host>",<port>[,<access_mode>]`` -> ``OK``,
  then ``+QSSLOPEN: <id>,<err>`` (566 for any handshake failure); buffer mode
  only (push and transparent answer 555, as for QIOPEN).
* ``AT+QSSLSEND`` / ``AT+QSSLRECV`` / ``AT+QSSLCLOSE`` / ``AT+QSSLSTATE`` follow the
  QI socket's rules (one ``+QSSLURC: "recv"`` until drained; ``"closed"`` leaves
  the ID in state 4 until AT+QSSLCLOSE).  Client IDs share the connectIDs' table.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from modem.emulator.atparse import Command, Kind, ParamError
from modem.emulator.dialect import CommandIO, Reply, error, ok
from modem.emulator.ec200u import tcp
from modem.emulator.ec200u.cmd_socket import CTRL_Z, ESC, _finish_send, _sendable
from modem.emulator.ec200u.state import MAX_CONNECT_ID, MAX_CTX, QIRD_MAX, QISEND_MAX, QiSocket
from modem.emulator.ec200u.table import command
from modem.emulator.ec200u.tls import file_name, sslcfg

if TYPE_CHECKING:
    from modem.emulator.ec200u.dialect import Ec200u

MAX_FILE = 256 * 1024  # a UFS file; larger: +CME ERROR: 421
MAX_SSLCTX = 5
_INT_SETTINGS: dict[str, tuple[int, int]] = {
    "sslversion": (0, 4),
    "seclevel": (0, 2),
    "ignorelocaltime": (0, 1),
    "negotiatetime": (10, 300),
    "sni": (0, 1),
    "checkhost": (0, 1),
}
_FILE_SETTINGS = ("cacert", "clientcert", "clientkey")


def qfupl_checksum(data: bytes) -> int:
    """XOR of 16-bit big-endian words, an odd last byte as a high byte."""
    value = 0
    for start in range(0, len(data) - 1, 2):
        value ^= (data[start] << 8) | data[start + 1]
    if len(data) % 2:
        value ^= data[-1] << 8
    return value


@command("+QFUPL")
async def qfupl(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.TEST:
        return ok('+QFUPL: "<filename>",(1-10485760),(1-65535),(0,1)')
    if cmd.kind is not Kind.WRITE:
        return error()
    name = file_name(cmd.str_param(0))
    size = cmd.int_param(1, 1, 10485760)
    timeout = cmd.int_param(2, 1, 65535, 5)
    cmd.int_param(3, 0, 1, 0)
    if not name:
        raise ParamError("+QFUPL: empty file name")
    if name in m.state.files:
        return m.cme_error(407)
    if size > MAX_FILE:
        return m.cme_error(421)
    await io.prompt(b"\r\nCONNECT\r\n")
    data = await io.read_exact(size, float(timeout))
    if data is None:
        return m.cme_error(420)
    m.state.files[name] = data
    return ok(f"+QFUPL: {size},{qfupl_checksum(data):x}")


@command("+QFDEL")
async def qfdel(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is not Kind.WRITE:
        return ok() if cmd.kind is Kind.TEST else error()
    name = file_name(cmd.str_param(0))
    if name == "*":
        m.state.files.clear()
        return ok()
    if m.state.files.pop(name, None) is None:
        return m.cme_error(405)
    return ok()


@command("+QFLST")
async def qflst(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.TEST:
        return ok()
    pattern = cmd.str_param(0, "*") if cmd.kind is Kind.WRITE else "*"
    names = sorted(n for n in m.state.files if pattern in ("*", file_name(pattern)))
    return ok(*(f'+QFLST: "UFS:{n}",{len(m.state.files[n])}' for n in names))


@command("+QSSLCFG")
async def qsslcfg(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.TEST:
        return ok(*(f'+QSSLCFG: "{n}"' for n in (*_INT_SETTINGS, "ciphersuite", *_FILE_SETTINGS)))
    if cmd.kind is not Kind.WRITE:
        return error()
    name = cmd.str_param(0).lower()
    sslctx = cmd.int_param(1, 0, MAX_SSLCTX)
    cfg = sslcfg(m, sslctx)
    if name not in cfg:
        raise ParamError(f"+QSSLCFG: unknown setting {name!r}")
    if len(cmd.params) == 2:
        value = cfg[name]
        shown = f'"{value}"' if name in _FILE_SETTINGS else str(value)
        return ok(f'+QSSLCFG: "{name}",{sslctx},{shown}')
    if name in _INT_SETTINGS:
        cfg[name] = cmd.int_param(2, *_INT_SETTINGS[name])
    elif name == "ciphersuite":
        text = cmd.str_param(2, quoted=False).upper()
        if not text.startswith("0X"):
            raise ParamError(f"+QSSLCFG: ciphersuite {text!r} is not 0X<hex>")
        cfg[name] = text
    else:
        cfg[name] = cmd.str_param(2)
    return ok()


@command("+QSSLOPEN")
async def qsslopen(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.TEST:
        return ok('+QSSLOPEN: (1-7),(0-5),(0-11),"<serveraddr>",(1-65535),(0-2)')
    if cmd.kind is not Kind.WRITE:
        return error()
    ctx = cmd.int_param(0, 1, MAX_CTX)
    sslctx = cmd.int_param(1, 0, MAX_SSLCTX)
    client_id = cmd.int_param(2, 0, MAX_CONNECT_ID)
    host = cmd.str_param(3)
    port = cmd.int_param(4, 1, 65535)
    mode = cmd.int_param(5, 0, 2, 0)
    if not host:
        raise ParamError("+QSSLOPEN: empty host")
    if mode != 0:
        return m.qi_error(555)
    if client_id in m.state.sockets:

        async def in_use() -> None:
            m.state.last_error = 563
            m.engine.urc(f"+QSSLOPEN: {client_id},563")

        io.after_reply(in_use)
        return ok()
    sock = QiSocket(conn_id=client_id, ctx=ctx, service="SSLClient", host=host, remote_port=port)
    sock.sslctx = sslctx
    m.state.sockets[client_id] = sock
    timeout = float(m.timing.connect_timeout)

    async def connect() -> None:
        await tcp.open_socket(m, sock, timeout)

    io.after_reply(connect)
    return ok()


def _ssl_socket(m: Ec200u, client_id: int) -> QiSocket | None:
    sock = m.state.sockets.get(client_id)
    return sock if sock is not None and sock.sslctx is not None else None


@command("+QSSLSEND")
async def qsslsend(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    """Fixed length (binary-safe) or the Ctrl+Z form, as AT+QISEND."""
    if cmd.kind is Kind.TEST:
        return ok("+QSSLSEND: (0-11),(1-1460)")
    if cmd.kind is not Kind.WRITE:
        return error()
    sock = _ssl_socket(m, cmd.int_param(0, 0, MAX_CONNECT_ID))
    length = cmd.int_param(1, 1, QISEND_MAX) if cmd.has(1) else None
    if (refusal := _sendable(m, sock)) is not None:
        return refusal
    assert sock is not None
    await io.prompt(m.prompt, m.take_prompt_delay())
    seconds = float(m.state.qicfg["qisend/timeout"][0]) or None
    if length is not None:
        data = await io.read_exact(length, seconds)
        if data is None:
            return m.qi_error(569)
    else:
        got = await io.read_until(bytes([CTRL_Z, ESC]), seconds)
        if got is None:
            return m.qi_error(569)
        data, stop = got
        if stop == ESC:
            return m.qi_error(571)
    return _finish_send(m, sock, data, io)


@command("+QSSLRECV")
async def qsslrecv(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.TEST:
        return ok("+QSSLRECV: (0-11),(0-1500)")
    if cmd.kind is not Kind.WRITE:
        return error()
    sock = _ssl_socket(m, cmd.int_param(0, 0, MAX_CONNECT_ID))
    length = cmd.int_param(1, 0, QIRD_MAX, QIRD_MAX)
    if sock is None:
        return m.qi_error(572)
    if length == 0:
        return ok(f"+QSSLRECV: {sock.total_rx},{sock.total_read},{len(sock.rx)}")
    data = tcp.take(sock, length)
    return ok(f"+QSSLRECV: {len(data)}".encode() + (b"\r\n" + data if data else b""))


@command("+QSSLCLOSE")
async def qsslclose(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.TEST:
        return ok("+QSSLCLOSE: (0-11),(0-65535)")
    if cmd.kind is not Kind.WRITE:
        return error()
    client_id = cmd.int_param(0, 0, MAX_CONNECT_ID)
    timeout = cmd.int_param(1, 0, 65535, 10)
    if _ssl_socket(m, client_id) is not None:
        sock = m.state.sockets.pop(client_id)
        await tcp.close(sock, timeout)
    return ok()


@command("+QSSLSTATE")
async def qsslstate(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    """11 fields: ``<id>,"SSLClient","<ip>",<rport>,<lport>,<state>,<ctx>,<serverID>,
    <access_mode>,"<AT_port>",<sslctx>`` (A.12)."""
    socks = sorted(
        (s for s in m.state.sockets.values() if s.sslctx is not None), key=lambda s: s.conn_id
    )
    if cmd.kind is Kind.TEST:
        return ok()
    if cmd.kind is Kind.WRITE:
        cmd.int_param(0, 1, 1)
        wanted = cmd.int_param(1, 0, MAX_CONNECT_ID)
        socks = [s for s in socks if s.conn_id == wanted]
    return ok(
        *(
            f'+QSSLSTATE: {s.conn_id},"SSLClient","{s.remote_ip or s.host}",{s.remote_port},'
            f'{s.local_port},{s.state},{s.ctx},0,0,"{m.config.at_port}",{s.sslctx}'
            for s in socks
        )
    )


@command("+QLTS")
async def qlts(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    """The network time (NITZ) last received; ``""`` when none came."""
    if cmd.kind is Kind.TEST:
        return ok("+QLTS: (0-2)")
    if not m.state.clock_set:
        return ok('+QLTS: ""')
    return ok(time.strftime('+QLTS: "%Y/%m/%d,%H:%M:%S+00,0"', time.gmtime()))
