"""Radio and registration diagnostics (reference A.14), answered from the modelled cell."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modem.emulator.atparse import Command, Kind
from modem.emulator.dialect import CommandIO, Reply, error, ok
from modem.emulator.ec200u.table import command

if TYPE_CHECKING:
    from modem.emulator.ec200u.dialect import Ec200u


def _hears_cell(m: Ec200u) -> bool:
    """The radio is on and hears a cell (the ``no-signal`` profile hears none)."""
    return m.state.cfun == 1 and m.profile.coverage


@command("+CSQ")
async def csq(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.TEST:
        return ok("+CSQ: (0-31,99),(0-7,99)")
    if cmd.kind is not Kind.EXEC:
        return error()
    rssi = m.state.cell.csq if _hears_cell(m) else 99
    return ok(f"+CSQ: {rssi},99")


@command("+QCSQ")
async def qcsq(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is not Kind.EXEC:
        return ok() if cmd.kind is Kind.TEST else error()
    if not _hears_cell(m):
        return ok('+QCSQ: "NOSERVICE"')
    c = m.state.cell
    return ok(f'+QCSQ: "LTE",{c.rssi},{c.rsrp},{c.sinr_raw},{c.rsrq}')


@command("+CREG", "+CGREG", "+CEREG")
async def creg(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.READ:
        return ok(m.reg_line(cmd.name, with_n=True))
    if cmd.kind is Kind.TEST:
        return ok(f"{cmd.name}: (0-2)")
    if cmd.kind is Kind.WRITE:
        m.state.reg_n[cmd.name] = cmd.int_param(0, 0, 2)
        return ok()
    return error()


@command("+COPS")
async def cops(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    st = m.state
    if cmd.kind is Kind.READ:
        if not st.registered:
            return ok("+COPS: 0")
        return ok(f'+COPS: 0,0,"{st.cell.oper_long}",7')
    if cmd.kind is Kind.TEST:
        if not _hears_cell(m):
            return ok("+COPS: ,,(0-4),(0-2)")  # the scan finds no network
        c = st.cell
        return ok(f'+COPS: (2,"{c.oper_long}","{c.oper_short}","{c.plmn}",7),,(0-4),(0-2)')
    if cmd.kind is Kind.WRITE:
        mode = cmd.int_param(0, 0, 4)
        return ok() if mode in (0, 2) else m.cme_error(3)  # manual selection not emulated
    return error()


@command("+CGATT")
async def cgatt(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.READ:
        return ok(f"+CGATT: {1 if m.state.registered else 0}")
    if cmd.kind is Kind.WRITE:
        want = cmd.int_param(0, 0, 1)
        if want and not m.state.registered:
            await m.net_delay(m.timing.qiact_fail)
            return m.cme_error(30)
        return ok()
    return ok() if cmd.kind is Kind.TEST else error()


@command("+QNWINFO")
async def qnwinfo(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is not Kind.EXEC:
        return ok() if cmd.kind is Kind.TEST else error()
    if not m.state.registered:
        return ok("+QNWINFO: No Service")
    c = m.state.cell
    return ok(f'+QNWINFO: "{c.duplex} LTE","{c.plmn}","LTE BAND {c.band}",{c.earfcn}')


@command("+QSPN")
async def qspn(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    if not m.state.registered:
        return m.cme_error(30)
    c = m.state.cell
    return ok(f'+QSPN: "{c.oper_long}","{c.oper_short}","",0,"{c.plmn}"')


@command("+QENG")
async def qeng(m: Ec200u, cmd: Command, io: CommandIO) -> Reply:
    """LTE serving cell, 20-field form: state SEARCH / LIMSRV / NOCONN / CONNECT."""
    if cmd.kind is Kind.TEST:
        return ok('+QENG: "servingcell","neighbourcell"')
    if cmd.kind is not Kind.WRITE or cmd.str_param(0).lower() != "servingcell":
        return error()
    st = m.state
    if not _hears_cell(m):
        return ok('+QENG: "servingcell","SEARCH"')
    if st.registered:
        busy = any(s.state == 2 for s in st.sockets.values())
        state, txpwr = ("CONNECT", "-32") if busy else ("NOCONN", "-")
    else:
        state, txpwr = "LIMSRV", "-"
    c = st.cell
    return ok(
        f'+QENG: "servingcell","{state}","LTE","{c.duplex}",{c.mcc},{c.mnc:02d},{c.cell_id},'
        f"{c.pci},{c.earfcn},{c.band},{c.bandwidth},{c.bandwidth},{c.tac},{c.rsrp},{c.rsrq},"
        f"{c.rssi},{c.sinr},12,{txpwr},{c.srxlev}"
    )
