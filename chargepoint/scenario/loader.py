"""Reading scenario files: YAML 1.2, validated, every error pinned to ``file:line:col``.

ruamel.yaml's round-trip loader is used for two reasons: it implements YAML
1.2 (``idTag: NO`` stays the string "NO"; PyYAML would make it false) and it
remembers where every key and value was, so each pydantic error can be walked
back through the YAML tree to the line and column an editor jumps to.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarbool import ScalarBoolean

from .errors import PROBLEMS, Position, Problem, ScenarioLoadError, brief, suggest
from .model import Scenario


class _Constructor(RoundTripConstructor):
    """Timestamps stay strings: OCPP carries them as strings, and 1.2's core schema has none."""


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_str)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    yaml.allow_duplicate_keys = False
    return yaml


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Load and check one file; raise :class:`ScenarioLoadError` listing every problem."""
    name = os.fspath(path)
    try:
        text = Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ScenarioLoadError([Problem(Position(name, 1, 1), f"cannot read: {reason}")]) from None
    return parse_scenario(text, name)


def parse_scenario(text: str, file: str = "<string>") -> Scenario:
    try:
        tree = _yaml().load(text)
    except MarkedYAMLError as exc:
        raise ScenarioLoadError([_yaml_problem(exc, file)]) from None
    except YAMLError as exc:
        raise ScenarioLoadError([Problem(Position(file, 1, 1), str(exc))]) from None
    if not isinstance(tree, CommentedMap):
        what = "the file is empty" if tree is None else f"got {brief(_plain(tree))}"
        raise ScenarioLoadError(
            [
                Problem(
                    Position(file, 1, 1),
                    f"expected a scenario: a mapping with charger, link, csms and steps; {what}",
                )
            ]
        )
    try:
        scenario = Scenario.model_validate(_plain(tree))
    except ValidationError as exc:
        raise ScenarioLoadError(_problems(exc.errors(), tree, file)) from None
    scenario._file = file
    for i, step in enumerate(scenario.steps):
        line, col = tree["steps"].lc.item(i)
        step._where = Position(file, line + 1, col + 1)
    return scenario


def scenario_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The files named, with each directory replaced by the ``*.yaml``/``*.yml`` below it."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
        else:
            found.append(path)
    return found


def load_files(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Scenario], list[Problem]]:
    """Every file that loads, and every problem in those that do not (directories searched)."""
    scenarios: list[Scenario] = []
    found: list[Problem] = []
    for path in scenario_files(paths):
        try:
            scenarios.append(load_scenario(path))
        except ScenarioLoadError as exc:
            found += exc.problems
    return scenarios, found


def check_files(paths: Iterable[str | os.PathLike[str]]) -> list[Problem]:
    """Every problem in every file (directories searched), for ``cpsim scenario validate``."""
    return load_files(paths)[1]


def _yaml_problem(exc: MarkedYAMLError, file: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    message = exc.problem or exc.context or "invalid YAML"
    if exc.context and exc.problem and exc.context_mark is not None:
        message += (
            f" ({exc.context}, which starts at line {exc.context_mark.line + 1}, "
            f"column {exc.context_mark.column + 1})"
        )
    line, col = (mark.line, mark.column) if mark is not None else (0, 0)
    return Problem(Position(file, line + 1, col + 1), message)


def _plain(node: Any) -> Any:
    """ruamel's round-trip types (CommentedMap, ScalarFloat, quoted strings) as plain Python,
    so payloads go on the wire as the JSON they look like."""
    if isinstance(node, dict):
        return {_plain(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, ScalarBoolean):  # an int subclass, used for an anchored true/false
        return bool(node)
    for kind in (bool, int, float, str):
        if isinstance(node, kind):
            return kind(node)
    return node


# --- pydantic errors -> file:line:col ------------------------------------------------------


def _problems(errors: Sequence[ErrorDetails], tree: Any, file: str) -> list[Problem]:
    found: dict[tuple[int, int, str], Problem] = {}
    for error in errors:
        if error["type"] == PROBLEMS:
            parts = [
                ((*error["loc"], *p.path), p.message, p.at_key)
                for p in error.get("ctx", {})["problems"]
            ]
        else:
            parts = [(tuple(error["loc"]), _message(error), error["type"] == "extra_forbidden")]
        for loc, message, at_key in parts:
            (line, col), shown = _locate(tree, loc, at_key)
            text = f"{_path_text(shown)}: {message}" if shown else message
            found[(line, col, text)] = Problem(Position(file, line + 1, col + 1), text)
    return [found[k] for k in sorted(found)]


def _locate(tree: Any, loc: Sequence[Any], at_key: bool) -> tuple[tuple[int, int], list[Any]]:
    """Follow ``loc`` through the YAML tree; parts that name no node (union tags, a key that
    is missing, a field inside a shorthand scalar) are skipped, leaving the nearest node."""
    node, pos, shown = tree, (tree.lc.line, tree.lc.col), []
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, CommentedMap) and _has_key(node, part):
            key_pos, value_pos = node.lc.key(part), node.lc.value(part)
            node = node[part]
            pointing_at_key = (last and at_key) or node is None or isinstance(node, dict | list)
            pos = key_pos if pointing_at_key else value_pos
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            pos, node = node.lc.item(part), node[part]
        else:
            continue
        shown.append(part)
    return pos, shown


def _has_key(node: CommentedMap, key: Any) -> bool:
    try:
        return key in node and key in node.lc.data  # keys merged in with << have no position
    except TypeError:
        return False


def _path_text(parts: Sequence[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


_EXPECTED = {
    "model_": "expected a mapping",
    "dict_": "expected a mapping",
    "list_": "expected a list",
    "int_": "expected an integer",
    "float_": "expected a number",
    "bool_": "expected true or false",
    "string_type": "expected a string",
}
"""Pydantic error types (by prefix) and how to say what was expected."""


def _message(error: ErrorDetails) -> str:
    """What was expected, in the words of the YAML author rather than pydantic's."""
    kind, found = error["type"], error.get("input")
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    got = f", got {brief(found)}"
    if kind == "missing":
        return f"missing required key {error['loc'][-1]!r}"
    if kind == "union_tag_invalid":
        tags = re.findall(r"'([^']*)'", str(ctx.get("expected_tags", "")))
        return (
            f"unknown {ctx.get('discriminator', 'kind').strip(chr(39))} {brief(ctx['tag'])}"
            f"{suggest(ctx['tag'], tags)} (expected one of {', '.join(tags)})"
        )
    if kind == "union_tag_not_found":
        return f"missing required key {str(ctx.get('discriminator', '')).strip(chr(39))!r}"
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return f"expected {ctx.get('expected')}{got}{suggest(found, choices)}"
    for prefix, expected in _EXPECTED.items():
        if kind.startswith(prefix):
            return expected + got
    message = re.sub(r"^Value error, ", "", error["msg"])
    message = re.sub(r"^Input should be (a valid )?", "expected ", message)
    return message + got if message.startswith("expected ") else message
