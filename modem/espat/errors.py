"""Failures of the ESP-AT path, each saying what to change, on the bench or in the firmware."""

from __future__ import annotations

from modem import stream
from modem.at import ATError

from .dialect import MAX_COMMAND


class EspAtError(ATError):
    """Base of the dialect's errors."""


class WifiError(EspAtError):
    """``AT+CWJAP`` failed; ``code`` is the ``+CWJAP:<code>`` reason (1-4) when given."""

    def __init__(self, ssid: str, reason: str, code: int | None = None) -> None:
        super().__init__(f'Wi-Fi "{ssid}": {reason}')
        self.ssid = ssid
        self.reason = reason
        self.code = code


class NoWebSocketSupport(EspAtError):
    """The firmware answers ERROR to the WebSocket commands: they were not compiled in."""

    def __init__(self, command: str) -> None:
        super().__init__(
            f"{command} -> ERROR: this ESP-AT firmware was built without WebSocket support; "
            "rebuild ESP-AT with menuconfig: Component config > AT > AT WebSocket command "
            "support enabled, and flash it"
        )
        self.command = command


class WebSocketOpenError(EspAtError):
    """``AT+WSOPEN`` failed; ESP-AT gives no reason, so the message lists the usual ones."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class CommandTooLong(EspAtError, ValueError):
    """A command (or a WebSocket header) would exceed ESP-AT's 256-byte line limit.

    Raised before anything is written to the port: the module would answer
    ERROR, or worse, act on a truncated URL.
    """

    def __init__(
        self, what: str, size: int, advice: str, *, unit: str = "command line (CR LF included)"
    ) -> None:
        super().__init__(
            f"{what} is {size} bytes; ESP-AT accepts at most {MAX_COMMAND} bytes per {unit}: "
            f"{advice}"
        )
        self.size = size


class MessageTooLarge(EspAtError, stream.MessageTooLarge):
    """An OCPP message longer than one ``AT+WSSEND`` can carry; nothing was sent.

    ESP-AT v4.0 ... v5.0.1 sends every AT+WSSEND as one whole frame with FIN
    set, so a longer message cannot be split into continuation frames there.
    The link stays up.
    """

    def __init__(self, size: int, limit: int, buffer_size: int) -> None:
        super().__init__(
            f"a {size}-byte message does not fit one AT+WSSEND (at most {limit} bytes with "
            f"AT+WSCFG buffer_size {buffer_size}); ESP-AT v4.0-v5.0.1 cannot fragment a "
            "message, so it was not sent"
        )
        self.size = size
        self.limit = limit


class HttpTransferError(EspAtError):
    """A transfer through the module's HTTP client failed; ``url`` is shown without a
    password, ``reason`` says what the module answered and what it usually means."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason


class HttpBodyTooLarge(HttpTransferError):
    """The file is larger than the caller may keep; ``read``: found while reading (the
    body outgrew its announced size), else refused from AT+HTTPGETSIZE before any byte."""

    def __init__(self, url: str, size: int, limit: int, *, read: bool = False) -> None:
        how = "came" if read else "announced by AT+HTTPGETSIZE; nothing downloaded"
        super().__init__(url, f"{size} bytes {how}, more than the {limit} allowed")
        self.size = size
        self.limit = limit


class HttpUrlTooLong(HttpTransferError):
    """Longer than AT+HTTPURLCFG takes (8192 bytes): the module cannot fetch it."""

    def __init__(self, url: str, size: int, limit: int) -> None:
        super().__init__(
            url, f"the URL is {size} bytes; ESP-AT's AT+HTTPURLCFG takes at most {limit}"
        )
        self.size = size


class CertificateStoreError(EspAtError):
    """``AT+SYSMFG`` could not store a certificate or key in the module's manufacturing NVS."""

    def __init__(self, what: str, reason: str) -> None:
        super().__init__(f"storing the {what} in the ESP-AT module: {reason}")
        self.what = what
        self.reason = reason


class ClockNotSet(EspAtError):
    """The module's clock is not set: it cannot check a certificate's validity dates, so a
    verifying ``AT+WSOPEN`` (auth_mode 2 or 3) would fail with a bare ERROR."""

    def __init__(self, server: str, seconds: float, reported: str | None) -> None:
        said = f"it still says {reported!r}" if reported else "it gave no time"
        super().__init__(
            f"the ESP-AT module's clock was not set by SNTP within {seconds:g} s ({said}); "
            "it cannot check the CSMS certificate's dates, so wss:// with certificate "
            f"verification cannot open. Check that the NTP server {server} resolves and is "
            "reachable from this Wi-Fi (UDP port 123 open), or configure another NTP server"
        )
        self.server = server
        self.reported = reported
