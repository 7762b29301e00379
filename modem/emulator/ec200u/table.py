"""Command name -> handler registry for the EC200U dialect.

Handlers live in small modules grouped by topic (general, network, PDP,
sockets) and register here; the dialect only dispatches.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from modem.emulator.atparse import Command
from modem.emulator.dialect import CommandIO, Reply, registrar

if TYPE_CHECKING:
    from modem.emulator.ec200u.dialect import Ec200u

Handler = Callable[["Ec200u", Command, CommandIO], Awaitable[Reply]]

HANDLERS: dict[str, Handler] = {}

# Commands whose failures AT+QIGETERROR reports (and whose success resets it).
TCPIP_COMMANDS = frozenset(
    {
        "+QICSGP", "+QIACT", "+QIDEACT", "+QIOPEN", "+QICLOSE", "+QISTATE", "+QISEND",
        "+QISENDEX", "+QIRD", "+QISWTMD", "+QPING", "+QNTP", "+QIDNSCFG", "+QIDNSGIP",
        "+QICFG", "+QISDE", "+QSSLOPEN", "+QSSLSEND", "+QSSLRECV", "+QSSLCLOSE",
        "+QSSLSTATE", "+QSSLCFG",
    }
)  # fmt: skip

command = registrar(HANDLERS)
