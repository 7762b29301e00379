"""Wi-Fi station commands: AT+CWMODE, AT+CWJAP, AT+CWQAP, AT+CWSTATE (reference B.2).

The access point "in range" is the one given with ``--wifi-ssid`` /
``--wifi-password``; without them any network joins, so the emulator works
with whatever the charger was told.  ``--wifi-failure timeout|refused`` makes
that access point fail every join with ``+CWJAP:1`` (after the join timeout)
or ``+CWJAP:4``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from modem.emulator.atparse import Command, Kind
from modem.emulator.dialect import CommandIO, Reply, error, ok
from modem.emulator.espat.state import BSSID, CHANNEL, RSSI
from modem.emulator.espat.table import command

if TYPE_CHECKING:
    from modem.emulator.espat.dialect import EspAt

JAP_TIMEOUT = 7  # parameter index of <jap_timeout> (seconds, 3..600; default 15)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace(",", "\\,") + '"'


@command("+CWMODE")
async def cwmode(m: EspAt, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is Kind.READ:
        return ok(f"+CWMODE:{m.state.mode}")
    if cmd.kind is Kind.TEST:
        return ok("+CWMODE:(0-3)")
    if cmd.kind is not Kind.WRITE:
        return error()
    mode = cmd.int_param(0, 0, 3)
    cmd.int_param(1, 0, 1, 1)  # <auto_connect>
    if mode in (0, 2):
        m.wifi_down()
    m.state.mode = mode
    return ok()


@command("+CWJAP")
async def cwjap(m: EspAt, cmd: Command, io: CommandIO) -> Reply:
    """Join: ``WIFI CONNECTED``, ``WIFI GOT IP``, OK; or ``+CWJAP:<code>`` and ERROR."""
    st = m.state
    if cmd.kind is Kind.READ:
        if st.ssid is None:
            return ok("No AP")
        return ok(f"+CWJAP:{_quoted(st.ssid)},{_quoted(BSSID)},{CHANNEL},{RSSI},0,1,3,0,1")
    if cmd.kind is not Kind.WRITE:
        return error()
    ssid = cmd.str_param(0)
    password = cmd.str_param(1, "")
    for index in range(2, len(cmd.params)):  # bssid, pci_en, reconn, listen, scan, timeout, pmf
        if index not in (2, JAP_TIMEOUT):
            cmd.int_param(index, 0, 7200, 0)
    jap_timeout = cmd.int_param(JAP_TIMEOUT, 3, 600, 0)
    if st.mode not in (1, 3):
        return error()
    m.wifi_down()  # leaving the current AP first, as the module does
    code = m.join_code(ssid, password)
    delays = {0: m.timing.wifi_join, 1: jap_timeout or m.timing.wifi_timeout}

    async def associate() -> None:
        await asyncio.sleep(delays.get(code, m.timing.wifi_fail))

    await io.blocking(associate())
    if code:
        return Reply([f"+CWJAP:{code}".encode()], b"ERROR")
    m.wifi_up(ssid, password)
    return ok("WIFI CONNECTED", "WIFI GOT IP")


@command("+CWQAP")
async def cwqap(m: EspAt, cmd: Command, io: CommandIO) -> Reply:
    if cmd.kind is not Kind.EXEC:
        return error()
    m.wifi_down()
    m.state.saved = None
    return ok()


@command("+CWSTATE")
async def cwstate(m: EspAt, cmd: Command, io: CommandIO) -> Reply:
    """``+CWSTATE:<state>,"<ssid>"``: 2 = connected with an IP, 0 = never connected."""
    if cmd.kind is not Kind.READ:
        return error()
    if m.state.ssid is not None:
        return ok(f"+CWSTATE:2,{_quoted(m.state.ssid)}")
    return ok('+CWSTATE:0,""' if m.state.saved is None else '+CWSTATE:4,""')
