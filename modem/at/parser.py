"""Sans-I/O AT response parser: bytes in, :mod:`modem.at.events` out.

It is a generator that suspends whenever it needs more bytes (the style of
websockets' ``StreamReader``), so output split at any byte boundary -- a serial
port returns whatever has arrived -- parses exactly like output received whole.

Why not a line reader: the ``>`` prompt has no line ending, and payloads such
as ``+QIRD: n`` carry raw bytes that may contain CR LF, ``OK`` or ``+QIURC``.
Those must be consumed by count, never scanned for lines.

The input may be hostile (line noise, a wrong baud rate, a corrupted module):
a length field is bounded before it is converted (more digits than the
largest length has, or a larger value, is :class:`Garbage`, never an
exception), memory is bounded by the longest line or payload, and every byte
is looked at a bounded number of times however the input is split, so the
work is linear (:attr:`ATParser.work` counts it).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Generator

from .dialect import GENERIC, Dialect, PayloadHeader
from .events import Error, Event, Garbage, Line, Ok, Payload, Prompt, SendResult, Urc

_CRLF = b"\r\n"
_PROMPT = ord(">")
_DIGITS = re.compile(rb"[0-9]*")


def _brief(text: str, keep: int = 40) -> str:
    """``text`` quoted, cut to ``keep`` characters: a hostile header can be kilobytes long."""
    return repr(text) if len(text) <= keep else f"{text[:keep]!r}... ({len(text)} characters)"


class ATParser:
    """Turns modem output into events.

    Call :meth:`receive_data` with every chunk read from the port, then
    :meth:`events` to collect what became complete.  Nothing here raises on
    bad input: bytes that fit no rule come out as :class:`Garbage` naming the
    rule, because a driver must survive line noise and a wrong baud rate.
    """

    def __init__(self, dialect: Dialect = GENERIC) -> None:
        self.dialect = dialect
        self._buf = bytearray()
        self._eof = False
        self._events: list[Event] = []
        # Bytes the scanners looked at (a regex: all it was allowed to), plus one
        # per step: the measure the linear-work tests and the fuzz checks assert on.
        self.work = 0
        self._parser = self._parse()
        next(self._parser)

    def receive_data(self, data: bytes) -> None:
        if self._eof:
            raise RuntimeError("receive_data() called after receive_eof()")
        self._buf += data
        self._step()

    def receive_eof(self) -> None:
        if self._eof:
            return
        self._eof = True
        self._step()

    def held(self) -> bytes:
        """Bytes received but not yet parsed (a line without its end, a partial payload).

        A driver shows them when it gives up: noise with no line feed never
        becomes an event, yet it is what tells a wrong baud rate apart from silence.
        """
        return bytes(self._buf)

    def events(self) -> list[Event]:
        """Return and forget the events parsed so far."""
        out, self._events = self._events, []
        return out

    def _step(self) -> None:
        with contextlib.suppress(StopIteration):
            next(self._parser)

    def _emit(self, event: Event) -> None:
        self._events.append(event)

    # -- the grammar -------------------------------------------------------

    def _parse(self) -> Generator[None, None, None]:
        yield  # primed by __init__; runs on the first receive_*()
        while True:
            if not (yield from self._skip_blank_lines()):
                return
            if self._buf[0] == _PROMPT:
                yield from self._read_prompt()
                continue
            found = yield from self._read_header_or_line()
            if found is None:
                return
            if isinstance(found, bytes):
                self._classify_line(found)
                continue
            header, text, length = found
            if not (yield from self._read_payload(header, text, length)):
                return

    def _skip_blank_lines(self) -> Generator[None, None, bool]:
        """Drop CR/LF at line start; False once the stream has ended with nothing left."""
        while True:
            n = 0
            while n < len(self._buf) and self._buf[n] in _CRLF:
                n += 1
            self.work += n + 1
            del self._buf[:n]
            if self._buf:
                return True
            if self._eof:
                return False
            yield

    def _read_prompt(self) -> Generator[None, None, None]:
        # Quectel sends "\r\n>" or "\r\n> ", ESP-AT "\r\n>": the space, if any,
        # belongs to the prompt and must not start the next line.
        del self._buf[:1]
        self._emit(Prompt())
        while not self._buf and not self._eof:
            yield
        if self._buf[:1] == b" ":
            del self._buf[:1]

    def _read_header_or_line(
        self,
    ) -> Generator[None, None, bytes | tuple[PayloadHeader, str, int] | None]:
        """Wait until the buffer starts with a payload header or a whole line.

        Returns the line (without its LF), a valid header with its length, ``b""``
        once garbage has been reported and dropped, or None when the stream ended.
        Every byte is looked at a bounded number of times: a line or a header that
        grows byte by byte is never rescanned from its start.
        """
        checked = 0  # no LF in self._buf[:checked]
        headers = self.dialect.payload_headers
        if headers:
            lead = yield from self._match_lead(headers)
            if lead is not None:
                found = yield from self._read_length(*lead)
                if not isinstance(found, int):
                    return found
                checked = found
        return (yield from self._read_line(checked))

    def _match_lead(
        self, headers: tuple[PayloadHeader, ...]
    ) -> Generator[None, None, tuple[PayloadHeader, int] | None]:
        """The header whose part before the length field starts the line, and where it ends.

        Each lead is matched within its header's window only, so a resume costs a
        bounded amount whatever the length of the line.  None once no lead can
        match: a line feed, a full window or the end of the stream came first.
        """
        window = max(header.window for header in headers)
        while True:
            size = min(len(self._buf), window)
            best: tuple[PayloadHeader, int] | None = None
            for header in headers:
                end = min(size, header.window)
                self.work += end + 1
                match = header.lead.match(self._buf, 0, end)
                # Of two leads, the one that ends first: it is complete first when
                # the bytes come one at a time, so it must win when they come whole.
                if match is not None and (best is None or match.end() < best[1]):
                    best = header, match.end()
            if best is not None:
                return best
            self.work += size + 1
            if size == window or self._eof or self._buf.find(b"\n", 0, size) >= 0:
                return None
            yield

    def _read_length(
        self, header: PayloadHeader, lead_end: int
    ) -> Generator[None, None, bytes | tuple[PayloadHeader, str, int] | int]:
        """Digits after a header's lead, then its tail; the digits are bounded before use.

        Returns the header and its length, ``b""`` after reporting a bad header as
        garbage, or, when the bytes are no header at all (``+QIRD: 319,319,0``),
        how far the buffer is known to hold no LF, for the line reader.
        """
        max_line = self.dialect.max_line
        pos = lead_end
        while True:  # the digits: scanned once, however they arrive
            run = _DIGITS.match(self._buf, pos, max_line + 1)  # [0-9]*: always a match
            end = run.end() if run is not None else pos
            self.work += end - pos + 1
            pos = end
            if pos > max_line:  # lead and digits fill a whole line: no header, no line
                lead = self._buf[:lead_end].decode("ascii", "replace")
                self._emit(
                    Garbage(
                        bytes(self._buf[:max_line]),
                        f"{lead!r} then more than {max_line - lead_end} digits without LF: "
                        f"its length field has at most {header.max_digits} digits "
                        f"({self.dialect.name} payloads are at most {header.max_length} bytes)",
                    )
                )
                del self._buf[:max_line]
                yield from self._skip_line(f"rest of an over-long {lead!r} line")
                return b""
            if pos < len(self._buf) or self._eof:
                break
            yield
        if pos == lead_end:
            return pos
        while True:  # the tail, within the window after the digits
            size = min(len(self._buf), pos + header.window)
            self.work += 2 * (size - pos) + 1
            tail = header.tail.match(self._buf, pos, size)
            if tail is not None:
                break
            if size - pos == header.window or self._eof or self._buf.find(b"\n", pos, size) >= 0:
                return pos
            yield
        raw = bytes(self._buf[: tail.end()])
        digits = bytes(self._buf[lead_end:pos])
        del self._buf[: tail.end()]
        text = raw.rstrip(_CRLF).decode("ascii", "replace")
        if len(digits) > header.max_digits:
            reason = (
                f"{_brief(text)} has a length field of {len(digits)} digits; "
                f"{self.dialect.name} payloads are at most {header.max_length} bytes "
                f"({header.max_digits} digits)"
            )
        elif (length := int(digits)) > header.max_length:
            # A corrupted count must not swallow the rest of the session.
            reason = (
                f"{text!r} announces {length} bytes; "
                f"{self.dialect.name} payloads are at most {header.max_length}"
            )
        else:
            return header, text, length
        self._emit(Garbage(raw.rstrip(_CRLF), reason))
        if not raw.endswith(b"\n"):  # the bytes after it cannot be trusted up to the line end
            yield from self._skip_line(f"rest of the line of the bad header {_brief(text)}")
        return b""

    def _read_line(self, checked: int) -> Generator[None, None, bytes | None]:
        """A whole line (``b""`` after an over-long one was reported), None at the end."""
        max_line = self.dialect.max_line
        while True:
            limit = min(len(self._buf), max_line + 1)
            end = self._buf.find(b"\n", checked, limit)
            self.work += (end if end >= 0 else limit) - checked + 1
            if end >= 0:
                line = bytes(self._buf[:end])
                del self._buf[: end + 1]
                return line
            checked = limit
            if len(self._buf) > max_line:
                junk = bytes(self._buf[:max_line])
                del self._buf[:max_line]
                self._emit(Garbage(junk, f"line longer than {max_line} bytes without LF"))
                yield from self._skip_line(f"rest of a line longer than {max_line} bytes")
                return b""
            if self._eof:
                junk = bytes(self._buf)
                self._buf.clear()
                self._emit(Garbage(junk, "stream ended before the end of the line"))
                return None
            yield

    def _skip_line(self, reason: str) -> Generator[None, None, None]:
        """Drop the rest of a spoilt line, up to and with its LF.

        Reported as garbage in pieces of at most ``max_line`` bytes, cut at fixed
        places, so memory stays bounded and the events do not depend on the split.
        """
        max_line = self.dialect.max_line
        checked = 0
        while True:
            limit = min(len(self._buf), max_line)
            end = self._buf.find(b"\n", checked, limit)
            self.work += (end if end >= 0 else limit) - checked + 1
            if end >= 0:
                junk = bytes(self._buf[:end]).rstrip(b"\r")
                del self._buf[: end + 1]
                if junk:
                    self._emit(Garbage(junk, reason))
                return
            checked = limit
            if len(self._buf) >= max_line:
                self._emit(Garbage(bytes(self._buf[:max_line]), reason))
                del self._buf[:max_line]
                checked = 0
                continue
            if self._eof:
                if self._buf:
                    self._emit(Garbage(bytes(self._buf), reason))
                    self._buf.clear()
                return
            yield

    def _read_payload(
        self, header: PayloadHeader, text: str, length: int
    ) -> Generator[None, None, bool]:
        """Consume exactly ``length`` raw bytes; False if the stream ended first."""
        while len(self._buf) < length:
            if self._eof:
                got = bytes(self._buf)
                self._buf.clear()
                self._emit(
                    Garbage(
                        got,
                        f"stream ended {len(got)} bytes into the {length}-byte payload of {text!r}",
                    )
                )
                return False
            self.work += 1
            yield
        data = bytes(self._buf[:length])
        del self._buf[:length]
        self._emit(Urc(text, data) if header.unsolicited else Payload(text, data))
        return True

    def _classify_line(self, raw: bytes) -> None:
        # A lone CR also ends a line (an echo is "AT...\r" before "\r\n").
        for part in raw.split(b"\r"):
            if part.strip():
                self._emit(self._classify(part))

    def _classify(self, raw: bytes) -> Event:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return Garbage(raw, "line is not UTF-8 text (wrong baud rate or line noise?)")
        if any((c < " " and c != "\t") or c == "\x7f" for c in text):
            return Garbage(raw, "line holds control bytes")
        text = text.strip()
        if text == "OK":
            return Ok()
        if text == "ERROR":
            return Error("ERROR")
        for kind in ("+CME ERROR", "+CMS ERROR"):
            if text.startswith(kind + ":"):
                return Error(kind, text[len(kind) + 1 :].strip())
        if text in ("SEND OK", "SEND FAIL"):
            return SendResult(text == "SEND OK")
        if text in self.dialect.extra_errors:
            return Error(text)
        if text in self.dialect.extra_oks:
            return Ok(text)
        if text in self.dialect.prompt_lines:
            return Prompt(text)
        if text.startswith(self.dialect.urc_prefixes):
            return Urc(text)
        return Line(text)
