"""WebSocket commands (reference B.3): AT+WSCFG, AT+WSHEAD, AT+WSOPEN, AT+WSSEND, AT+WSCLOSE.

Modelled on v4.0 ... v5.0.1 firmware: buffer_size up to 8192, no ``<fin>``
on AT+WSSEND, no AT+WSDATAFMT (records always in the chunk format).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from modem.emulator.atparse import Command, Kind, ParamError
from modem.emulator.dialect import CommandIO, Reply, error, ok
from modem.emulator.espat.state import LINK_IDS, MAX_BUFFER, PROMPT, SEND_OVERHEAD, WsConfig
from modem.emulator.espat.table import command
from modem.emulator.espat.wslink import CONNECTED, WsLink

if TYPE_CHECKING:
    from modem.emulator.espat.dialect import EspAt

MAX_ID = LINK_IDS[-1]
HEADER_WAIT = 10.0  # seconds the module waits for AT+WSHEAD's bytes


@command("+WSCFG")
async def wscfg(m: EspAt, cmd: Command, io: CommandIO) -> Reply:
    """Stored per link id; only the next AT+WSOPEN reads it."""
    if cmd.kind is not Kind.WRITE:
        return error()
    link_id = cmd.int_param(0, 0, MAX_ID)
    current = m.state.config(link_id)
    config = WsConfig(
        ping_interval=cmd.int_param(1, 1, 7200),
        ping_timeout=cmd.int_param(2, 1, 7200),
        buffer_size=cmd.int_param(3, 1, MAX_BUFFER, current.buffer_size),
        auth_mode=cmd.int_param(4, 0, 3, 0),
    )
    if config.auth_mode:  # <pki_number>,<ca_number> come with a non-zero auth mode
        cmd.int_param(5, 0, 255)
        cmd.int_param(6, 0, 255)
    m.state.configs[link_id] = config
    return ok()


@command("+WSHEAD")
async def wshead(m: EspAt, cmd: Command, io: CommandIO) -> Reply:
    """``=0`` clears all; ``=<n>``: prompt, then exactly n bytes ``Key: value``, no CR/LF."""
    headers = m.state.headers
    if cmd.kind is Kind.READ:
        return ok(*(f'+WSHEAD:{i},"{text}"' for i, text in enumerate(headers)))
    if cmd.kind is not Kind.WRITE:
        return error()
    length = cmd.int_param(0, 0, 65535)
    if length == 0:
        headers.clear()
        return ok()
    await io.prompt(PROMPT, m.take_prompt_delay())
    data = await io.read_exact(length, HEADER_WAIT)
    if data is None or b"\r" in data or b"\n" in data or b":" not in data:
        return error()
    headers.append(data.decode("latin-1"))
    return ok()


@command("+WSOPEN")
async def wsopen(m: EspAt, cmd: Command, io: CommandIO) -> Reply:
    """Blocks until the handshake ends: ``+WS_CONNECTED:<id>`` then OK, or ERROR."""
    links = m.state.links
    if cmd.kind is Kind.READ:
        return ok(*(f'+WSOPEN:{i},{links[i].state},"{links[i].uri}"' for i in sorted(links)))
    if cmd.kind is not Kind.WRITE:
        return error()
    link_id = cmd.int_param(0, 0, MAX_ID)
    uri = cmd.str_param(1)
    subprotocol = cmd.str_param(2, "")
    timeout_ms = cmd.int_param(3, 0, 180_000, 15_000)
    auth = cmd.str_param(4, "")
    if not uri.startswith(("ws://", "wss://")):
        raise ParamError(f"+WSOPEN: {uri!r} is not a ws:// or wss:// URI")
    if link_id in links or not m.state.online:
        return error()  # already open (even if only kept after a drop), or no Wi-Fi
    link = WsLink(
        m,
        link_id,
        uri,
        subprotocol=subprotocol,
        timeout=timeout_ms / 1000 if timeout_ms else None,
        auth=auth,
        headers=m.state.headers,
        config=m.state.config(link_id),
    )
    links[link_id] = link
    connected = await io.blocking(link.connect())
    if not link.current:  # reset meanwhile
        link.abort()
        return error()
    if not connected:
        del links[link_id]  # "Failure or timeout: ERROR, and the link is cleaned up"
        return error()
    m.engine.urc(f"+WS_CONNECTED:{link_id}")
    link.start()
    return ok()


@command("+WSSEND")
async def wssend(m: EspAt, cmd: Command, io: CommandIO) -> Reply:
    """Prompt, exactly <length> bytes, one frame with FIN set, ``SEND OK`` (or ERROR)."""
    if cmd.kind is not Kind.WRITE:
        return error()
    if len(cmd.params) > 4:
        return error()  # <fin> exists only on master firmware
    link_id = cmd.int_param(0, 0, MAX_ID)
    length = cmd.int_param(1, 0, 1 << 16)
    opcode = cmd.int_param(2, 0, 15, 1)
    timeout_ms = cmd.int_param(3, 0, 60_000, 10_000)
    link = m.state.links.get(link_id)
    if link is None or link.state != CONNECTED:
        return error()
    if length > link.config.buffer_size - SEND_OVERHEAD:
        return error()
    stall = m.take_wssend_stall()  # fault: stuck in this command (busy p... meanwhile)
    if stall is not None and stall.phase == "prompt":
        await io.blocking(asyncio.sleep(stall.delay))
    await io.prompt(PROMPT, m.take_prompt_delay())
    data = await io.read_exact(length, timeout_ms / 1000 if timeout_ms else None)
    if data is None:
        return error()
    if stall is not None:
        if stall.phase == "result":
            await io.blocking(asyncio.sleep(stall.delay))
        if not stall.deliver:
            return error()
        if not link.current or link.state != CONNECTED:
            return error()
    if m.take_send_failure():
        return error()
    sent = await io.blocking(link.send(data, opcode))
    return Reply(final=b"SEND OK") if sent else error()


@command("+WSCLOSE")
async def wsclose(m: EspAt, cmd: Command, io: CommandIO) -> Reply:
    """Starts a TCP close (no close frame) and frees the id; OK even if nothing was open."""
    if cmd.kind is not Kind.WRITE:
        return error()
    link = m.state.links.pop(cmd.int_param(0, 0, MAX_ID), None)
    if link is not None:
        await link.close()
    return ok()
