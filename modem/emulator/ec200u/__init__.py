"""Quectel EC200U ("QI" TCP/IP dialect) for the modem emulator."""

# Importing the command modules registers their handlers.
from modem.emulator.ec200u import cmd_general, cmd_network, cmd_pdp, cmd_socket, cmd_ssl  # noqa: F401
from modem.emulator.ec200u.dialect import Ec200u
from modem.emulator.ec200u.profiles import PROFILES

__all__ = ["PROFILES", "Ec200u"]
