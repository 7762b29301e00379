"""Errors a scenario file can have, each pinned to ``file:line:col``.

A person fixing a scenario reads the message in a terminal or an editor's
problem list, so every error carries the position of the offending YAML node
and says what was expected, never a Python traceback or a pydantic ``loc``.

Validators deep in the model raise :func:`problems_error`: a pydantic error
whose context carries paths *relative to the value being validated*, so the
loader can point below the value (at ``payload.status``, or at an unknown key)
instead of at the value as a whole.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import PydanticCustomError

PROBLEMS = "scenario_problems"
"""The pydantic error type of :func:`problems_error`; the loader expands its context."""

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    """Where something is in a scenario file; line and column count from 1, as editors do."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a scenario file; ``str()`` is the line an editor can jump to."""

    where: Position
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message.translate(_LINE_BREAKS)}"


_LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}
"""What ``str.splitlines`` would split on, escaped: a problem is one line, whatever a YAML
value quoted in its message holds (a tool reading ``file:line:col: message`` lines must not
take the rest of a value for a line of its own)."""


class ScenarioLoadError(Exception):
    """A file could not be loaded; ``problems`` holds every error found, in file order."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Located:
    """A problem found inside a value, ``path`` below it; ``at_key`` points at a mapping key."""

    path: Path
    message: str
    at_key: bool = False


@dataclass
class ProblemList:
    """Collects :class:`Located` problems while a validator walks a value."""

    items: list[Located] = field(default_factory=list)

    def add(self, path: Iterable[str | int], message: str, at_key: bool = False) -> None:
        self.items.append(Located(tuple(path), message, at_key))

    def raise_if_any(self) -> None:
        if self.items:
            raise problems_error(self.items)


def problems_error(items: Sequence[Located]) -> PydanticCustomError:
    """A pydantic error the loader turns into one :class:`Problem` per item.

    Outside the loader (a model built in Python) the message still names each path.
    """
    text = "; ".join(
        f"{'.'.join(str(p) for p in item.path)}: {item.message}" if item.path else item.message
        for item in items
    )
    return PydanticCustomError(PROBLEMS, "{text}", {"text": text, "problems": list(items)})


def problem(
    message: str, path: Iterable[str | int] = (), at_key: bool = False
) -> PydanticCustomError:
    return problems_error([Located(tuple(path), message, at_key)])


def suggest(word: Any, choices: Iterable[str]) -> str:
    """``"; did you mean X?"`` when ``word`` is a near miss of one of ``choices``, else ``""``."""
    if not isinstance(word, str):
        return ""
    options = list(choices)
    by_lower = {c.lower(): c for c in options}
    if word.lower() in by_lower:
        return f"; did you mean {by_lower[word.lower()]}?"
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def brief(value: Any, limit: int = 40) -> str:
    """A value as the author wrote it, shortened: error messages quote what was found."""
    text = repr(value) if isinstance(value, str) else flow(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_PLAIN = re.compile(r"[\w$][\w.:/+@-]*")
_NOT_A_STRING = re.compile(
    r"[0-9][0-9_]*(\.[0-9]*)?([eE][-+]?[0-9]+)?|0x[0-9a-fA-F_]+|0o[0-7_]+|true|false|null",
    re.IGNORECASE,
)
"""Plain words that YAML reads as a number, a boolean or null: a string like them is quoted."""


def flow(value: Any) -> str:
    """YAML flow style on one line: ``{connectorId: 1, status: Charging}``."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{flow(k)}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and (not _PLAIN.fullmatch(value) or _NOT_A_STRING.fullmatch(value)):
        return repr(value)  # "15" stays '15', not the number 15
    return str(value)
