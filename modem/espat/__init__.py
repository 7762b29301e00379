"""ESP-AT dialect (ESP32 firmware with WebSocket commands): Wi-Fi, WebSocket links and
file transfers through the module's HTTP client (:class:`EspAtHttp`).

Unlike the Quectel path, the module speaks WebSocket itself; the host moves
whole OCPP messages (``AT+WSSEND`` out, ``+WS_DATA`` chunks in, reassembled
by :class:`JsonMessageSplitter`).
"""

from .dialect import ESP_AT, MAX_BUFFER, MAX_COMMAND, ping_settings, quote
from .errors import (
    CertificateStoreError,
    ClockNotSet,
    CommandTooLong,
    EspAtError,
    HttpBodyTooLarge,
    HttpTransferError,
    HttpUrlTooLong,
    MessageTooLarge,
    NoWebSocketSupport,
    WebSocketOpenError,
    WifiError,
)
from .http import EspAtHttp
from .modem import EspAtModem
from .reassembly import JsonMessageSplitter, ReassemblyError
from .tls import AuthMode, EspAtTls, ModuleTls
from .websocket import EspAtWebSocket

__all__ = [
    "ESP_AT",
    "MAX_BUFFER",
    "MAX_COMMAND",
    "AuthMode",
    "CertificateStoreError",
    "ClockNotSet",
    "CommandTooLong",
    "EspAtError",
    "EspAtHttp",
    "EspAtModem",
    "EspAtTls",
    "EspAtWebSocket",
    "HttpBodyTooLarge",
    "HttpTransferError",
    "HttpUrlTooLong",
    "JsonMessageSplitter",
    "MessageTooLarge",
    "ModuleTls",
    "NoWebSocketSupport",
    "ReassemblyError",
    "WebSocketOpenError",
    "WifiError",
    "ping_settings",
    "quote",
]
