"""What the AT parser reports.  One class per kind, so a driver matches on type.

The parser does not know which command is in flight; it only tells *what* a
piece of modem output is.  Deciding whether a line answers the current command
or is unsolicited is the driver's job (it knows what it sent).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    """An information line (``+CSQ: 20,99``, ``Quectel``, an echoed command)."""

    text: str


@dataclass(frozen=True)
class Ok:
    """The final result code ``OK``."""

    text: str = "OK"


@dataclass(frozen=True)
class Error:
    """A failing final result code.

    ``kind`` is ``ERROR``, ``+CME ERROR``, ``+CMS ERROR`` or a dialect's extra
    failure word (``NO CARRIER``, ESP-AT's ``busy p...``); ``detail`` is what
    follows the colon (a number or, with ``AT+CMEE=2``, a sentence).
    """

    kind: str
    detail: str | None = None

    @property
    def text(self) -> str:
        return self.kind if self.detail is None else f"{self.kind}: {self.detail}"


@dataclass(frozen=True)
class SendResult:
    """``SEND OK`` (bytes taken into the modem's buffer, not delivered) or ``SEND FAIL``."""

    ok: bool

    @property
    def text(self) -> str:
        return "SEND OK" if self.ok else "SEND FAIL"


@dataclass(frozen=True)
class Prompt:
    """The ``>`` data prompt; it has no line ending, so it is an event of its own."""

    text: str = ">"


@dataclass(frozen=True)
class Urc:
    """An unsolicited result code.

    ``data`` holds the raw bytes of a length-framed URC (ESP-AT ``+WS_DATA``,
    Quectel direct push); ``None`` for a plain line.
    """

    text: str
    data: bytes | None = None


@dataclass(frozen=True)
class Payload:
    """Raw bytes announced by a response header such as ``+QIRD: 216``."""

    header: str
    data: bytes


@dataclass(frozen=True)
class Garbage:
    """Bytes that fit no rule; ``reason`` names the rule they broke.  Never fatal."""

    data: bytes
    reason: str


Final = Ok | Error | SendResult
Event = Line | Ok | Error | SendResult | Prompt | Urc | Payload | Garbage
