"""PDP contexts, DNS, ping and NTP (reference A.2, A.9).

QPING cannot send ICMP without privileges: reachability is a timed TCP
connect (:mod:`modem.emulator.netprobe`); a lost echo is ``+QPING: 569``.  QNTP reports the
host clock after resolving the server; it does not query it.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from modem.emulator.atparse import Command, Kind
from modem.emulator.dialect import CommandIO, Reply, error, ok
from modem.emulator.ec200u import tcp
from modem.emulator.ec200u.state import MAX_CTX
from modem.emulator.ec200u.table import command
from modem.emulator.netprobe import connect_rtt

if TYPE_CHECKING:
    from modem.emulator.ec200u.dialect import Ec200u

PING_BYTES = 32
PING_TTL = 64


@command("+QICSGP")
async def qicsgp(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.TEST:
        return ok('+QICSGP: (1-7),(1-3),"APN","USERNAME","PASSWORD",(0-2)')
    if cmd.kind is not Kind.WRITE:
        return error()
    ctx = m.state.contexts[cmd.int_param(0, 1, MAX_CTX)]
    if len(cmd.params) == 1:
        return ok(f'+QICSGP: {ctx.ctx_type},"{ctx.apn}","{ctx.user}","{ctx.password}",{ctx.auth}')
    ctx_type = cmd.int_param(1, 1, 3)
    apn = cmd.str_param(2)
    user = cmd.str_param(3, "")
    password = cmd.str_param(4, "")
    auth = cmd.int_param(5, 0, 2, 0)
    if len(user) > 127 or len(password) > 127:
        return m.qi_error(552)
    ctx.ctx_type, ctx.apn, ctx.user, ctx.password, ctx.auth = ctx_type, apn, user, password, auth
    return ok()


@command("+CGDCONT")
async def cgdcont(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    """Same contexts as QICSGP (reference A.14 marks this as to verify)."""
    types = {1: "IP", 2: "IPV6", 3: "IPV4V6"}
    if cmd.kind is Kind.READ:
        return ok(
            *(
                f'+CGDCONT: {i},"{types[c.ctx_type]}","{c.apn}","{c.ip or "0.0.0.0"}",0,0'
                for i, c in m.state.contexts.items()
                if c.apn or c.active or i == 1
            )
        )
    if cmd.kind is Kind.TEST:
        return ok('+CGDCONT: (1-7),"IP",,,(0-2),(0-4)')
    if cmd.kind is not Kind.WRITE:
        return error()
    ctx = m.state.contexts[cmd.int_param(0, 1, MAX_CTX)]
    names = {v: k for k, v in types.items()}
    pdp_type = cmd.str_param(1, "IP").upper()
    if pdp_type not in names:
        return error()
    ctx.ctx_type, ctx.apn = names[pdp_type], cmd.str_param(2, "")
    return ok()


@command("+QIACT")
async def qiact(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    """Blocks like the module (no other command meanwhile), then OK or ERROR/561."""
    st = m.state
    if cmd.kind is Kind.READ:
        return ok(
            *(f'+QIACT: {i},1,{c.ctx_type},"{c.ip}"' for i, c in st.contexts.items() if c.active)
        )
    if cmd.kind is Kind.TEST:
        return ok("+QIACT: (1-7)")
    if cmd.kind is not Kind.WRITE:
        return error()
    ctx = st.contexts[cmd.int_param(0, 1, MAX_CTX)]
    if ctx.active:
        return m.qi_error(561)
    refused = (
        st.sim.status != "READY"
        or not st.registered
        or (m.profile.apn_check and ctx.apn not in m.good_apns)
    )
    if refused:
        await m.net_delay(m.timing.qiact_fail)
        return m.qi_error(561)
    await m.net_delay(m.timing.qiact)
    ctx.active, ctx.ip = True, m.new_ip()
    return ok()


@command("+QIDEACT")
async def qideact(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    """Closes every socket of the context, including ones left in state 4."""
    if cmd.kind is Kind.TEST:
        return ok("+QIDEACT: (1-7)")
    if cmd.kind is not Kind.WRITE:
        return error()
    ctx_id = cmd.int_param(0, 1, MAX_CTX)
    await m.net_delay(m.timing.qideact)
    for conn_id, sock in list(m.state.sockets.items()):
        if sock.ctx == ctx_id:
            tcp.abort(sock)
            del m.state.sockets[conn_id]
    ctx = m.state.contexts[ctx_id]
    ctx.active, ctx.ip = False, ""
    return ok()


@command("+QIDNSCFG")
async def qidnscfg(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.TEST:
        return ok('+QIDNSCFG: (1-7),"PRIDNSADDR","SECDNSADDR"')
    if cmd.kind is not Kind.WRITE:
        return error()
    ctx_id = cmd.int_param(0, 1, MAX_CTX)
    if not m.state.contexts[ctx_id].active:
        return m.qi_error(572)
    if len(cmd.params) == 1:
        pri, sec = m.state.dns
        return ok(f'+QIDNSCFG: {ctx_id},"{pri}","{sec}"')
    m.state.dns = (cmd.str_param(1), cmd.str_param(2, m.state.dns[1]))
    return ok()


def _needs_active_ctx(m: Ec200u, cmd: Command) -> Reply | None:
    if not m.state.contexts[cmd.int_param(0, 1, MAX_CTX)].active:
        return m.qi_error(561)
    return None


@command("+QIDNSGIP")
async def qidnsgip(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.TEST:
        return ok('+QIDNSGIP: (1-7),"HOSTNAME"')
    if cmd.kind is not Kind.WRITE:
        return error()
    host = cmd.str_param(1)
    if (refusal := _needs_active_ctx(m, cmd)) is not None:
        return refusal

    async def lookup() -> None:
        addrs = await tcp.resolve(m, host)
        if not addrs:
            m.state.last_error = 565
            m.engine.urc('+QIURC: "dnsgip",565')
            return
        m.engine.urc(f'+QIURC: "dnsgip",0,{len(addrs)},600')
        for addr in addrs:
            m.engine.urc(f'+QIURC: "dnsgip","{addr}"')

    io.after_reply(lookup)
    return ok()


async def _probe(m: Ec200u, ip: str, timeout: float) -> int | None:
    """Round trip in ms of a TCP connect attempt, or None when nothing answered."""
    if not m.profile.reachable:
        await asyncio.sleep(timeout)
        return None
    return await connect_rtt(ip, timeout)


@command("+QPING")
async def qping(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.TEST:
        return ok('+QPING: (1-7),"HOST",(1-255),(1-10)')
    if cmd.kind is not Kind.WRITE:
        return error()
    host = cmd.str_param(1)
    timeout = cmd.int_param(2, 1, 255, 4)
    count = cmd.int_param(3, 1, 10, 4)
    if (refusal := _needs_active_ctx(m, cmd)) is not None:
        return refusal

    async def ping() -> None:
        addrs = await tcp.resolve(m, host)
        if not addrs:
            m.state.last_error = 565
            m.engine.urc("+QPING: 565")
            return
        times: list[int] = []
        for _ in range(count):
            rtt = await _probe(m, addrs[0], timeout)
            if rtt is None:
                m.engine.urc("+QPING: 569")
            else:
                times.append(rtt)
                m.engine.urc(f'+QPING: 0,"{addrs[0]}",{PING_BYTES},{rtt},{PING_TTL}')
        lo, hi = (min(times), max(times)) if times else (0, 0)
        avg = sum(times) // len(times) if times else 0
        m.engine.urc(f"+QPING: 0,{count},{len(times)},{count - len(times)},{lo},{hi},{avg}")

    io.after_reply(ping)
    return ok()


@command("+QNTP")
async def qntp(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.TEST:
        return ok('+QNTP: (1-7),"SERVER",(1-65535),(0,1)')
    if cmd.kind is not Kind.WRITE:
        return error()
    server = cmd.str_param(1)
    cmd.int_param(2, 1, 65535, 123)
    if (refusal := _needs_active_ctx(m, cmd)) is not None:
        return refusal

    async def sync() -> None:
        if not m.ntp_works:  # no-network-time fault: the NTP server never answers
            await m.net_delay(m.timing.dns_fail)
            m.state.last_error = 569
            m.engine.urc("+QNTP: 569")
            return
        if not await tcp.resolve(m, server):
            m.state.last_error = 565
            m.engine.urc("+QNTP: 565")
            return
        m.state.clock_set = True  # <autosettime> 1 (the default): the RTC is set
        m.engine.urc(time.strftime('+QNTP: 0,"%Y/%m/%d,%H:%M:%S+00"', time.gmtime()))

    io.after_reply(sync)
    return ok()
