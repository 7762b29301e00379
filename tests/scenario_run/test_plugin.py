"""The pytest plugin, run as a person runs it: ``pytest DIR -p chargepoint.scenario.pytest_plugin``
in a subprocess, on scenario files in a temporary directory."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

PASSING = """\
charger: {id: CP-PLUG-OK, time_scale: 60}
steps:
  - expect_received: BootNotification
"""

FAILING = """\
charger: {id: CP-PLUG-BAD, time_scale: 60}
steps:
  - wait: {until: boot_accepted}
  - expect_received:
      action: StatusNotification
      payload: {connectorId: 1, status: Faulted}
"""

NOT_A_SCENARIO = """\
jobs:
  test:
    steps:
      - run: pytest
"""


def pytest_in(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "chargepoint.scenario.pytest_plugin",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(directory),
            str(directory),
            *args,
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_collects_yaml_scenarios_and_reports_the_failed_step(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(PASSING)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "bad.yml").write_text(FAILING)
    (tmp_path / "workflow.yaml").write_text(NOT_A_SCENARIO)
    (tmp_path / "schema.json").write_text("{}")
    junit = tmp_path / "junit.xml"
    run = pytest_in(tmp_path, "-rA", f"--junitxml={junit}")
    out = run.stdout
    assert run.returncode == 1, out + run.stderr
    assert "1 failed, 1 passed" in out
    assert "ok.yaml::ok PASSED" in out or "PASSED ok.yaml::ok" in out
    # the failure: the step, the expectation, what arrived instead
    assert "expect_received StatusNotification {connectorId: 1, status: Faulted}" in out
    assert f"at {tmp_path / 'sub' / 'bad.yml'}:4" in out
    assert "status: expected 'Faulted', got 'Available'" in out
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert set(cases) == {"ok", "bad"}
    assert cases["bad"].find("failure") is not None and cases["ok"].find("failure") is None


def test_a_broken_file_is_a_collection_error_with_its_position(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("steps:\n  - send: Heartbeet\n")
    run = pytest_in(tmp_path)
    assert run.returncode == 2, run.stdout
    assert (
        f"{tmp_path / 'broken.yaml'}:2:11: steps[0].send: unknown charge-point action "
        "'Heartbeet'; did you mean Heartbeat?"
    ) in run.stdout


def test_one_item_per_link_and_missing_links_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(PASSING)
    run = pytest_in(tmp_path, "--scenario-link", "all", "-rs", "-v")
    assert run.returncode == 0, run.stdout + run.stderr
    for link in ("direct", "ec200u", "esp-at"):
        assert f"ok.yaml::ok[{link}]" in run.stdout
    assert "ok.yaml::ok[direct] PASSED" in run.stdout


def test_a_link_fault_the_link_cannot_have_is_a_skip(tmp_path: Path) -> None:
    (tmp_path / "pdp.yaml").write_text(
        "link: ec200u\nsteps:\n  - link_fault: pdp_deactivate\n  - expect_received: Heartbeat\n"
    )
    run = pytest_in(tmp_path, "--scenario-link", "direct", "-rs")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 skipped" in run.stdout
    assert "pdp_deactivate needs link ec200u; this run uses direct" in run.stdout


def test_the_installed_plugin_collects_the_bundled_library_without_p() -> None:
    """``pytest scenarios/`` as the README has it: the pytest11 entry point, no ``-p``."""
    library = Path(__file__).parents[2] / "scenarios"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=library,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    expected = {f"scenarios/{p.name}::{p.stem}" for p in library.glob("*.yaml")}
    assert expected and expected <= set(run.stdout.split())
