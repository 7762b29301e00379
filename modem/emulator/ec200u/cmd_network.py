"""Radio and registration diagnostics (reference A.14), answered from the modelled cell."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modem.emulator.atparse import Command, Kind
from modem.emulator.dialect import CommandIO, Reply, error, ok
from modem.emulator.ec200u.table import command

if TYPE_CHECKING:
    from modem.emulator.ec200u.dialect import Ec200u


# Lowest SINR (dB) at which each CQI 1..15 is reported (about 10 % BLER, 36.213 table
# 7.2.3-1 with the usual link-level curves): the CQI follows the SINR, never a constant.
CQI_SINR = (-6.7, -4.7, -2.3, 0.2, 2.4, 4.3, 5.9, 8.1, 10.3, 11.7, 14.1, 16.3, 18.7, 21.0, 22.7)
MAX_TX_DBM = 23  # power class 3


def cqi_for(sinr_db: float) -> int:
    """The CQI a UE reports at ``sinr_db`` (0: out of range)."""
    return sum(1 for threshold in CQI_SINR if sinr_db >= threshold)


def tx_power_for(rsrp: int) -> int:
    """Uplink power (dBm) by open-loop power control (36.213 5.1.1.1): alpha 0.8 of the
    path loss from a 15 dBm reference signal, P0 + 10 log10(M) = -77 dBm; the handset's
    maximum at the cell edge."""
    return max(-40, min(MAX_TX_DBM, round(0.8 * (15 - rsrp) - 77)))


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
    """LTE serving cell, 20-field form: state SEARCH / LIMSRV / NOCONN / CONNECT.

    CQI follows the SINR and the transmit power the path loss (shown only while
    connected, ``-`` when idle), so each profile's figures tell one story."""
    if cmd.kind is Kind.TEST:
        return ok('+QENG: "servingcell","neighbourcell"')
    if cmd.kind is not Kind.WRITE or cmd.str_param(0).lower() != "servingcell":
        return error()
    st = m.state
    if not _hears_cell(m):
        return ok('+QENG: "servingcell","SEARCH"')
    if st.registered:
        busy = any(s.state == 2 for s in st.sockets.values())
        state = "CONNECT" if busy else "NOCONN"
    else:
        state = "LIMSRV"
    c = st.cell
    txpwr = str(tx_power_for(c.rsrp)) if state == "CONNECT" else "-"
    return ok(
        f'+QENG: "servingcell","{state}","LTE","{c.duplex}",{c.mcc},{c.mnc:02d},{c.cell_id},'
        f"{c.pci},{c.earfcn},{c.band},{c.bandwidth},{c.bandwidth},{c.tac},{c.rsrp},{c.rsrq},"
        f"{c.rssi},{c.sinr},{cqi_for(c.sinr)},{txpwr},{c.srxlev}"
    )
