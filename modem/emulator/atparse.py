"""Split one AT command line into commands and parameters (sans-I/O).

A modem parses the whole line before executing any of it, and a syntax error
anywhere rejects the line with a plain ``ERROR``: that is why parsing is a pure
function that returns ``None`` instead of a partial list.  V.250 rules kept:
basic commands may be chained without separator (``ATE0V1``), extended ones are
separated by ``;`` (Quectel also accepts a repeated ``AT`` after the ``;``),
names are case-insensitive, quoted strings keep their case and may contain
``;`` and ``,``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Kind(enum.Enum):
    EXEC = "exec"  # AT+CMD / ATE0
    READ = "read"  # AT+CMD?
    TEST = "test"  # AT+CMD=?
    WRITE = "write"  # AT+CMD=<params>


class ParamError(ValueError):
    """A parameter is missing, out of range or of the wrong type."""


@dataclass(frozen=True)
class Param:
    text: str
    quoted: bool

    @property
    def empty(self) -> bool:
        return not self.quoted and self.text == ""


@dataclass(frozen=True)
class Command:
    """One command of a line.  ``name`` is upper-case: ``+QIOPEN``, ``E``, ``&F``, ``S3``, ``I``.

    For basic commands ``value`` holds the digits after the letter (``"0"`` for
    ``E0``); for extended WRITE commands ``params`` holds the parsed arguments.
    """

    name: str
    kind: Kind
    value: str = ""
    params: tuple[Param, ...] = field(default_factory=tuple)

    def int_param(self, index: int, lo: int, hi: int, default: int | None = None) -> int:
        """The integer parameter at ``index`` (0-based), checked against ``lo..hi``."""
        if index >= len(self.params) or self.params[index].empty:
            if default is None:
                raise ParamError(f"{self.name}: parameter {index + 1} missing")
            return default
        p = self.params[index]
        if p.quoted or not p.text.lstrip("-").isdigit():
            raise ParamError(f"{self.name}: parameter {index + 1} is not an integer")
        value = int(p.text)
        if not lo <= value <= hi:
            raise ParamError(f"{self.name}: parameter {index + 1} out of range {lo}..{hi}")
        return value

    def str_param(self, index: int, default: str | None = None, *, quoted: bool = True) -> str:
        """The string parameter at ``index``; Quectel requires quotes around strings."""
        if index >= len(self.params) or self.params[index].empty:
            if default is None:
                raise ParamError(f"{self.name}: parameter {index + 1} missing")
            return default
        p = self.params[index]
        if quoted and not p.quoted:
            raise ParamError(f"{self.name}: parameter {index + 1} must be quoted")
        return p.text

    def has(self, index: int) -> bool:
        return index < len(self.params) and not self.params[index].empty


def split_params(text: str) -> tuple[Param, ...] | None:
    """Parse ``1,"a,b", 2`` into parameters; ``None`` on an unterminated quote.

    Spaces around parameters are tolerated (the EC200U log in the spec contains
    ``"", ""``), spaces inside quotes are kept.
    """
    params: list[Param] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] == " ":
            i += 1
        if i < n and text[i] == '"':
            end = text.find('"', i + 1)
            if end < 0:
                return None
            value, quoted = text[i + 1 : end], True
            i = end + 1
            while i < n and text[i] == " ":
                i += 1
            if i < n and text[i] != ",":
                return None
        else:
            end = text.find(",", i)
            end = n if end < 0 else end
            value, quoted = text[i:end].strip(), False
            i = end
        params.append(Param(value, quoted))
        if i >= n:
            return tuple(params)
        i += 1  # skip the comma


def _extended_end(body: str, start: int) -> int:
    """Index of the ``;`` ending the extended command at ``start`` (quotes respected)."""
    in_quote = False
    for i in range(start, len(body)):
        c = body[i]
        if c == '"':
            in_quote = not in_quote
        elif c == ";" and not in_quote:
            return i
    return len(body)


def _parse_extended(text: str) -> Command | None:
    name_end = len(text)
    for i, c in enumerate(text):
        if c in "=?":
            name_end = i
            break
    name = text[:name_end].upper()
    if len(name) < 2 or not all(c.isalnum() or c in "+&_" for c in name[1:]):
        return None
    rest = text[name_end:]
    if rest == "":
        return Command(name, Kind.EXEC)
    if rest == "?":
        return Command(name, Kind.READ)
    if rest == "=?":
        return Command(name, Kind.TEST)
    if rest.startswith("="):
        params = split_params(rest[1:])
        return None if params is None else Command(name, Kind.WRITE, params=params)
    return None


def _parse_basic(body: str, i: int) -> tuple[Command, int] | None:
    """One basic command (``E0``, ``&F``, ``S3=13``, ``S3?``, ``I``) at ``body[i]``."""
    prefix = ""
    if body[i] == "&":
        prefix, i = "&", i + 1
        if i >= len(body):
            return None
    letter = body[i].upper()
    if not letter.isalpha():
        return None
    i += 1
    if letter == "S" and not prefix:
        j = i
        while j < len(body) and body[j].isdigit():
            j += 1
        if j == i:
            return None
        reg = "S" + body[i:j]
        if body[j : j + 2] == "=?":
            return Command(reg, Kind.TEST), j + 2
        if body[j : j + 1] == "?":
            return Command(reg, Kind.READ), j + 1
        if body[j : j + 1] == "=":
            k = j + 1
            while k < len(body) and body[k].isdigit():
                k += 1
            return Command(reg, Kind.WRITE, value=body[j + 1 : k]), k
        return None
    j = i
    while j < len(body) and body[j].isdigit():
        j += 1
    return Command(prefix + letter, Kind.EXEC, value=body[i:j]), j


def parse_line(line: str) -> list[Command] | None:
    """Parse a command line (without its CR).  ``None`` means "answer ERROR".

    ``AT`` alone gives ``[Command("", EXEC)]``.  Leading spaces are ignored; any
    other junk before ``AT`` (e.g. a stray Ctrl+Z left over from a QISEND) makes
    the whole line invalid, which is how such driver bugs become visible.
    """
    text = line.strip(" ")
    if text[:2].upper() != "AT":
        return None
    body = text[2:]
    if body == "":
        return [Command("", Kind.EXEC)]
    commands: list[Command] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "+":
            end = _extended_end(body, i)
            cmd = _parse_extended(body[i:end].rstrip(" "))
            if cmd is None:
                return None
            commands.append(cmd)
            i = end
            if i < len(body):  # skip ';' (a trailing one is harmless) and a repeated "AT"
                i += 1
                while i < len(body) and body[i] == " ":
                    i += 1
                if body[i : i + 2].upper() == "AT":
                    i += 2
        elif c == " " or c == ";":
            i += 1
        else:
            parsed = _parse_basic(body, i)
            if parsed is None:
                return None
            cmd, i = parsed
            commands.append(cmd)
    return commands
