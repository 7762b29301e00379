"""One process at a time per state dir: the lock, with real processes and real signals."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from chargepoint.cli import main
from chargepoint.core.actions import SaveCounter
from chargepoint.core.records import TransactionRecord
from chargepoint.store import LOCK_NAME, StateDirLock, Store, StoreError, StoreLocked

from .conftest import SECRET

CPSIM = [sys.executable, "-m", "chargepoint"]

# A process that opens the store, commits an open transaction, says so and waits.
HOLDER = """
import sys
from pathlib import Path
from chargepoint.core.actions import SaveTransaction
from chargepoint.core.records import TransactionRecord
from chargepoint.store import Store
store = Store.open(Path(sys.argv[1]))
store.apply("CP9", [SaveTransaction(TransactionRecord(1, 1, "TAG-9", 500, "t"))])
print("ready", flush=True)
sys.stdin.read()
"""


def _locked_message(state_dir: Path, pid: int) -> str:
    return f"{state_dir} is in use by process {pid} (a running cpsim?); stop it first"


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process with the store of ``tmp_path / "st"`` open (killed at the end)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "st")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_second_open_in_the_same_process_is_refused(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.apply("CP1", [SaveCounter("next_seq", 1)])
        with pytest.raises(StoreLocked) as caught:
            Store.open(tmp_path)  # a new file description: flock conflicts
        message = str(caught.value)
        assert "\n" not in message
        assert message.startswith(f"{tmp_path} is in use by process {os.getpid()} (this one")
        assert caught.value.pid == os.getpid()
        with pytest.raises(StoreLocked):
            StateDirLock.acquire(tmp_path)
        assert store.load("CP1").counters == {"next_seq": 1}  # the first one goes on
    with Store.open(tmp_path) as store:  # released by close()
        assert store.load("CP1").counters == {"next_seq": 1}


def test_the_lock_file_is_private_and_names_the_holder(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        store = Store.open(tmp_path / "st")
    finally:
        os.umask(old)
    lock = tmp_path / "st" / LOCK_NAME
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    assert lock.read_text() == f"{os.getpid()}\n"
    store.close()
    store.close()  # idempotent: the second close does nothing (and does not raise)
    assert lock.exists() and lock.read_text() == ""  # kept, with no PID of a process gone
    Store.open(tmp_path / "st").close()


def test_another_process_holding_the_dir_is_named(
    holder: subprocess.Popen[str], tmp_path: Path
) -> None:
    state_dir = tmp_path / "st"
    with pytest.raises(StoreLocked) as caught:
        Store.open(state_dir)
    assert str(caught.value) == _locked_message(state_dir, holder.pid)
    assert caught.value.pid == holder.pid


def test_reset_refuses_while_a_charger_runs_and_show_works(
    holder: subprocess.Popen[str], tmp_path: Path
) -> None:
    state_dir = tmp_path / "st"
    result = CliRunner().invoke(main, ["state", "reset", "--state-dir", str(state_dir), "--yes"])
    assert (result.exit_code, result.output) == (
        2,
        f"Error: {_locked_message(state_dir, holder.pid)}\n",
    )
    result = CliRunner().invoke(main, ["state", "show", "--state-dir", str(state_dir)])
    assert result.exit_code == 0, result.output
    assert ["1", "TAG-9", "500", "1", "not", "yet", "known", "t"] in [
        line.split() for line in result.output.splitlines()
    ]  # the open transaction is still there


def test_the_kernel_releases_the_lock_of_a_killed_process(
    holder: subprocess.Popen[str], tmp_path: Path
) -> None:
    state_dir = tmp_path / "st"
    with pytest.raises(StoreLocked):
        Store.open(state_dir)
    holder.send_signal(signal.SIGKILL)  # no close(), no clean-up of any kind
    assert holder.wait(10) == -signal.SIGKILL
    with Store.open(state_dir) as store:  # no stale lock to remove first
        assert store.load("CP9").transactions == [TransactionRecord(1, 1, "TAG-9", 500, "t")]


def test_a_lock_held_by_the_caller_spans_several_opens(tmp_path: Path) -> None:
    with StateDirLock.acquire(tmp_path) as lock:
        with Store.open(tmp_path, lock) as store:
            store.apply("CP1", [SaveCounter("n", 1)])
        assert lock.held  # the store did not release a lock it was given
        with pytest.raises(StoreLocked):
            Store.open(tmp_path)
        with Store.open(tmp_path, lock) as store:
            assert store.load("CP1").counters == {"n": 1}
        with pytest.raises(ValueError):
            Store.open(tmp_path / "other", lock)
    assert not lock.held
    with pytest.raises(ValueError):
        Store.open(tmp_path, lock)  # released
    Store.open(tmp_path).close()


def test_a_failed_open_releases_the_lock(tmp_path: Path) -> None:
    (tmp_path / "cpsim.sqlite3").write_bytes(os.urandom(8192))
    for _ in range(2):
        with pytest.raises(StoreError) as caught:
            Store.open(tmp_path)
        assert not isinstance(caught.value, StoreLocked)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_second_cpsim_run_on_the_same_dir_exits_2(tmp_path: Path) -> None:
    """Two real chargers on one dir: the second stops at once, naming the first."""
    state_dir = tmp_path / "st"
    url = f"ws://127.0.0.1:{_free_port()}/ocpp"  # nobody there: the first one keeps retrying
    run = [*CPSIM, "run", "--id", "CP1", "--url", url, "--state-dir", str(state_dir)]
    first = subprocess.Popen(
        [*run, "--password", SECRET], stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )
    try:
        lock = state_dir / LOCK_NAME
        deadline = time.monotonic() + 20
        while not (lock.exists() and lock.read_text() == f"{first.pid}\n"):
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        second = subprocess.run(run, capture_output=True, text=True, timeout=30)
        assert second.returncode == 2  # could not start (README "Exit codes")
        assert second.stderr == f"Error: {_locked_message(state_dir, first.pid)}\n"
        reset = subprocess.run(
            [*CPSIM, "state", "reset", "--state-dir", str(state_dir), "--yes"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert (reset.returncode, reset.stderr) == (
            2,
            f"Error: {_locked_message(state_dir, first.pid)}\n",
        )
        show = subprocess.run(
            [*CPSIM, "state", "show", "--state-dir", str(state_dir)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert show.returncode == 0, show.stderr
        assert ["AuthorizationKey", "********", "(set)"] in [
            line.split() for line in show.stdout.splitlines()
        ]
        assert SECRET not in show.stdout + show.stderr
    finally:
        first.kill()
        first.wait()
    with Store.open(state_dir) as store:  # the key the first one kept
        assert store.load("CP1").config["AuthorizationKey"] == SECRET
