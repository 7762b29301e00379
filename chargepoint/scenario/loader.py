"""Reading scenario files: YAML 1.2, validated, every error pinned to ``file:line:col``.

ruamel.yaml's round-trip loader is used for two reasons: it implements YAML
1.2 (``idTag: NO`` stays the string "NO"; PyYAML would make it false) and it
remembers where every key and value was, so each pydantic error can be walked
back through the YAML tree to the line and column an editor jumps to.

A scenario file is input from anyone, so what it may cost is bounded before any of it is
built, and going past a bound is one more ``file:line:col`` problem (see :data:`LIMITS`):
the file's size, how deep lists and mappings nest, how long a scalar or a number is, and
how many nodes the document has once its aliases are expanded (so a few hundred bytes of
"billion laughs" are refused at the alias that would pass the bound, in milliseconds).
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import Composer, ComposerError
from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent, ScalarEvent
from ruamel.yaml.nodes import Node, ScalarNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scalarbool import ScalarBoolean

from .errors import PROBLEMS, Position, Problem, ScenarioLoadError, brief, flow, suggest
from .model import Scenario

MAX_FILE_BYTES = 256 * 1024
"""The largest scenario file: the biggest example is 3 KB, a thousand steps would be about
100 KB.  The YAML library is pure Python, some microseconds a byte: at worst (a file of
comments, or of anchors) 256 KiB takes a couple of seconds, 1 MiB several."""

MAX_NESTING = 64
"""Lists and mappings inside each other, the document itself being level 1.  The deepest
real scenario nests about 10 levels (steps, a step, send, payload, then OCPP's own deepest
payload, SetChargingProfile's csChargingProfiles.chargingSchedule.chargingSchedulePeriod
list of mappings, and a matcher such as ``{$in: [...]}`` on top).  64 leaves six times that,
and stays far below Python's recursion limit: every level costs a few stack frames in the
YAML composer and constructor, in turning the tree into plain values and in validation, and
about 250 levels used to end in RecursionError."""

MAX_SCALAR_CHARS = 64 * 1024
"""The longest string: OCPP 1.6's longest field is CiString500; DataTransfer's free ``data``
is the only one that could be long, and 64 KiB is plenty for a test."""

MAX_NUMBER_DIGITS = 100
"""The longest number, in characters: OCPP's integers are 32-bit and its decimals a few
digits.  Far below the 4,300 digits at which Python refuses to convert a string to an
``int`` (a ValueError that escaped the loader), and cheap to convert and to print."""

MAX_NODES = 20_000
"""Nodes (scalars, lists, mappings) in the document with every alias expanded, as the
scenario is seen once turned into plain values.  The examples have 100 to 300; a scenario of
a thousand steps would have 5,000 to 15,000.  Composing is pure Python (some 50 µs a node),
so this also keeps the densest file (``[1,1,1,...]``) to about a second."""

MAX_EXPANDED_CHARS = 4 * MAX_FILE_BYTES
"""Characters of all scalars with every alias expanded: an alias of a 64 KiB string used
20,000 times is within MAX_NODES but would take gigabytes once copied."""

LIMITS = {
    "file bytes": MAX_FILE_BYTES,
    "nesting": MAX_NESTING,
    "scalar characters": MAX_SCALAR_CHARS,
    "number digits": MAX_NUMBER_DIGITS,
    "nodes": MAX_NODES,
    "expanded characters": MAX_EXPANDED_CHARS,
}
"""Every bound on a scenario file, by name (documentation and tests)."""

_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


class LimitError(ComposerError):
    """A scenario file goes past one of :data:`LIMITS`; reported like any YAML error."""


class _Composer(Composer):
    """ruamel's composer with every bound checked as each event arrives, before the node is
    built: depth on entering a node, a scalar's length before it is kept, and the document as
    aliases expand it (its nodes, characters and depth) on every node and on every alias,
    which adds what it refers to.  Only an anchor's finished node can be referred to, so a
    structure that contains itself is refused too."""

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self.warn_double_anchors = False  # YAML allows an anchor to be defined again
        self._start_document()

    def _start_document(self) -> None:
        self._depth = 0
        """Nesting of the node being composed: the document's node is at 1, what it holds at 2.
        Only lists and mappings must stay within MAX_NESTING (a scalar nests nothing)."""
        self._reach = 0
        """The deepest list or mapping, aliases expanded, since the current node started."""
        self._nodes = 0
        self._chars = 0
        self._expanded: dict[int, tuple[int, int, int]] = {}
        """(nodes, characters, height) of each anchored node once complete, by ``id``."""

    def compose_document(self: Any) -> Any:
        self._start_document()
        return super().compose_document()

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        depth = self._depth + 1
        if isinstance(event, AliasEvent):
            target = self.anchors.get(event.anchor)  # an unknown one: ruamel's own error
            if target is not None:
                self._alias(event, depth, target)
            return super().compose_node(parent, index)
        scalar = isinstance(event, ScalarEvent)
        if depth > MAX_NESTING and not scalar:
            raise _limit(f"lists and mappings nested more than {MAX_NESTING} levels deep", event)
        chars = len(event.value) if scalar else 0
        if chars > MAX_SCALAR_CHARS:
            raise _limit(f"a scalar of {chars} characters (at most {MAX_SCALAR_CHARS})", event)
        nodes_before, chars_before, outer_reach = self._nodes, self._chars, self._reach
        self._grow(1, chars, event)
        self._depth, self._reach = depth, depth - 1 if scalar else depth
        node: Node = super().compose_node(parent, index)
        if isinstance(node, ScalarNode) and str(node.tag) in _NUMBER_TAGS:
            digits = _digits(node.value)
            if digits > MAX_NUMBER_DIGITS:
                raise _limit(f"a number of {digits} digits (at most {MAX_NUMBER_DIGITS})", event)
        if event.anchor is not None:
            height = self._reach - (depth - 1)  # levels of lists and mappings it adds
            self._expanded[id(node)] = (
                self._nodes - nodes_before,
                self._chars - chars_before,
                height,
            )
        self._depth, self._reach = depth - 1, max(outer_reach, self._reach)
        return node

    def _alias(self, event: Any, depth: int, target: Node) -> None:
        expanded = self._expanded.get(id(target))
        if expanded is None:  # its node is still open: the alias is inside what it names
            raise _limit(
                f"the alias *{event.anchor} is inside the node it refers to "
                "(a scenario cannot contain itself)",
                event,
            )
        nodes, chars, height = expanded
        if depth - 1 + height > MAX_NESTING:
            raise _limit(
                f"the alias *{event.anchor} nests lists and mappings more than {MAX_NESTING} "
                "levels deep",
                event,
            )
        self._reach = max(self._reach, depth - 1 + height)
        self._grow(nodes, chars, event, alias=True)

    def _grow(self, nodes: int, chars: int, event: Any, alias: bool = False) -> None:
        self._nodes += nodes
        self._chars += chars
        if self._nodes > MAX_NODES:
            past = f"more than {MAX_NODES} nodes"
        elif self._chars > MAX_EXPANDED_CHARS:
            past = f"more than {MAX_EXPANDED_CHARS} characters of scalars"
        else:
            return
        if alias:
            raise _limit(
                f"the alias *{event.anchor} expands the document to {past} "
                "(aliases of aliases grow exponentially)",
                event,
            )
        raise _limit(f"the document has {past}", event)


def _digits(number: str) -> int:
    """How many digits a number has, as written (sign, base prefix, point, exponent aside)."""
    body = re.sub(r"^[-+]?0[xX]", "", number)
    return (
        sum(c in string.hexdigits for c in body)
        if body != number
        else sum(c.isdigit() for c in number)
    )


def _limit(message: str, event: Any) -> LimitError:
    return LimitError(None, None, message, event.start_mark)


class _Constructor(RoundTripConstructor):
    """Timestamps stay strings: OCPP carries them as strings, and 1.2's core schema has none.

    A node the library cannot make a value of (``!!int abc``, ``!!float`` on nothing, a key
    that cannot be a key) is a problem at that node, not a Python exception: ruamel's
    constructors assume the text fits the tag and fail with ValueError, IndexError...
    """

    def construct_non_recursive_object(self, node: Any, tag: str | None = None) -> Any:
        pending = len(self.state_generators)
        try:
            data = super().construct_non_recursive_object(node, tag)
        except YAMLError:
            raise
        except Exception as exc:
            raise _unconstructable(node, tag, exc) from None
        # a mapping or a list is filled in later, by a generator: guard that part too
        self.state_generators[pending:] = [
            _guarded(g, node, tag) for g in self.state_generators[pending:]
        ]
        return data


def _guarded(generator: Any, node: Node, tag: str | None) -> Any:
    try:
        yield from generator
    except YAMLError:
        raise
    except Exception as exc:
        raise _unconstructable(node, tag, exc) from None


def _unconstructable(node: Node, tag: str | None, exc: Exception) -> ConstructorError:
    kind = str(node.tag if tag is None else tag).replace("tag:yaml.org,2002:", "!!")
    return ConstructorError(
        None, None, f"cannot read this as {kind}: {str(exc) or type(exc).__name__}", node.start_mark
    )


_Constructor.add_constructor("tag:yaml.org,2002:timestamp", _Constructor.construct_yaml_str)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.Constructor = _Constructor
    yaml.Composer = _Composer
    yaml.allow_duplicate_keys = False
    return yaml


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Load and check one file; raise :class:`ScenarioLoadError` listing every problem."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)  # no more, whatever the file (or device) is
        if len(data) > MAX_FILE_BYTES:
            raise ScenarioLoadError([_too_big(name)])
        text = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")  # as read_text
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ScenarioLoadError([Problem(Position(name, 1, 1), f"cannot read: {reason}")]) from None
    return parse_scenario(text, name)


def parse_scenario(text: str, file: str = "<string>") -> Scenario:
    if len(text) > MAX_FILE_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise ScenarioLoadError([_too_big(file)])
    try:
        tree = _yaml().load(text)
    except MarkedYAMLError as exc:
        raise ScenarioLoadError([_yaml_problem(exc, file)]) from None
    except ReaderError as exc:
        raise ScenarioLoadError([_reader_problem(exc, text, file)]) from None
    except YAMLError as exc:
        raise ScenarioLoadError([Problem(Position(file, 1, 1), _one_line(str(exc)))]) from None
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


def _too_big(file: str) -> Problem:
    return Problem(
        Position(file, 1, 1),
        f"the file is larger than {MAX_FILE_BYTES} bytes, the most a scenario file may have",
    )


def _yaml_problem(exc: MarkedYAMLError, file: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    message = exc.problem or exc.context or "invalid YAML"
    if exc.context and exc.problem and exc.context_mark is not None:
        message += (
            f" ({exc.context}, which starts at line {exc.context_mark.line + 1}, "
            f"column {exc.context_mark.column + 1})"
        )
    line, col = (mark.line, mark.column) if mark is not None else (0, 0)
    return Problem(Position(file, line + 1, col + 1), _one_line(message))


def _reader_problem(exc: ReaderError, text: str, file: str) -> Problem:
    """A character YAML does not allow (a control character, a lone surrogate), where it is."""
    character = exc.character
    code = ord(character) if isinstance(character, str | bytes) else int(character)
    lines = re.split(r"\r\n|\r|\n", text[: exc.position])  # YAML 1.2's line breaks
    col = len(lines[-1]) - lines[-1].count("\ufeff")  # as ruamel counts columns
    return Problem(
        Position(file, len(lines), col + 1), f"character U+{code:04X} is not allowed in YAML"
    )


def _one_line(message: str) -> str:
    """A problem is one line of output: the YAML library's messages may hold line breaks."""
    return " ".join(message.split())


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
        name = flow(part)  # a key that is not a plain word is quoted, as YAML would
        text += f"[{part}]" if isinstance(part, int) else (f".{name}" if text else name)
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
