"""The scenario loader never raises anything but :class:`ScenarioLoadError`, whatever the text:
arbitrary text and bytes, YAML-shaped noise, and the example scenarios cut, spliced and
salted with YAML's sharp edges (anchors, aliases, tags, merge keys, deep brackets, huge
numbers).  Every problem it reports is one ``s.yaml:line:col: message`` line.

The number of examples comes from the ``fuzz`` profile (tests/fuzz/conftest.py: 200 in CI);
:func:`check_text` and :data:`scenario_texts` are what a longer run needs.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from chargepoint.scenario import (
    Scenario,
    ScenarioLoadError,
    load_scenario,
    loader,
    parse_scenario,
)

try:
    FUZZ = settings.get_profile("fuzz")
except InvalidArgument:  # run without tests/fuzz/conftest.py
    FUZZ = settings(max_examples=200, deadline=None, database=None)

SCENARIOS = sorted((Path(__file__).parents[2] / "scenarios").glob("*.yaml"))
TEXTS = [p.read_text(encoding="utf-8") for p in SCENARIOS]
LINE = re.compile(r"s\.yaml:[1-9][0-9]*:[1-9][0-9]*: \S[^\n]*")

SHARP = [
    "&a ",
    "&b ",
    "*a",
    "*b",
    "<<: *a\n",
    "[",
    "]",
    "{",
    "}",
    "[*a, *a, *a, *a]",
    ", ",
    "- ",
    ": ",
    "? ",
    "\t",
    "'",
    '"',
    "#",
    "|\n",
    ">-\n",
    "!!int ",
    "!!float ",
    "!!str ",
    "!!binary ",
    "!!set ",
    "!!omap ",
    "!!timestamp ",
    "!foo ",
    "%YAML 1.1\n",
    "%TAG ! tag:x,2000:\n",
    "---\n",
    "...\n",
    "\n",
    "  ",
    "~",
    "null",
    ".inf",
    ".nan",
    "0x1F",
    "0o17",
    "1e400",
    "1_000",
    "-0",
    "2001-12-14t21:59:43.10-05:00",
    "1:20",
    "\\",
    "\x85",
    "\ufeff",
    "\x00",
    "\ud7ff",
    "\ud800",
    "9" * 120,
    "9" * 4301,
    "[" * 70,
    "{a: " * 70,
    "$in",
    "$regex",
    "(",
]
"""Pieces of YAML that have broken loaders before, spliced into valid files."""


def check_text(text: str) -> None:
    """The property: a :class:`Scenario`, or a load error of one-line positioned problems."""
    try:
        loaded = parse_scenario(text, "s.yaml")
    except ScenarioLoadError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert LINE.fullmatch(str(problem)), str(problem)
    else:
        assert isinstance(loaded, Scenario)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """An example scenario with a few cuts, duplications and sharp pieces spliced in."""
    text = draw(st.sampled_from(TEXTS))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(text)))
        end = draw(st.integers(at, min(len(text), at + 40)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "duplicate", "text"]))
        if kind == "insert":
            text = text[:at] + draw(st.sampled_from(SHARP)) + text[at:]
        elif kind == "delete":
            text = text[:at] + text[end:]
        elif kind == "replace":
            text = text[:at] + draw(st.sampled_from(SHARP)) + text[end:]
        elif kind == "duplicate":
            text = text[:end] + text[at:end] + text[end:]
        else:
            text = text[:at] + draw(st.text(max_size=8)) + text[end:]
    return text


YAMLISH = st.lists(
    st.sampled_from([*SHARP, "a", "b", "1", "steps", "wait", "send", "Heartbeat", "x: 1\n"]),
    max_size=40,
).map("".join)


@pytest.mark.timeout(300)
@FUZZ
@given(st.text(max_size=2000))
def test_arbitrary_text_is_loaded_or_refused_with_positions(text: str) -> None:
    check_text(text)


@pytest.mark.timeout(300)
@FUZZ
@given(YAMLISH)
def test_yaml_shaped_noise_is_loaded_or_refused_with_positions(text: str) -> None:
    check_text(text)


@pytest.mark.timeout(300)
@FUZZ
@given(mutated())
def test_mutated_scenarios_are_loaded_or_refused_with_positions(text: str) -> None:
    check_text(text)


scenario_texts = st.one_of(st.text(max_size=2000), YAMLISH, mutated())
"""Every kind of text the properties here try, for a run of many examples."""


@pytest.mark.timeout(300)
@FUZZ
@given(st.one_of(st.binary(max_size=2000), mutated().map(lambda t: t.encode("utf-8", "replace"))))
def test_files_of_any_bytes_are_loaded_or_refused_with_positions(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "s.yaml"
        path.write_bytes(data)
        try:
            load_scenario(path)
        except ScenarioLoadError as exc:
            for problem in exc.problems:
                assert str(problem).startswith(f"{path}:"), str(problem)
                assert LINE.fullmatch("s.yaml" + str(problem)[len(str(path)) :]), str(problem)


@st.composite
def anchored(draw: st.DrawFn) -> str:
    """A flow-style document of lists, mappings and scalars, with anchors on some nodes and
    aliases to anchors already complete (so it is finite, however much it expands)."""
    complete: list[str] = []

    def node(level: int) -> str:
        kinds = ["scalar"] + (["list", "map"] if level < 6 else []) + ["alias"] * bool(complete)
        kind = draw(st.sampled_from(kinds))
        if kind == "alias":
            return "*" + draw(st.sampled_from(complete))
        anchor = f"a{len(complete)}_{level}" if draw(st.booleans()) else None
        if kind == "scalar":
            text = draw(st.sampled_from(["x", "12", "yes", "'q q'", "''"]))
        elif kind == "list":
            text = "[" + ", ".join(node(level + 1) for _ in range(draw(st.integers(0, 4)))) + "]"
        else:
            size = draw(st.integers(0, 4))
            text = "{" + ", ".join(f"k{i}: {node(level + 1)}" for i in range(size)) + "}"
        if anchor is None:
            return text
        complete.append(anchor)
        return f"&{anchor} {text}"

    return node(0)


def expanded(value: Any, level: int = 0) -> tuple[int, int, int]:
    """Nodes, scalar characters and depth of lists and mappings of a plain value."""
    if isinstance(value, dict):
        parts = [(1 + n, len(k) + c, d) for k, v in value.items() for n, c, d in [expanded(v)]]
    elif isinstance(value, list):
        parts = [expanded(v) for v in value]
    else:
        return 1, len(str(value)), 0
    return (
        1 + sum(n for n, _, _ in parts),
        sum(c for _, c, _ in parts),
        1 + max((d for _, _, d in parts), default=0),
    )


@pytest.mark.timeout(300)
@FUZZ
@given(anchored())
def test_the_bounds_count_exactly_what_aliases_expand_to(text: str) -> None:
    """With small bounds, a document is refused exactly when its expansion passes one, so
    the bounds hold for the tree as it is used, not for the text as it is written."""
    nodes, chars, depth = expanded(loader._plain(loader._yaml().load(text)))
    with patch.multiple(loader, MAX_NODES=60, MAX_EXPANDED_CHARS=40, MAX_NESTING=4):
        try:
            loader._yaml().load(text)
        except loader.LimitError:
            refused = True
        else:
            refused = False
    assert refused == (nodes > 60 or chars > 40 or depth > 4), (nodes, chars, depth)


def test_the_examples_load() -> None:
    """The mutations start from files that load: what fails is the mutation."""
    for text in TEXTS:
        check_text(text)
        parse_scenario(text, "s.yaml")
