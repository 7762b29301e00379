"""Whole OCPP messages out of ESP-AT's ``+WS_DATA`` chunks (sans-I/O).

ESP-AT up to v5.0.1 prints each piece esp_websocket_client reads (at most
``buffer_size`` bytes) as its own ``+WS_DATA`` record, with nothing marking
where a frame or a message ends (reference B.4).  Two facts make the stream
splittable anyway:

* an OCPP-J message is a JSON array, so it ends where its outermost bracket
  closes, counting brackets outside strings only (quote- and escape-aware);
* a piece never spans two frames, so the end of a chunk is the only place a
  frame that is not JSON can end.

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
    ``{`` is not JSON: it is returned whole as one message, so the charger
    answers it as the direct link would (OCPP's "not a valid message"), and
    the next chunk starts clean.  A JSON message whose brackets never balance
    stalls the stream; ``max_size`` turns that into :class:`ReassemblyError`
    instead of unbounded memory.
    """

    def __init__(self, max_size: int = MAX_MESSAGE) -> None:
        self.max_size = max_size
        self._message = bytearray()
        self._depth = 0
        self._in_string = False
        self._escaped = False

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

    def feed(self, chunk: bytes) -> list[bytes]:
        """Consume one ``+WS_DATA`` chunk; return the messages it completed, in order."""
        out: list[bytes] = []
        pos, end = 0, len(chunk)
        while pos < end:
            if not self._message:
                while pos < end and chunk[pos] in _WHITESPACE:
                    pos += 1
                if pos == end:
                    break
                if chunk[pos] not in _OPENERS:
                    out.append(chunk[pos:].rstrip(_WHITESPACE))
                    break
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
