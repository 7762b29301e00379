"""Whole OCPP messages out of ESP-AT's ``+WS_DATA`` chunks (sans-I/O).

ESP-AT up to v5.0.1 prints each piece esp_websocket_client reads (at most
``buffer_size`` bytes) as its own ``+WS_DATA`` record, with nothing marking
where a frame or a message ends (reference B.4).  Two facts make the stream
splittable anyway:

* an OCPP-J message is a JSON array, so it ends where its outermost bracket
  closes, counting brackets outside strings only (quote- and escape-aware);
* a piece never spans two frames, so the end of a chunk is the only place a
  frame that is not JSON can end, and a piece shorter than ``buffer_size``
  ends its frame (when TCP delivered the whole piece, which is the rule).

Text that is not JSON is kept whole while full-size chunks keep coming, and
while it is pending or just after it, only what starts like an OCPP-J message
(``[`` then a message type digit) opens a JSON message again: a later piece
of the text that happens to start with ``[`` must not swallow the messages
that follow it.

Scanning works on bytes: UTF-8 continuation bytes are all >= 0x80 and never
look like a quote, backslash or bracket, so a multi-byte character split by a
chunk edge is harmless.  Callers decode only whole messages.
"""

from __future__ import annotations

import re

# Bytes that matter outside a string, and inside one.
_STRUCTURE = re.compile(rb'["\[\]{}]')
_IN_STRING = re.compile(rb'["\\]')
_WHITESPACE = b" \t\r\n"
_OPENERS = b"[{"

MAX_MESSAGE = 1 << 20  # the direct link's limit too


class ReassemblyError(Exception):
    """The chunks cannot be a stream of messages (one grew past ``max_size``)."""


class JsonMessageSplitter:
    """Feed chunks in order; get complete messages back as bytes.

    A chunk that starts outside a message with something other than ``[`` or
    ``{`` is not JSON: the rest of it is one message, so the charger answers
    it as the direct link would (OCPP's "not a valid message").  With
    ``chunk_size`` (the link's buffer_size) given, a full-size chunk says the
    frame goes on: the following chunks belong to the same text until a
    shorter one, or one that starts like an OCPP-J message.  Without it each
    chunk of such text is a message of its own.  A JSON message whose brackets
    never balance stalls the stream; ``max_size`` turns that into
    :class:`ReassemblyError` instead of unbounded memory.
    """

    def __init__(self, max_size: int = MAX_MESSAGE, chunk_size: int | None = None) -> None:
        self.max_size = max_size
        self.chunk_size = chunk_size
        self._message = bytearray()
        self._depth = 0
        self._in_string = False
        self._escaped = False
        self._text = False  # _message is text (not JSON) that a full chunk left open
        self._after_text = False  # the last message was text: only "[<digit>" opens JSON

    @property
    def pending(self) -> int:
        """Bytes of a message begun but not yet complete."""
        return len(self._message)

    def reset(self) -> None:
        """Forget a partial message (the link it came from is gone)."""
        self._message.clear()
        self._depth = 0
        self._in_string = False
        self._escaped = False
        self._text = False
        self._after_text = False

    def feed(self, chunk: bytes) -> list[bytes]:
        """Consume one ``+WS_DATA`` chunk; return the messages it completed, in order."""
        out: list[bytes] = []
        if self._text:
            if not _ocpp_start(chunk, 0):
                self._add_text(chunk, out, full=self._full(chunk))
                return out
            out.append(self._take_text())  # the text ended with the previous (full) chunk
        pos, end = 0, len(chunk)
        while pos < end:
            if not self._message:
                while pos < end and chunk[pos] in _WHITESPACE:
                    pos += 1
                if pos == end:
                    break
                if self._after_text and not _ocpp_start(chunk, pos):
                    self._add_text(chunk[pos:], out, full=self._full(chunk))
                    break
                if chunk[pos] not in _OPENERS:
                    self._after_text = True
                    self._add_text(chunk[pos:], out, full=self._full(chunk))
                    break
                self._after_text = False
            stop = self._scan(chunk, pos)
            if stop is None:
                self._message += chunk[pos:]
                self._check_size()
                break
            self._message += chunk[pos:stop]
            self._check_size()
            out.append(bytes(self._message))
            self._message.clear()
            pos = stop
        return out

    def _full(self, chunk: bytes) -> bool:
        return self.chunk_size is not None and len(chunk) >= self.chunk_size

    def _add_text(self, data: bytes, out: list[bytes], *, full: bool) -> None:
        """Text goes on while chunks are full-size; a shorter one ends it."""
        self._message += data
        self._check_size()
        self._text = full
        if not full:
            out.append(self._take_text())

    def _take_text(self) -> bytes:
        text = bytes(self._message).rstrip(_WHITESPACE)
        self._message.clear()
        self._text = False
        return text

    def _scan(self, chunk: bytes, pos: int) -> int | None:
        """Advance the bracket state over ``chunk[pos:]``; the index after a message's end."""
        while True:
            if self._in_string:
                if self._escaped:
                    if pos >= len(chunk):
                        return None
                    self._escaped = False
                    pos += 1
                match = _IN_STRING.search(chunk, pos)
                if match is None:
                    return None
                pos = match.end()
                if match.group() == b"\\":
                    self._escaped = True
                else:
                    self._in_string = False
                continue
            match = _STRUCTURE.search(chunk, pos)
            if match is None:
                return None
            pos = match.end()
            token = match.group()
            if token == b'"':
                self._in_string = True
            elif token in (b"[", b"{"):
                self._depth += 1
            else:
                self._depth -= 1
                if self._depth <= 0:
                    self._depth = 0
                    return pos

    def _check_size(self) -> None:
        if len(self._message) > self.max_size:
            size = len(self._message)
            self.reset()
            raise ReassemblyError(
                f"a message grew past {self.max_size} bytes without its brackets closing "
                f"({size} bytes so far): not OCPP-J, or a chunk was lost"
            )


def _ocpp_start(chunk: bytes, pos: int) -> bool:
    """``chunk[pos:]`` starts like an OCPP-J message: ``[``, whitespace, a message type digit.

    True also when the chunk ends right after the ``[``: nothing says otherwise.
    """
    while pos < len(chunk) and chunk[pos] in _WHITESPACE:
        pos += 1
    if pos >= len(chunk) or chunk[pos] != _OPENERS[0]:
        return False
    rest = chunk[pos + 1 :].lstrip(_WHITESPACE)
    return not rest or rest[:1].isdigit()
