"""Per-modem-family grammar: which lines are URCs and which headers announce raw bytes.

Quectel and ESP-AT share the AT skeleton (lines, OK/ERROR, ``>``) but differ in
their unsolicited prefixes and in how binary payloads are framed (``+QIRD: n``
then CRLF, versus ``+WS_DATA:id,n,`` with the bytes on the same line).  Keeping
that in data lets one parser and one driver serve both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PayloadHeader:
    """A header after which exactly ``length`` raw bytes follow.

    ``pattern`` is matched at the start of a line against the raw bytes and must
    end with the delimiter that precedes the payload (``\\r\\n`` for Quectel,
    the comma for ``+WS_DATA:0,4,``); otherwise a half-received number such as
    ``+WS_DATA:0,1`` (of ``12``) would already match.  The group named ``len``
    gives the byte count.
    """

    pattern: re.Pattern[bytes]
    max_length: int
    unsolicited: bool = False

    def __post_init__(self) -> None:
        if "len" not in self.pattern.groupindex:
            raise ValueError(f"payload header {self.pattern.pattern!r} has no (?P<len>...) group")


@dataclass(frozen=True)
class Dialect:
    """Grammar and timing defaults of one modem family."""

    name: str
    urc_prefixes: tuple[str, ...] = ()
    payload_headers: tuple[PayloadHeader, ...] = ()
    # Words that end a command as a failure besides ERROR / +CME ERROR / +CMS ERROR.
    extra_errors: tuple[str, ...] = ()
    # Quectel takes CR; ESP-AT requires CR LF.
    line_ending: bytes = b"\r"
    default_timeout: float = 5.0
    # Longest-prefix match on the command text, e.g. "AT+QIACT=" -> 150.
    timeouts: Mapping[str, float] = field(default_factory=dict)
    # Texts for numeric +CME ERROR codes beyond 3GPP TS 27.007 (vendor blocks).
    cme_texts: Mapping[int, str] = field(default_factory=dict)
    max_line: int = 4096
    # Unsolicited lines saying the modem has just (re)started: the command in
    # flight will never be answered, so the driver fails it at once.
    restart_urcs: tuple[str, ...] = ()

    def timeout_for(self, command: str) -> float:
        best = ""
        for prefix in self.timeouts:
            if command.upper().startswith(prefix.upper()) and len(prefix) > len(best):
                best = prefix
        return self.timeouts[best] if best else self.default_timeout


GENERIC = Dialect(name="generic")
