"""Command name -> handler registry for the ESP-AT dialect."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from modem.emulator.atparse import Command
from modem.emulator.dialect import CommandIO, Reply, registrar

if TYPE_CHECKING:
    from modem.emulator.espat.dialect import EspAt

Handler = Callable[["EspAt", Command, CommandIO], Awaitable[Reply]]

HANDLERS: dict[str, Handler] = {}
# Compiled in only with menuconfig "AT WebSocket command support" (ws_commands).
WS_COMMANDS = frozenset({"+WSCFG", "+WSHEAD", "+WSOPEN", "+WSSEND", "+WSCLOSE"})

command = registrar(HANDLERS)
