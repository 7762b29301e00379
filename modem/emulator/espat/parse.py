"""ESP-AT command lines (sans-I/O): ``AT``, ``ATE0``, ``AT+NAME[?|=?|=<params>]``.

Why not the shared V.250 parser: ESP-AT escapes ``,`` ``"`` and ``\\`` inside
quoted parameters with a backslash (a URL may hold a comma), has no ``;``
chaining, and refuses lines over 256 bytes.
"""

from __future__ import annotations

import re

from modem.emulator.atparse import Command, Kind, Param

MAX_LINE = 256  # bytes, CR LF included (reference B.1)

_NAME = re.compile(r"\+[A-Z0-9_]+")


def split_params(text: str) -> tuple[Param, ...] | None:
    """``0,"ws://h/a\\,b",,5000`` -> params; ``None`` on a bad quote."""
    params: list[Param] = []
    i, n = 0, len(text)
    while True:
        if i < n and text[i] == '"':
            out: list[str] = []
            i += 1
            while True:
                if i >= n:
                    return None  # unterminated
                c = text[i]
                if c == "\\" and i + 1 < n:
                    out.append(text[i + 1])
                    i += 2
                    continue
                i += 1
                if c == '"':
                    break
                out.append(c)
            if i < n and text[i] != ",":
                return None
            params.append(Param("".join(out), True))
        else:
            end = text.find(",", i)
            end = n if end < 0 else end
            params.append(Param(text[i:end], False))
            i = end
        if i >= n:
            return tuple(params)
        i += 1  # the comma


def parse_line(line: str) -> list[Command] | None:
    """One command per line ended by CR LF (``line`` keeps its CR); ``None`` (answered
    ``ERROR``) for anything else, a bare-LF line included."""
    if not line.endswith("\r"):
        return None
    line = line[:-1]
    if len(line.encode("latin-1")) + 2 > MAX_LINE or line[:2].upper() != "AT":
        return None
    body = line[2:]
    if body == "":
        return [Command("", Kind.EXEC)]
    if body[0] != "+":
        letter, value = body[:1].upper(), body[1:]
        if not letter.isalpha() or not value.isdigit() and value != "":
            return None
        return [Command(letter, Kind.EXEC, value=value)]
    match = _NAME.match(body.upper())
    if match is None:
        return None
    name, rest = match.group(), body[match.end() :]
    if rest == "":
        return [Command(name, Kind.EXEC)]
    if rest == "?":
        return [Command(name, Kind.READ)]
    if rest == "=?":
        return [Command(name, Kind.TEST)]
    if not rest.startswith("="):
        return None
    params = split_params(rest[1:])
    return None if params is None else [Command(name, Kind.WRITE, params=params)]
