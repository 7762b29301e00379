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

A frame that opens a bracket and never closes it must not swallow the
messages after it: while such a message is open, a piece that starts like an
OCPP-J message (``[2,"``) is also read as the possible start of the next one,
and wins where a frame can end (see :class:`JsonMessageSplitter`).

Scanning works on bytes: UTF-8 continuation bytes are all >= 0x80 and never
look like a quote, backslash or bracket, so a multi-byte character split by a
chunk edge is harmless.  Callers decode only whole messages.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

# Bytes that matter outside a string, and inside one.
_STRUCTURE = re.compile(rb'["\[\]{}]')
_IN_STRING = re.compile(rb'["\\]')
_WHITESPACE = b" \t\r\n"
_OPENERS = b"[{"

MAX_MESSAGE = 1 << 20  # the direct link's limit too
# Places where the next message may have begun while a broken one is still open;
# beyond this the oldest is forgotten, so scanning stays a bounded cost per byte.
MAX_CANDIDATES = 8
_CALL_TYPES = (2, 3, 4)
# How every OCPP-J message starts: [, a message type, a comma, the quote of its id.
# Inside a JSON string that quote would be escaped, so a piece of a sound
# message's string can never start like this.
_HEAD = re.compile(rb'\[[ \t\r\n]*[234][ \t\r\n]*,[ \t\r\n]*"')
_HEAD_SO_FAR = re.compile(rb"\[[ \t\r\n]*(?:[234][ \t\r\n]*(?:,[ \t\r\n]*)?)?\Z")
MAX_HEAD = 64


class ReassemblyError(Exception):
    """The chunks cannot be a stream of messages (one grew past ``max_size``)."""


class _Brackets:
    """Bracket depth outside strings (quote- and escape-aware) of one message being read."""

    __slots__ = ("depth", "escaped", "in_string")

    def __init__(self) -> None:
        self.depth = 0
        self.in_string = False
        self.escaped = False

    def scan(self, chunk: bytes, pos: int) -> int | None:
        """Advance over ``chunk[pos:]``; the index after the message's end, else None."""
        while True:
            if self.in_string:
                if self.escaped:
                    if pos >= len(chunk):
                        return None
                    self.escaped = False
                    pos += 1
                match = _IN_STRING.search(chunk, pos)
                if match is None:
                    return None
                pos = match.end()
                if match.group() == b"\\":
                    self.escaped = True
                else:
                    self.in_string = False
                continue
            match = _STRUCTURE.search(chunk, pos)
            if match is None:
                return None
            pos = match.end()
            token = match.group()
            if token == b'"':
                self.in_string = True
            elif token in (b"[", b"{"):
                self.depth += 1
            else:
                self.depth -= 1
                if self.depth <= 0:
                    self.depth = 0
                    return pos


@dataclass
class _Candidate:
    """A piece that starts like an OCPP-J message while another message is still open."""

    start: int  # offset in the splitter's buffer
    brackets: _Brackets = field(default_factory=_Brackets)
    head_ok: bool = False  # its first bytes are an OCPP-J head (else not known yet)


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

    Recovery (with ``chunk_size``, where every chunk is one ``+WS_DATA`` piece
    and a piece never spans two frames): a frame that opens a bracket and never
    closes it (``[``, ``[oops``, the last piece of a text starting with ``[``)
    must not swallow the messages after it.  While a message is open, every
    piece that starts like an OCPP-J message (``[2,"``, ``[3,"``, ``[4,"``) is
    also read as a possible new message.  Such a candidate wins, and the bytes
    before it come out as one broken message, when it closes exactly at the
    end of a piece (where a frame can end) as a JSON array of an OCPP-J
    message type and a string id; or when the open message proves broken
    itself, by closing inside a piece or at a piece end without being JSON,
    while a candidate is still open.  A candidate inside a sound message cannot
    win: inside one of its strings the quote of ``[2,"`` would be escaped, and
    OCPP 1.6 payloads hold no arrays that start with a message type number.
    """

    def __init__(self, max_size: int = MAX_MESSAGE, chunk_size: int | None = None) -> None:
        self.max_size = max_size
        self.chunk_size = chunk_size
        self._message = bytearray()
        self._brackets = _Brackets()
        self._candidates: list[_Candidate] = []
        self._text = False  # _message is text (not JSON) that a full chunk left open
        self._after_text = False  # the last message was text: only "[<digit>" opens JSON

    @property
    def pending(self) -> int:
        """Bytes of a message begun but not yet complete."""
        return len(self._message)

    def reset(self) -> None:
        """Forget a partial message (the link it came from is gone)."""
        self._message.clear()
        self._brackets = _Brackets()
        self._candidates = []
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
        if self._message and self.chunk_size is not None:
            rest = self._continue_open(chunk, out)
            if rest is None:
                return out
            pos = rest
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
            stop = self._brackets.scan(chunk, pos)
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

    def _continue_open(self, chunk: bytes, out: list[bytes]) -> int | None:
        """A piece arriving while a JSON message is open (piece-framed stream).

        Returns where the rest of the piece is to be read as new messages, or
        None when the piece has been taken whole.
        """
        base = len(self._message)
        if _ocpp_start(chunk, 0):
            lead = len(chunk) - len(chunk.lstrip(_WHITESPACE))
            self._candidates.append(_Candidate(base + lead))
            del self._candidates[:-MAX_CANDIDATES]
        piece_end = len(chunk.rstrip(_WHITESPACE))  # a frame can end here, not before
        live: list[_Candidate] = []
        winner: _Candidate | None = None
        for candidate in self._candidates:
            if not candidate.head_ok and not self._head(candidate, chunk, base):
                continue  # it does not start like a message after all: forgotten
            stop = candidate.brackets.scan(chunk, 0)
            if stop is None:
                live.append(candidate)
            elif (
                winner is None
                and stop == piece_end
                and _is_ocpp_message(bytes(self._message[candidate.start :]) + chunk[:stop])
            ):
                winner = candidate
            # else: closed inside the piece, or not a message: part of the open one
        if winner is not None:
            self._message += chunk[:piece_end]
            self._check_size()
            broken = bytes(self._message[: winner.start]).rstrip(_WHITESPACE)
            if broken:
                out.append(broken)
            out.append(bytes(self._message[winner.start :]))
            self._message.clear()
            self._brackets = _Brackets()
            self._candidates = []
            self._after_text = False
            return None
        self._candidates = live
        stop = self._brackets.scan(chunk, 0)
        if stop is None:
            self._message += chunk
            self._check_size()
            return None
        if live and (stop != piece_end or not _is_json(bytes(self._message) + chunk[:stop])):
            # The open message ends inside a piece, or is no JSON, while a later
            # start is still open: it was a broken frame; read on from that start.
            self._message += chunk
            self._check_size()
            self._promote(out)
            return None
        self._message += chunk[:stop]
        self._check_size()
        out.append(bytes(self._message))
        self._message.clear()
        self._candidates = []
        return stop

    def _head(self, candidate: _Candidate, chunk: bytes, base: int) -> bool:
        """False once the candidate's first bytes cannot be ``[<type>,"``; records a match."""
        start = candidate.start
        within = max(0, start - base)
        seen = bytes(self._message[start : start + MAX_HEAD]) + chunk[within : within + MAX_HEAD]
        seen = seen[:MAX_HEAD]
        if _HEAD.match(seen):
            candidate.head_ok = True
            return True
        return len(seen) < MAX_HEAD and _HEAD_SO_FAR.match(seen) is not None

    def _promote(self, out: list[bytes]) -> None:
        """The oldest open candidate becomes the message; what came before it is broken."""
        first = self._candidates.pop(0)
        broken = bytes(self._message[: first.start]).rstrip(_WHITESPACE)
        if broken:
            out.append(broken)
        del self._message[: first.start]
        self._brackets = first.brackets
        for candidate in self._candidates:
            candidate.start -= first.start

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


def _parse_json(data: bytes) -> tuple[bool, object]:
    try:
        return True, json.loads(data)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, too deep, a huge number
        return False, None


def _is_json(data: bytes) -> bool:
    return _parse_json(data)[0]


def _is_ocpp_message(data: bytes) -> bool:
    """A JSON array of a message type (2, 3, 4) and a string id: the head every frame has."""
    ok, value = _parse_json(data)
    return (
        ok
        and isinstance(value, list)
        and len(value) >= 2
        and type(value[0]) is int
        and value[0] in _CALL_TYPES
        and isinstance(value[1], str)
    )
