"""Every reason a check can give has its own one-line fix, and no check gives a reason
the verdict does not know (a new reason without a sentence fails here).

The reasons are read from the checks' source with :mod:`ast`: ``reason="..."``
keywords, tables named ``*_REASONS`` / ``*_FAILS``, values assigned to a
``reason`` variable and what ``*reason*`` functions return."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import chargepoint.fieldtest
import modem.diagnostics
from chargepoint.fieldtest.outcome import ALL_FIXES, ALL_WARNINGS
from modem.diagnostics import CheckResult, Status, verdict

# Reasons deliberately without a sentence: skips, and warnings that only inform
# (the verdict names the warnings a technician should act on).
NOT_A_CAUSE = {
    "skipped",  # held back by an earlier failure: the verdict says "not proven"
    "turned-off",
    "not-needed",
    "unsupported",  # guarded(): the firmware lacks the command
    "timeout",
    "malformed",
    "no-ping",  # many servers drop ICMP; TCP decides
    "no-imei",
    "no-service",  # the registration row carries the cause
    "not-camped",
    "no-operator",
    "cops-deregistered",
}

PACKAGES = [Path(modem.diagnostics.__file__).parent, Path(chargepoint.fieldtest.__file__).parent]
CODE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


def _strings(node: ast.AST | None) -> set[str]:
    if node is None:
        return set()
    return {
        n.value
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and CODE.match(n.value)
    }


def _names(target: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}


def reasons_in(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "reason":
            found |= _strings(node.value)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = set().union(*(_names(t) for t in targets))
            if "reason" in names or any(re.search("REASONS|FAILS", n) for n in names):
                found |= _strings(node.value)
        elif isinstance(node, ast.For) and "reason" in _names(node.target):
            found |= _strings(node.iter)
        elif isinstance(node, ast.FunctionDef) and "reason" in node.name:
            for ret in ast.walk(node):
                if isinstance(ret, ast.Return):
                    found |= _strings(ret.value)
    return found


def emitted_reasons() -> set[str]:
    found: set[str] = set()
    for package in PACKAGES:
        for path in package.glob("*.py"):
            found |= reasons_in(ast.parse(path.read_text(encoding="utf-8")))
    return found


def test_every_reason_a_check_gives_has_a_fix() -> None:
    emitted = emitted_reasons()
    assert {"sim-puk", "denied", "tcp-timeout", "subprotocol", "wifi-password"} <= emitted
    known = ALL_FIXES.keys() | ALL_WARNINGS.keys() | NOT_A_CAUSE
    assert emitted - known == set(), "give these reasons a sentence in FIXES or WARNINGS"
    unused = (ALL_FIXES.keys() | ALL_WARNINGS.keys()) - emitted
    assert unused == set(), "no check gives these reasons any more"


DATA = {
    "apn": "iot.op",
    "user": "",
    "host": "csms.example.com",
    "port": 9000,
    "ssid": "lab",
    "rsrp": -118,
    "rsrq": -16,
    "sinr_db": -2.0,
    "http_status": 404,
    "url": "ws://csms.example.com:9000/ocpp/CP1",
}


def fix_for(reason: str, status: Status) -> str:
    data = {**DATA, "state": f"state of {reason}"}
    figure, detail = f"figure of {reason}", f"detail of {reason}"
    row = CheckResult("the check", status, figure, detail, reason, data)
    result = verdict([row], success="works", fixes=ALL_FIXES, warnings=ALL_WARNINGS)
    assert result.status is status
    return result.summary


FIX_TEXTS = {reason: fix_for(reason, Status.FAIL) for reason in ALL_FIXES}
WARNING_TEXTS = {reason: fix_for(reason, Status.WARN) for reason in ALL_WARNINGS}


@pytest.mark.parametrize("reason", sorted(ALL_FIXES))
def test_each_failure_has_its_own_one_line_fix(reason: str) -> None:
    text = FIX_TEXTS[reason]
    assert text.strip() and "\n" not in text
    assert not text.startswith("the check: "), "fell back to the generic row text"
    assert "?" not in text.replace("(or ", ""), f"a figure is missing: {text}"
    others = {r: t for r, t in FIX_TEXTS.items() if r != reason}
    assert text not in others.values(), f"same sentence as {others}"


@pytest.mark.parametrize("reason", sorted(ALL_WARNINGS))
def test_each_warning_has_its_own_one_line_caveat(reason: str) -> None:
    text = WARNING_TEXTS[reason]
    assert text.startswith("works, but: ") and "\n" not in text
    assert len(text) > len("works, but: ") + 10
    assert "?" not in text, f"a figure is missing: {text}"
    others = [t for r, t in WARNING_TEXTS.items() if r != reason]
    assert text not in others
