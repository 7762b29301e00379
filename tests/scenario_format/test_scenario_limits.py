"""A scenario file costs bounded work whatever it holds: its size, nesting, scalars, numbers
and alias expansion are checked while it is composed, and going past a bound is one
``file:line:col`` line like any other mistake, never a traceback, a hang or gigabytes.

Work is bounded by ``pytest-timeout`` (generous: each case takes milliseconds) and, for the
alias bomb, by the expansion never being started at all.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from chargepoint.cli.scenario import scenario
from chargepoint.scenario import ScenarioLoadError, load_scenario, loader, parse_scenario

pytestmark = pytest.mark.timeout(20)

STEPS = "steps: [wait: 1]\n"


def problems(text: str) -> list[str]:
    with pytest.raises(ScenarioLoadError) as caught:
        parse_scenario(text, "s.yaml")
    return [str(p) for p in caught.value.problems]


def billion_laughs() -> str:
    """The classic: ten aliases of ten aliases, nine levels down, 10**9 strings."""
    lines = ['a: &a "lol"', "b: &b [" + ",".join(["*a"] * 10) + "]"]
    names = "bcdefghij"
    for prev, name in zip(names, names[1:], strict=False):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 10) + "]")
    return "\n".join(lines) + "\n" + STEPS


@pytest.fixture
def no_expansion(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if the loader gets as far as turning the YAML tree into values."""

    def expanded(node: object) -> object:
        raise AssertionError("the tree was expanded into values")

    monkeypatch.setattr(loader, "_plain", expanded)


def test_the_limits() -> None:
    assert loader.LIMITS == {
        "file bytes": 256 * 1024,
        "nesting": 64,
        "scalar characters": 64 * 1024,
        "number digits": 100,
        "nodes": 20_000,
        "expanded characters": 1024 * 1024,
    }


# --- the cases of the issue ----------------------------------------------------------------


def test_250_levels_of_brackets_are_refused_at_the_65th() -> None:
    """Used to end in RecursionError; the document's mapping is level 1, the 64th `[` 65."""
    assert problems("steps: " + "[" * 250 + "]" * 250 + "\n") == [
        "s.yaml:1:71: lists and mappings nested more than 64 levels deep"
    ]


def test_deep_block_nesting_is_refused_too() -> None:
    text = "steps:\n" + "".join("  " * i + "- \n" for i in range(100))
    assert problems(text) == ["s.yaml:65:127: lists and mappings nested more than 64 levels deep"]


def test_a_4301_digit_integer_is_refused() -> None:
    """Used to raise ValueError from int() inside the YAML library."""
    assert problems("charger: {connectors: " + "1" * 4301 + "}\n" + STEPS) == [
        "s.yaml:1:23: a number of 4301 digits (at most 100)"
    ]


def test_the_billion_laughs_are_refused_at_the_alias_in_milliseconds(no_expansion: None) -> None:
    """Used to run for minutes; now refused while composing, nothing expanded."""
    text = billion_laughs()
    assert len(text.encode()) < 500
    assert problems(text) == [
        "s.yaml:6:8: the alias *e expands the document to more than 20000 nodes "
        "(aliases of aliases grow exponentially)"
    ]


# --- every other bound ---------------------------------------------------------------------


def test_at_the_bounds_is_fine() -> None:
    """A bound is a limit, not a trap: at it, the scenario's own checks speak."""

    def payload(levels: int) -> str:  # the document, steps, a step, send: 4 levels above
        nested = "[" * levels + "1" + "]" * levels
        return f"steps:\n  - send: {{action: DataTransfer, payload: {nested}}}\n"

    assert problems(payload(60)) == [
        "s.yaml:2:34: steps[0].send.payload: expected a mapping of payload fields, "
        "got [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[..."
    ]
    assert problems(payload(61)) == [
        "s.yaml:2:103: lists and mappings nested more than 64 levels deep"
    ]
    assert problems("charger: {connectors: " + "1" * 100 + "}\n" + STEPS) == [
        "s.yaml:1:23: charger.connectors: expected less than or equal to 99, "
        "got 1111111111111111111111111111111111111..."
    ]
    long = "x" * loader.MAX_SCALAR_CHARS
    parse_scenario(f"name: {long}\n{STEPS}")


def test_other_numbers_count_digits_as_written() -> None:
    assert problems("charger: {connectors: 0x" + "f" * 101 + "}\n" + STEPS) == [
        "s.yaml:1:23: a number of 101 digits (at most 100)"
    ]
    assert problems("charger: {connectors: -1." + "5" * 100 + "}\n" + STEPS) == [
        "s.yaml:1:23: a number of 101 digits (at most 100)"
    ]
    assert problems("charger: {connectors: !!int '" + "7" * 5000 + "'}\n" + STEPS) == [
        "s.yaml:1:23: a number of 5000 digits (at most 100)"
    ]


def test_a_long_scalar_is_refused_where_it_starts() -> None:
    text = "name: '" + "x" * (loader.MAX_SCALAR_CHARS + 1) + "'\n" + STEPS
    assert problems(text) == ["s.yaml:1:7: a scalar of 65537 characters (at most 65536)"]


def test_an_alias_that_nests_too_deep_is_refused_at_the_alias(no_expansion: None) -> None:
    text = "a: &deep " + "[" * 60 + "]" * 60 + "\nb: [[[[[*deep]]]]]\n" + STEPS
    assert problems(text) == [
        "s.yaml:2:9: the alias *deep nests lists and mappings more than 64 levels deep"
    ]


def test_a_chain_of_aliases_cannot_nest_without_bound(no_expansion: None) -> None:
    chain = ["a0: &a0 [[[[[[[[[[1]]]]]]]]]]"]
    chain += [f"a{i}: &a{i} [[[[[[[[[[*a{i - 1}]]]]]]]]]]" for i in range(1, 10)]
    assert problems("\n".join(chain) + "\n" + STEPS) == [
        "s.yaml:7:19: the alias *a5 nests lists and mappings more than 64 levels deep"
    ]


def test_an_alias_inside_its_own_node_is_refused(no_expansion: None) -> None:
    """YAML can describe a list that contains itself; a scenario cannot be infinite."""
    assert problems("steps: &a [wait: 1, *a]\n") == [
        "s.yaml:1:21: the alias *a is inside the node it refers to "
        "(a scenario cannot contain itself)"
    ]
    assert problems("charger: &c {id: *c}\n" + STEPS) == [
        "s.yaml:1:18: the alias *c is inside the node it refers to "
        "(a scenario cannot contain itself)"
    ]


def test_aliases_of_a_long_string_are_bounded_by_characters(no_expansion: None) -> None:
    text = "s: &s '" + "x" * 60_000 + "'\nt: [" + ", ".join(["*s"] * 100) + "]\n" + STEPS
    assert problems(text) == [
        "s.yaml:2:69: the alias *s expands the document to more than 1048576 characters "
        "of scalars (aliases of aliases grow exponentially)"
    ]


def test_too_many_nodes_without_aliases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_NODES", 100)
    text = "name: x\nsteps:\n" + "".join(f"  - wait: {i}\n" for i in range(60))
    assert problems(text) == ["s.yaml:34:11: the document has more than 100 nodes"]


def test_merge_keys_count_as_aliases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loader, "MAX_NODES", 100)
    text = "x: &x {" + ", ".join(f"k{i}: {i}" for i in range(30)) + "}\n"
    text += "".join(f"y{i}: {{<<: *x}}\n" for i in range(3))
    assert problems(text + STEPS) == [
        "s.yaml:2:10: the alias *x expands the document to more than 100 nodes "
        "(aliases of aliases grow exponentially)"
    ]


def test_a_file_over_256_kib_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * loader.MAX_FILE_BYTES + b"\n")
    with pytest.raises(ScenarioLoadError) as caught:
        load_scenario(path)
    assert str(caught.value) == (
        f"{path}:1:1: the file is larger than 262144 bytes, the most a scenario file may have"
    )
    assert problems("#" * loader.MAX_FILE_BYTES + "\n") == [
        "s.yaml:1:1: the file is larger than 262144 bytes, the most a scenario file may have"
    ]
    assert problems("# \u00e9\n" * (loader.MAX_FILE_BYTES // 4)) == [  # 5 bytes, 4 characters
        "s.yaml:1:1: the file is larger than 262144 bytes, the most a scenario file may have"
    ]


def test_a_character_yaml_forbids_is_pinned() -> None:
    assert problems("name: a\nsteps: [wait: 1]\nx: \x08\n") == [
        "s.yaml:3:4: character U+0008 is not allowed in YAML"
    ]
    assert problems("name: a\r\n\r\n\ufeffb: \x7f\n") == [
        "s.yaml:3:4: character U+007F is not allowed in YAML"
    ]


def test_a_tag_that_does_not_fit_its_text_is_a_problem_there() -> None:
    assert problems("charger: {connectors: !!int two}\n" + STEPS) == [
        "s.yaml:1:23: cannot read this as !!int: invalid literal for int() with base 10: 'two'"
    ]
    assert problems("charger: {connectors: !!float }\n" + STEPS) == [
        "s.yaml:1:23: cannot read this as !!float: string index out of range"
    ]


@pytest.mark.parametrize("command", ["validate", "run"])
def test_the_cli_prints_the_line_and_exits_2(
    tmp_path: Path, command: str, no_expansion: None
) -> None:
    files = {
        "deep.yaml": "steps: " + "[" * 250 + "]" * 250 + "\n",
        "int.yaml": "charger: {connectors: " + "1" * 4301 + "}\n" + STEPS,
        "laughs.yaml": billion_laughs(),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = CliRunner().invoke(scenario, [command, str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stdout.splitlines() == [
        f"{tmp_path / 'deep.yaml'}:1:71: lists and mappings nested more than 64 levels deep",
        f"{tmp_path / 'int.yaml'}:1:23: a number of 4301 digits (at most 100)",
        f"{tmp_path / 'laughs.yaml'}:6:8: the alias *e expands the document to more than "
        "20000 nodes (aliases of aliases grow exponentially)",
    ]


def test_a_problem_is_one_line_whatever_the_value_holds() -> None:
    """Found by the fuzzer: a line break inside a key or a tagged scalar quoted in a message."""
    assert problems("!!timestamp |\n  a\n  b\n") == [
        "s.yaml:1:1: expected a scenario: a mapping with charger, link, csms and steps; "
        "got a\\nb\\n"
    ]
    assert problems('steps:\n  - "wa\\u2028it": 1\n') == [
        "s.yaml:2:5: steps[0].'wa\\u2028it': unknown step 'wa\\u2028it'; did you mean wait? "
        "(expected one of send, "
        "expect_call, csms, expect_received, expect_unordered, expect_never, plug_in, unplug, "
        "present_tag, start_charging, stop_charging, suspend, set_ev, fault, clear_fault, wait, "
        "link_fault, offer_firmware, expect_connection)"
    ]
