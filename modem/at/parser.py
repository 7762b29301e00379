"""Sans-I/O AT response parser: bytes in, :mod:`modem.at.events` out.

It is a generator that suspends whenever it needs more bytes (the style of
websockets' ``StreamReader``), so output split at any byte boundary -- a serial
port returns whatever has arrived -- parses exactly like output received whole.

Why not a line reader: the ``>`` prompt has no line ending, and payloads such
as ``+QIRD: n`` carry raw bytes that may contain CR LF, ``OK`` or ``+QIURC``.
Those must be consumed by count, never scanned for lines.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator

from .dialect import GENERIC, Dialect, PayloadHeader
from .events import Error, Event, Garbage, Line, Ok, Payload, Prompt, SendResult, Urc

_CRLF = b"\r\n"
_PROMPT = ord(">")


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
        """Wait until the buffer starts with a payload header or a whole line."""
        max_line = self.dialect.max_line
        while True:
            for header in self.dialect.payload_headers:
                match = header.pattern.match(self._buf)
                if match is not None:
                    # Take the groups before the del: the match views the buffer.
                    text = match.group(0).rstrip(_CRLF).decode("ascii", "replace")
                    length = int(match["len"])
                    del self._buf[: match.end()]
                    return header, text, length
            end = self._buf.find(b"\n")
            if 0 <= end <= max_line:
                line = bytes(self._buf[:end])
                del self._buf[: end + 1]
                return line
            if len(self._buf) > max_line:
                junk = bytes(self._buf[:max_line])
                del self._buf[:max_line]
                self._emit(Garbage(junk, f"line longer than {max_line} bytes without LF"))
                return b""
            if self._eof:
                junk = bytes(self._buf)
                self._buf.clear()
                self._emit(Garbage(junk, "stream ended before the end of the line"))
                return None
            yield

    def _read_payload(
        self, header: PayloadHeader, text: str, length: int
    ) -> Generator[None, None, bool]:
        """Consume exactly ``length`` raw bytes; False if the stream ended first."""
        if length > header.max_length:
            # A corrupted count must not swallow the rest of the session.
            self._emit(
                Garbage(
                    text.encode(),
                    f"{text!r} announces {length} bytes; "
                    f"{self.dialect.name} payloads are at most {header.max_length}",
                )
            )
            return True
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
        if text.startswith(self.dialect.urc_prefixes):
            return Urc(text)
        return Line(text)
