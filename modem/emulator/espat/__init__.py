"""ESP-AT (ESP32 firmware with WebSocket commands) for the modem emulator."""

# Importing the command modules registers their handlers.
from modem.emulator.espat import cmd_basic, cmd_http, cmd_net, cmd_wifi, cmd_ws  # noqa: F401
from modem.emulator.espat.dialect import EspAt

__all__ = ["EspAt"]
