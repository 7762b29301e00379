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

# How a header's length field must be written in its pattern: the parser reads
# the digits itself, one pass, so that it can bound them before converting.
LENGTH_GROUP = rb"(?P<len>\d+)"


@dataclass(frozen=True)
class PayloadHeader:
    """A header after which exactly ``length`` raw bytes follow.

    ``pattern`` is matched at the start of a line against the raw bytes and must
    end with the delimiter that precedes the payload (``\\r\\n`` for Quectel,
    the comma for ``+WS_DATA:0,4,``); otherwise a half-received number such as
    ``+WS_DATA:0,1`` (of ``12``) would already match.  The length is the group
    written exactly ``(?P<len>\\d+)``, at the top level of the pattern and
    followed by a non-digit.

    The parser does not run ``pattern`` over a growing buffer: it matches the
    part before the length field (``lead``) and the part after it (``tail``)
    within ``window`` bytes each, and counts the digits in between itself.  A
    length field of more than :attr:`max_digits` digits, or above
    ``max_length``, is garbage: never converted, so never an exception.  Neither
    ``lead`` nor ``tail`` may match a line feed except as the tail's last byte,
    and the leads of one dialect should exclude each other (if two match, the
    one that ends first wins), so that a header is recognised the same way
    however its bytes are split.
    """

    pattern: re.Pattern[bytes]
    max_length: int
    unsolicited: bool = False
    window: int = 64
    lead: re.Pattern[bytes] = field(init=False, repr=False, compare=False)
    tail: re.Pattern[bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        source = self.pattern.pattern
        if "len" not in self.pattern.groupindex:
            raise ValueError(f"payload header {source!r} has no (?P<len>...) group")
        if source.count(LENGTH_GROUP) != 1:
            raise ValueError(
                f"payload header {source!r}: write the len group exactly as {LENGTH_GROUP!r}"
            )
        if self.max_length < 0 or self.window < 1:
            raise ValueError(f"payload header {source!r}: max_length >= 0 and window >= 1")
        lead, tail = source.split(LENGTH_GROUP)
        try:
            parts = re.compile(lead, self.pattern.flags), re.compile(tail, self.pattern.flags)
        except re.error as exc:
            raise ValueError(
                f"payload header {source!r}: the len group must stand at the top level ({exc})"
            ) from exc
        object.__setattr__(self, "lead", parts[0])
        object.__setattr__(self, "tail", parts[1])

    @property
    def max_digits(self) -> int:
        """Digits of the largest length: a longer length field is garbage unread."""
        return len(str(self.max_length))


@dataclass(frozen=True)
class Dialect:
    """Grammar and timing defaults of one modem family."""

    name: str
    urc_prefixes: tuple[str, ...] = ()
    payload_headers: tuple[PayloadHeader, ...] = ()
    # Words that end a command as a failure besides ERROR / +CME ERROR / +CMS ERROR.
    extra_errors: tuple[str, ...] = ()
    # Words that end a command as a success besides OK (ESP-AT's AT+HTTPURLCFG ends
    # with "SET OK" and no OK after it); the parser reports them as Ok(text).
    extra_oks: tuple[str, ...] = ()
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
    # Whole lines that act as a data prompt (Quectel's AT+QFUPL answers CONNECT, then
    # reads exactly the announced bytes); the parser reports them as Prompt(text).
    prompt_lines: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for header in self.payload_headers:
            if header.window >= self.max_line:
                raise ValueError(
                    f"{self.name}: header window {header.window} must be below "
                    f"max_line {self.max_line}"
                )

    def timeout_for(self, command: str) -> float:
        best = ""
        for prefix in self.timeouts:
            if command.upper().startswith(prefix.upper()) and len(prefix) > len(best):
                best = prefix
        return self.timeouts[best] if best else self.default_timeout


GENERIC = Dialect(name="generic")
