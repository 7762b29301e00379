"""ESP-AT (ESP32 firmware with WebSocket commands) for the modem emulator."""

# Importing the command modules registers their handlers.
from modem.emulator.espat import (  # noqa: F401
    cmd_basic,
    cmd_http,
    cmd_net,
    cmd_tls,
    cmd_wifi,
    cmd_ws,
)
from modem.emulator.espat.dialect import EspAt

__all__ = ["EspAt"]
