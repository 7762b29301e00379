"""Command name -> handler registry for the ESP-AT dialect."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from modem.emulator.atparse import Command
from modem.emulator.dialect import CommandIO, Reply

if TYPE_CHECKING:
    from modem.emulator.espat.dialect import EspAt

Handler = Callable[["EspAt", Command, CommandIO], Awaitable[Reply]]

HANDLERS: dict[str, Handler] = {}
# Compiled in only with menuconfig "AT WebSocket command support" (ws_commands).
WS_COMMANDS = frozenset({"+WSCFG", "+WSHEAD", "+WSOPEN", "+WSSEND", "+WSCLOSE"})


def command(*names: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        for name in names:
            if name in HANDLERS:
                raise RuntimeError(f"{name} registered twice")
            HANDLERS[name] = handler
        return handler

    return register
