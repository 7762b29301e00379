"""Basic commands of ESP-AT: AT, ATE, AT+GMR, AT+RST."""

from __future__ import annotations

from typing import TYPE_CHECKING

from modem.emulator.atparse import Command, Kind
from modem.emulator.dialect import CommandIO, Reply, error, ok
from modem.emulator.espat.table import command

if TYPE_CHECKING:
    from modem.emulator.espat.dialect import EspAt

VERSION = (
    "AT version:4.1.1.0(cpsim emulator)",
    "SDK version:v5.0.6",
    "compile time:cpsim",
    "Bin version:v4.1.1.0(ESP32-WROOM-32)",
)


@command("")
async def at(m: EspAt, cmd: Command, io: CommandIO) -> Reply:
    return ok()


@command("E")
async def ate(m: EspAt, cmd: Command, io: CommandIO) -> Reply:
    if cmd.value not in ("0", "1"):
        return error()
    m.engine.echo = cmd.value == "1"
    return ok()


@command("+GMR")
async def gmr(m: EspAt, cmd: Command, io: CommandIO) -> Reply:
    return ok(*VERSION) if cmd.kind is Kind.EXEC else error()


@command("+RST")
async def rst(m: EspAt, cmd: Command, io: CommandIO) -> Reply:
    """OK, then the module resets and prints ``ready``."""
    if cmd.kind is not Kind.EXEC:
        return error()

    async def reset() -> None:
        m.engine.reboot()

    io.after_reply(reset)
    return ok()
