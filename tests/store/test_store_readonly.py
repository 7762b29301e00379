"""Reading without writing (``Store.open_readonly``), and creating a database that a crash
cannot leave empty: real files, real read-only dirs, real crashes."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from chargepoint.cli import main
from chargepoint.core.actions import SaveCounter
from chargepoint.store import (
    DB_NAME,
    MIGRATIONS,
    SCHEMA_VERSION,
    Store,
    StoreError,
    StoreUnreadable,
    schema,
)

from .conftest import SECRET

NOBODY = 65534


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_open_readonly_reads_everything_and_writes_nothing(state_dir: Path) -> None:
    db = state_dir / DB_NAME
    with Store.open(state_dir) as store:
        expected = {cp: store.load(cp) for cp in store.chargers()}
    before = _digest(db)
    with Store.open_readonly(state_dir) as store:
        assert store.readonly and store.version == SCHEMA_VERSION
        assert {cp: store.load(cp) for cp in store.chargers()} == expected
        assert store.row_counts("CP001")["queue"] == 3
        for write in (
            lambda: store.apply("CP001", [SaveCounter("next_seq", 99)]),
            lambda: store.reset(),
        ):
            with pytest.raises(StoreError, match="opened read-only"):
                write()
        with pytest.raises(sqlite3.OperationalError):  # not even by hand
            store._conn.execute("DELETE FROM queue")
    assert _digest(db) == before
    with Store.open(state_dir) as store:
        assert store.load("CP001") == expected["CP001"]


def test_open_readonly_of_an_older_schema_does_not_migrate(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    later = schema.Migration(
        SCHEMA_VERSION + 1,
        "reservations",
        (
            "CREATE TABLE reservations (charger TEXT NOT NULL, reservation_id INTEGER NOT NULL, "
            "PRIMARY KEY (charger, reservation_id)) STRICT, WITHOUT ROWID",
        ),
    )
    monkeypatch.setattr(schema, "MIGRATIONS", (*MIGRATIONS, later))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", later.version)
    db = state_dir / DB_NAME
    before = _digest(db)
    with Store.open_readonly(state_dir) as store:
        assert store.version == SCHEMA_VERSION  # as found: readable, not migrated
        assert store.chargers() == ["CP001", "CP002"]
        assert store.load("CP001").config["AuthorizationKey"] == SECRET
    assert _digest(db) == before

    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {later.version + 1}")
    conn.close()
    with pytest.raises(StoreUnreadable) as caught:
        Store.open_readonly(state_dir)
    assert caught.value.tag == "newer" and "newer than this cpsim" in str(caught.value)


def test_open_readonly_of_a_database_without_tables(tmp_path: Path) -> None:
    """Schema version 0 (an empty SQLite database): no tables, no chargers, no error."""
    sqlite3.connect(tmp_path / DB_NAME).execute("CREATE TABLE other (x)").connection.close()
    with Store.open_readonly(tmp_path) as store:
        assert (store.version, store.chargers(), store.row_counts()) == (0, [], {})
        assert store.load("CP1").config == {}


def _as_nobody(state_dir: Path, work: Callable[[], str]) -> str:
    """``work()`` in a forked child that cannot write ``state_dir``: the dir is made
    r-x for its owner (as root, the tree is given to nobody first, and the child becomes
    nobody: root writes anywhere).  Returns what ``work`` returned, or its error's text."""
    if os.geteuid() == 0:
        for path in [state_dir, *state_dir.iterdir()]:
            os.chown(path, NOBODY, NOBODY)
    state_dir.chmod(0o500)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, exit without pytest's clean-up
        os.close(read)
        try:
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            text = work()
        except BaseException as exc:
            text = f"{type(exc).__name__}: {exc}"
        os.write(write, text.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    os.waitpid(pid, 0)
    state_dir.chmod(0o700)
    return text


@pytest.fixture
def reachable_tmp() -> Iterator[Path]:
    """A temporary dir that nobody can reach (pytest's tmp_path is root's, 0700)."""
    with tempfile.TemporaryDirectory() as top:
        Path(top).chmod(0o755)
        yield Path(top)


def test_show_works_on_a_read_only_state_dir(state_dir: Path, reachable_tmp: Path) -> None:
    copy = reachable_tmp / "state"
    copy.mkdir()
    (copy / DB_NAME).write_bytes((state_dir / DB_NAME).read_bytes())  # closed: no -wal/-shm
    (copy / DB_NAME).chmod(0o600)
    before = _digest(copy / DB_NAME)

    def show() -> str:
        result = CliRunner().invoke(main, ["state", "show", "--state-dir", str(copy)])
        return f"{result.exit_code}\n{result.output}"

    out = _as_nobody(copy, show)
    assert out.startswith(f"0\n{copy / DB_NAME} (schema {SCHEMA_VERSION}): 2 charger(s)\n"), out
    assert ["AuthorizationKey", "********", "(set)"] in [line.split() for line in out.split("\n")]
    assert SECRET not in out
    assert sorted(p.name for p in copy.iterdir()) == [DB_NAME]  # nothing created
    assert _digest(copy / DB_NAME) == before

    # and Store.open, which must write, says so in one line
    out = _as_nobody(copy, lambda: str(Store.open(copy)))
    assert out == (
        f"StoreError: {copy}: state dir not writable; fix it with `chmod u+rwx {copy}` "
        "(as its owner) or choose another --state-dir"
    )


# A charger that commits one change and is SIGKILLed: its -wal holds that change.
CRASHED_WRITER = """
import os, signal, sys
from pathlib import Path
from chargepoint.core.actions import SaveCounter
from chargepoint.store import Store
store = Store.open(Path(sys.argv[1]))
store.apply("CP001", [SaveCounter("next_seq", 1234)])
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_read_only_dir_with_changes_only_in_the_wal(state_dir: Path, reachable_tmp: Path) -> None:
    copy = reachable_tmp / "state"
    copy.mkdir()
    (copy / DB_NAME).write_bytes((state_dir / DB_NAME).read_bytes())
    crashed = subprocess.run([sys.executable, "-c", CRASHED_WRITER, str(copy)])
    assert crashed.returncode == -signal.SIGKILL
    assert (copy / f"{DB_NAME}-wal").stat().st_size > 0

    # with its -shm, the change is read (SQLite reads the -wal through it)
    out = _as_nobody(copy, lambda: str(Store.open_readonly(copy).load("CP001").counters))
    assert "'next_seq': 1234" in out, out

    # without: reading only the database would show the state before the change
    (copy / f"{DB_NAME}-shm").unlink()
    out = _as_nobody(copy, lambda: str(Store.open_readonly(copy).load("CP001").counters))
    assert out.startswith(f"StoreError: {copy / DB_NAME}: cannot read it in a read-only dir "), out
    assert "copy the state dir somewhere writable" in out


def test_show_does_not_change_a_database_of_another_journal_mode(state_dir: Path) -> None:
    db = state_dir / DB_NAME
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    before = _digest(db)
    result = CliRunner().invoke(main, ["state", "show", "--state-dir", str(state_dir)])
    assert result.exit_code == 0, result.output
    assert _digest(db) == before
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()


# --- an empty database file, and creating one -----------------------------------------------


def test_an_empty_database_file_is_unreadable_never_a_new_store(tmp_path: Path) -> None:
    db = tmp_path / DB_NAME
    db.touch()
    for opener in (Store.open, Store.open_readonly):
        with pytest.raises(StoreUnreadable) as caught:
            opener(tmp_path)
        message = str(caught.value)
        assert message.startswith(f"{db}: empty file: truncated?; ")
        assert f"`cpsim state reset --state-dir {tmp_path}`" in message
        assert db.stat().st_size == 0  # left as found

    result = CliRunner().invoke(main, ["state", "show", "--state-dir", str(tmp_path)])
    assert result.exit_code == 2 and "empty file: truncated?" in result.output
    result = CliRunner().invoke(main, ["state", "reset", "--state-dir", str(tmp_path), "--yes"])
    assert result.exit_code == 0, result.output
    [aside] = tmp_path.glob(f"{DB_NAME}.corrupt-*")
    assert aside.stat().st_size == 0
    with Store.open(tmp_path) as store:
        assert store.chargers() == []


def test_a_new_database_is_complete_before_it_has_its_name(tmp_path: Path) -> None:
    (tmp_path / f"{DB_NAME}.new").write_bytes(b"left by a crash")
    (tmp_path / f"{DB_NAME}.new-journal").write_bytes(b"left by a crash")
    with Store.open(tmp_path) as store:
        assert store.version == SCHEMA_VERSION
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cpsim.lock", DB_NAME]
    with sqlite3.connect(tmp_path / DB_NAME) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


# Create a store, SIGKILLed at the first audit event named argv[2] (a real crash at
# that point of the creation: the file is created, or about to be renamed).
CRASH_WHILE_CREATING = """
import os, signal, sys
from pathlib import Path
from chargepoint.store import Store
def hook(event, args):
    if event == sys.argv[2]:
        os.kill(os.getpid(), signal.SIGKILL)
sys.addaudithook(hook)
Store.open(Path(sys.argv[1]))
"""


@pytest.mark.parametrize("event", ["sqlite3.connect", "os.rename"])
def test_a_crash_while_creating_never_leaves_an_empty_database(tmp_path: Path, event: str) -> None:
    state_dir = tmp_path / "st"
    proc = subprocess.run([sys.executable, "-c", CRASH_WHILE_CREATING, str(state_dir), event])
    assert proc.returncode == -signal.SIGKILL
    assert (state_dir / f"{DB_NAME}.new").exists()  # it died while creating
    assert not (state_dir / DB_NAME).exists()
    with Store.open(state_dir) as store:  # a missing database: created afresh
        assert store.version == SCHEMA_VERSION
    assert not (state_dir / f"{DB_NAME}.new").exists()
