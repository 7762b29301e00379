"""Basic, identification, SIM and power commands of the EC200U."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from modem.emulator.atparse import Command, Kind, ParamError
from modem.emulator.dialect import CommandIO, Reply, error, ok
from modem.emulator.ec200u.state import REVISION
from modem.emulator.ec200u.table import command

if TYPE_CHECKING:
    from modem.emulator.ec200u.dialect import Ec200u


def _luhn_complete(digits: str) -> str:
    total = 0
    for i, d in enumerate(reversed(digits)):
        v = int(d) * (2 if i % 2 == 0 else 1)
        total += v - 9 if v > 9 else v
    return digits + str((10 - total % 10) % 10)


IMEI = _luhn_complete("86123405678901")
SERIAL = "MPY23KB0123456"
IPR_RATES = (0, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 1000000)
S_REGISTERS = {"S0": 0, "S3": 13, "S4": 10, "S5": 8, "S7": 0}


@command("")
async def at(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    return ok()


@command("E")
async def ate(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.value not in ("", "0", "1"):
        return error()
    m.engine.echo = cmd.value == "1"
    return ok()


@command("V", "Q")
async def result_format(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    """Only verbose, non-quiet results are emulated: ATV0/ATQ1 answer ERROR."""
    wanted = "1" if cmd.name == "V" else "0"
    return ok() if cmd.value == wanted or (cmd.name == "Q" and cmd.value == "") else error()


@command("Z", "&F")
async def restore(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.value not in ("", "0"):
        return error()
    m.engine.echo = True
    m.state.cmee = 1
    return ok()


@command("&W", "&D", "&C", "X", "&V", "H")
async def accepted(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    return ok()


@command(*S_REGISTERS)
async def s_register(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    value = S_REGISTERS[cmd.name]
    if cmd.kind is Kind.READ:
        return ok(f"{value:03d}")
    if cmd.kind is Kind.WRITE and cmd.value.isdigit() and int(cmd.value) == value:
        return ok()
    return error()  # changing line terminators is not emulated


@command("I")
async def ati(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.value not in ("", "0"):
        return error()
    return ok("Quectel", "EC200U", f"Revision: {REVISION}")


@command("+CGMI", "+GMI", "+CGMM", "+GMM", "+CGMR", "+GMR")
async def identity(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.TEST:
        return ok()
    if cmd.kind is not Kind.EXEC:
        return error()
    return ok({"I": "Quectel", "M": "EC200U", "R": REVISION}[cmd.name[-1]])


@command("+CGSN", "+GSN")
async def imei(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.TEST:
        return ok()
    if cmd.kind is Kind.EXEC:
        return ok(IMEI)
    if cmd.kind is Kind.WRITE:
        snt = cmd.int_param(0, 0, 1)
        return ok(IMEI if snt == 1 else SERIAL)
    return error()


@command("+CMEE")
async def cmee(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.READ:
        return ok(f"+CMEE: {m.state.cmee}")
    if cmd.kind is Kind.TEST:
        return ok("+CMEE: (0-2)")
    if cmd.kind is Kind.WRITE:
        m.state.cmee = cmd.int_param(0, 0, 2)
        return ok()
    return error()


@command("+IPR")
async def ipr(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    """A new rate applies after the OK, which is still sent at the old one."""
    if cmd.kind is Kind.READ:
        return ok(f"+IPR: {m.engine.baud or 0}")
    if cmd.kind is Kind.TEST:
        return ok("+IPR: (0,4800,9600,19200,38400,57600,115200,230400,460800,921600,1000000)")
    if cmd.kind is not Kind.WRITE:
        return error()
    rate = cmd.int_param(0, 0, 1000000)
    if rate not in IPR_RATES:
        return error()
    if rate:

        async def switch() -> None:
            await m.engine.output.drain()
            m.engine.set_baud(rate)

        io.after_reply(switch)
    return ok()


@command("+IFC")
async def ifc(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    """Accepted for compatibility; a pty or socket has no RTS/CTS to honour."""
    if cmd.kind is Kind.READ:
        return ok("+IFC: 0,0")
    if cmd.kind is Kind.WRITE:
        cmd.int_param(0, 0, 2)
        cmd.int_param(1, 0, 2, 0)
    return ok()


@command("+CTZU", "+CTZR", "+QURCCFG", "+QINDCFG", "+CSCS")
async def ignored_settings(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.READ and cmd.name == "+CSCS":
        return ok('+CSCS: "GSM"')
    if cmd.kind is Kind.READ and cmd.name in ("+CTZU", "+CTZR"):
        return ok(f"{cmd.name}: 0")
    if cmd.kind is Kind.WRITE and cmd.name == "+QURCCFG" and len(cmd.params) == 1:
        return ok(f'+QURCCFG: "urcport","{m.config.at_port}"')
    return ok()


@command("+CCLK")
async def cclk(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    """Network time: the host clock in UTC (time zone 0 quarter-hours)."""
    if cmd.kind is Kind.READ:
        if not m.state.clock_set:  # never set from the network: the RTC counts from 1980
            return ok(time.strftime('+CCLK: "80/01/06,%H:%M:%S+00"', time.gmtime(m.uptime())))
        return ok(time.strftime('+CCLK: "%y/%m/%d,%H:%M:%S+00"', time.gmtime()))
    return ok() if cmd.kind in (Kind.TEST, Kind.WRITE) else error()


@command("+CFUN")
async def cfun(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    st = m.state
    if cmd.kind is Kind.READ:
        return ok(f"+CFUN: {st.cfun}")
    if cmd.kind is Kind.TEST:
        return ok("+CFUN: (0,1,4),(0-1)")
    if cmd.kind is not Kind.WRITE:
        return error()
    fun = cmd.int_param(0, 0, 4)
    rst = cmd.int_param(1, 0, 1, 0)
    if fun not in (0, 1, 4):
        raise ParamError("+CFUN: <fun> must be 0, 1 or 4")
    if rst:

        async def reboot() -> None:
            await m.engine.output.drain()
            m.engine.reboot()

        io.after_reply(reboot)
        return ok()
    if fun == st.cfun:
        return ok()
    st.cfun = fun
    if fun == 1:
        if st.sim.status == "READY":
            m.register_later()
    else:
        m.set_registration(0)
    return ok()


@command("+CPIN")
async def cpin(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    sim = m.state.sim
    if cmd.kind is Kind.TEST:
        return ok()
    if sim.status == "ABSENT":
        return m.cme_error(10)
    if cmd.kind is Kind.READ:
        return ok(f"+CPIN: {sim.status}")
    if cmd.kind is not Kind.WRITE:
        return error()
    pin = cmd.str_param(0)
    if sim.status != "SIM PIN":
        return m.cme_error(3)
    if pin != sim.pin:
        sim.pin_tries -= 1
        if sim.pin_tries == 0:
            sim.status = "SIM PUK"
        return m.cme_error(16)
    sim.status = "READY"
    sim.pin_tries = 3

    async def unlocked() -> None:
        m.engine.urc("+CPIN: READY")
        m.engine.urc("+QIND: SMS DONE")
        if m.state.cfun == 1:
            m.register_later()

    io.after_reply(unlocked)
    return ok()


@command("+QPINC")
async def qpinc(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if m.state.sim.status == "ABSENT":
        return m.cme_error(10)
    return ok(f'+QPINC: "SC",{m.state.sim.pin_tries},10', '+QPINC: "P2",3,10')


@command("+QCCID", "+CCID")
async def iccid(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    """The ICCID is readable without the PIN, unlike the IMSI."""
    if cmd.kind is Kind.TEST:
        return ok()
    if m.state.sim.status == "ABSENT":
        return m.cme_error(10)
    return ok(f"{cmd.name}: {m.state.sim.iccid}")


@command("+CIMI")
async def cimi(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.TEST:
        return ok()
    status = m.state.sim.status
    if status != "READY":
        return m.cme_error({"ABSENT": 10, "SIM PIN": 11, "SIM PUK": 12}.get(status, 13))
    return ok(m.state.sim.imsi)
