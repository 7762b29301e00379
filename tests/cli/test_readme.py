"""What the README shows a user matches what the commands do."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from modem.at import ATTrace

README = Path(__file__).parents[2] / "README.md"
CPSIM_SCRIPT = [shutil.which("cpsim") or str(Path(sys.executable).with_name("cpsim"))]
"""The installed console script: completion keys on its name (``_CPSIM_COMPLETE``)."""


def test_the_at_log_sample_has_the_real_line_format(tmp_path: Path) -> None:
    trace = ATTrace("/dev/pts/1", tmp_path / "at.log")
    trace.sent("AT+QISEND=0,253")
    trace.close()
    [real] = (tmp_path / "at.log").read_text().splitlines()
    text = README.read_text()
    block = text[text.index("```\n", text.index("`--at-log` writes a trace")) + 4 :]
    sample = block[: block.index("```")].splitlines()
    shape = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} /dev/pts/1 (>>|<<) ")
    assert shape.match(real), real
    assert sample and all(shape.match(line) for line in sample), sample


def test_shell_completion_as_the_readme_documents_it() -> None:
    env = {**os.environ, "_CPSIM_COMPLETE": "bash_source"}
    script = subprocess.run(CPSIM_SCRIPT, env=env, capture_output=True, text=True, timeout=60)
    assert script.returncode == 0 and "_cpsim_completion()" in script.stdout
    env = {**os.environ, "_CPSIM_COMPLETE": "bash_complete", "COMP_WORDS": "cpsim sce"}
    words = subprocess.run(
        CPSIM_SCRIPT, env={**env, "COMP_CWORD": "1"}, capture_output=True, text=True, timeout=60
    )
    assert words.stdout.splitlines() == ["plain,scenario"]


def test_the_container_keeps_state_in_its_volume_and_runs_unprivileged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No daemon to build with here: the Dockerfile's settings are checked against what
    the commands do with them (where ``cpsim run`` puts its state dir)."""
    from chargepoint.cli.run import default_state_dir

    lines = (README.parent / "Dockerfile").read_text().splitlines()
    instructions = [line.split(None, 1) for line in lines if line and not line[0].isspace()]
    settings = {word: rest for word, *rest in instructions if not word.startswith("#")}
    assert settings["USER"] == ["cpsim"]
    assert settings["EXPOSE"] == ["9000 9001"]  # OCPP, and the HTTP side (API, files)
    assert settings["VOLUME"] == ['["/state"]']
    env = " ".join(line.strip() for line in lines if "XDG_STATE_HOME=" in line)
    state_home = env.split("XDG_STATE_HOME=")[1].split()[0]
    monkeypatch.setenv("XDG_STATE_HOME", state_home)
    assert default_state_dir("CP001") == Path("/state/cpsim/CP001")
