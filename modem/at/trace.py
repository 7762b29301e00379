"""The AT trace (``--at-log``): what crossed the serial line, readable, secrets masked.

The layout follows the "AT LOGS" that vendors and field engineers exchange
(command, then what the modem said), with a timestamp and a direction so a
trace can be attached to a support ticket as is.  ``>>`` is host to modem,
``<<`` modem to host.  Payload bytes are shown as text where printable and as
``\\xNN`` otherwise, because WebSocket frames mix JSON with binary headers.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from pathlib import Path
from typing import TextIO

from .events import Error, Event, Garbage, Line, Ok, Payload, Prompt, SendResult, Urc

log = logging.getLogger("modem.at")

_MASK = "***"

# OCPP ChangeConfiguration of AuthorizationKey (the CSMS password), in either key order.
# The closing quote is optional: a payload cut by a read or by the display limit
# must not show the start of the value either.
_VALUE = r"(?:[^\"\\]|\\.)*"
_AUTH_KEY_FIRST = r'("key"\s*:\s*"AuthorizationKey"\s*,\s*"value"\s*:\s*")' + _VALUE
_AUTH_VALUE_FIRST = r'("value"\s*:\s*")' + _VALUE + r'("\s*,\s*"key"\s*:\s*"AuthorizationKey")'

# (pattern, replacement) applied to command lines and text before they are shown.
TEXT_MASKS: list[tuple[re.Pattern[str], str]] = [
    # AT+QICSGP=<ctx>,<type>,"<apn>","<user>","<password>"[,<auth>]
    # (an empty password stays visible as "": worth knowing when activation fails)
    (re.compile(r'(?i)(AT\+QICSGP=\d+,\d+,"[^"]*","[^"]*",")[^"]+(")'), rf"\g<1>{_MASK}\g<2>"),
    # AT+CWJAP="<ssid>","<password>",...  (ESP-AT escapes quotes with a backslash)
    (
        re.compile(r'(?i)(AT\+CWJAP(?:_CUR|_DEF)?="(?:[^"\\]|\\.)*",")(?:[^"\\]|\\.)+(")'),
        rf"\g<1>{_MASK}\g<2>",
    ),
    # user:password@ in a URI (ws://cp1:secret@host/...)
    (re.compile(r'(\b[a-z][a-z0-9+.-]*://[^:/@"\s]*:)[^@/"\s]*(@)', re.I), rf"\g<1>{_MASK}\g<2>"),
    (re.compile(r"(?i)(Authorization:[ \t]*)[^\r\n\"]*"), rf"\g<1>{_MASK}"),
    (re.compile(_AUTH_KEY_FIRST), rf"\g<1>{_MASK}"),
    (re.compile(_AUTH_VALUE_FIRST), rf"\g<1>{_MASK}\g<2>"),
]
BYTES_MASKS: list[tuple[re.Pattern[bytes], bytes]] = [
    (re.compile(rb"(?i)(Authorization:[ \t]*)[^\r\n]*"), rb"\g<1>" + _MASK.encode()),
    (re.compile(_AUTH_KEY_FIRST.encode()), rb"\g<1>" + _MASK.encode()),
    (re.compile(_AUTH_VALUE_FIRST.encode()), rb"\g<1>" + _MASK.encode() + rb"\g<2>"),
    # A PEM private key in a payload (written to, or read back from, a module's
    # certificate store), up to its END line or, when cut, to the end of the bytes.
    (
        re.compile(
            rb"(-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----)"
            rb"(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY-----|.*)",
            re.S,
        ),
        rb"\g<1>" + _MASK.encode(),
    ),
]


def mask_text(text: str) -> str:
    """Hide passwords in AT commands, URIs, HTTP headers and OCPP AuthorizationKey values."""
    for pattern, replacement in TEXT_MASKS:
        text = pattern.sub(replacement, text)
    return text


def mask_bytes(data: bytes) -> bytes:
    for pattern, replacement in BYTES_MASKS:
        data = pattern.sub(replacement, data)
    return data


def render_bytes(data: bytes, limit: int = 256) -> str:
    """``[5 bytes] ab\\r\\n\\x81`` -- printable ASCII as is, everything else escaped.

    Secrets are masked before the cut, so a cut cannot leave half a password.
    """
    masked = mask_bytes(data)
    shown = masked[:limit]
    parts: list[str] = []
    for b in shown:
        if 0x20 <= b < 0x7F:
            parts.append(chr(b))
        elif b == 0x0D:
            parts.append("\\r")
        elif b == 0x0A:
            parts.append("\\n")
        else:
            parts.append(f"\\x{b:02x}")
    more = f" ...(+{len(masked) - limit} bytes)" if len(masked) > limit else ""
    if not data:
        return "[0 bytes]"
    return f"[{len(data)} bytes] {''.join(parts)}{more}"


def render_event(event: Event, limit: int = 256) -> str:
    match event:
        case Urc(text=text, data=None):
            return f"{mask_text(text)}  (URC)"
        case Urc(text=text, data=bytes() as data):
            return f"{text} {render_bytes(data, limit)}  (URC)"
        case Payload(header=header, data=data):
            return f"{header} {render_bytes(data, limit)}"
        case Garbage(data=data, reason=reason):
            return f"?? {render_bytes(data, limit)}  (garbage: {reason})"
        case Line(text=text):
            return mask_text(text)
        case Ok() | Error() | SendResult() | Prompt():
            return event.text
    return repr(event)


class ATTrace:
    """Writes each exchange to logger ``modem.at`` (DEBUG) and, optionally, to a file.

    The file gets every line whatever the logging configuration, since it is
    the artefact asked for with ``--at-log``.
    """

    def __init__(self, port: str = "", path: str | Path | None = None, limit: int = 256) -> None:
        self.port = port
        self.limit = limit
        self._file: TextIO | None = None
        if path is not None:
            self._file = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115

    @property
    def enabled(self) -> bool:
        """Whether anything reads the trace: rendering and masking cost time per message."""
        return self._file is not None or log.isEnabledFor(logging.DEBUG)

    def sent(self, command: str) -> None:
        if self.enabled:
            self._write(">>", mask_text(command))

    def sent_payload(self, data: bytes, note: str | None = None) -> None:
        """Raw bytes written after a prompt; ``note`` says what they are when the layer
        that produced them knows better (a masked WebSocket frame is unreadable as is)."""
        if not self.enabled:
            return
        if note is None:
            self._write(">>", render_bytes(data, self.limit))
            return
        text = mask_text(note)
        if len(text) > self.limit:
            text = f"{text[: self.limit]} ...(+{len(text) - self.limit} chars)"
        self._write(">>", f"[{len(data)} bytes] {text}")

    def received(self, event: Event, note: str = "") -> None:
        if not self.enabled:
            return
        text = render_event(event, self.limit)
        self._write("<<", f"{text}  ({note})" if note else text)

    def note(self, text: str) -> None:
        self._write("--", text)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _write(self, direction: str, text: str) -> None:
        log.debug("%s %s %s", self.port, direction, text)
        if self._file is not None:
            stamp = datetime.now().isoformat(sep=" ", timespec="milliseconds")
            self._file.write(f"{stamp} {self.port} {direction} {text}\n")
