"""Bad state dirs: one-line StoreErrors naming the file and the command, never a traceback,
never a silent reset; a full disk leaves the database as it was."""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from pathlib import Path

import pytest

from chargepoint.core.actions import SaveConfig, SaveQueued
from chargepoint.core.records import QueuedMessage
from chargepoint.store import Store, StoreError, StoreFull, StoreUnreadable

from .conftest import SECRET


def _error(state_dir: Path) -> StoreError:
    with pytest.raises(StoreError) as caught:
        Store.open(state_dir)
    message = str(caught.value)
    assert "\n" not in message
    assert SECRET not in message
    return caught.value


def _names_reset(error: StoreError, path: Path) -> None:
    message = str(error)
    assert message.startswith(f"{path}: ")
    assert f"`cpsim state reset --state-dir {path.parent}`" in message


def test_a_state_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    message = str(_error(tmp_path / "file"))
    assert message.startswith(f"{tmp_path / 'file'}: not a directory")
    assert "--state-dir" in message
    message = str(_error(tmp_path / "file" / "below"))
    assert message.startswith(f"{tmp_path / 'file' / 'below'}: cannot create the state dir")


def test_a_database_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "cpsim.sqlite3").mkdir()
    message = str(_error(tmp_path))
    assert message.startswith(f"{tmp_path / 'cpsim.sqlite3'}: ")
    assert f"cpsim state show --state-dir {tmp_path}" in message


def _open_as_nobody(state_dir: Path) -> str:
    """Store.open in a forked child that has dropped root (root writes anywhere)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report the error's text, exit without pytest's clean-up
        os.close(read)
        text = "opened"
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            Store.open(state_dir).close()
        except StoreError as exc:
            text = str(exc)
        except BaseException as exc:
            text = f"unexpected {exc!r}"
        os.write(write, text.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    os.waitpid(pid, 0)
    return text


def test_an_unwritable_state_dir(tmp_path: Path) -> None:
    if os.geteuid() == 0:  # root writes anywhere: try as nobody, below a dir nobody can reach
        with tempfile.TemporaryDirectory() as top:
            os.chmod(top, 0o755)
            state_dir = Path(top) / "readonly"
            state_dir.mkdir(mode=0o755)  # nobody: r-x
            message = _open_as_nobody(state_dir)
    else:
        state_dir = tmp_path / "readonly"
        state_dir.mkdir(mode=0o555)
        try:
            message = str(_error(state_dir))
        finally:
            state_dir.chmod(0o755)
    assert message.startswith(f"{state_dir}: state dir not writable"), message
    assert f"chmod u+rwx {state_dir}" in message


def test_random_bytes(tmp_path: Path) -> None:
    db = tmp_path / "cpsim.sqlite3"
    db.write_bytes(os.urandom(16384))
    error = _error(tmp_path)
    assert isinstance(error, StoreUnreadable) and error.path == db and error.tag == "corrupt"
    _names_reset(error, db)
    assert "corrupt database" in str(error)


def test_a_database_truncated_half_way(state_dir: Path) -> None:
    db = state_dir / "cpsim.sqlite3"
    with Store.open(state_dir) as store:  # enough rows for many pages
        for seq in range(100, 400):
            message = QueuedMessage(seq, f"u{seq}", "MeterValues", {"pad": "x" * 400})
            store.apply("CP001", [SaveQueued(message)])
    size = db.stat().st_size
    assert size > 64 * 1024
    with db.open("r+b") as file:
        file.truncate(size // 2)
    error = _error(state_dir)
    assert isinstance(error, StoreUnreadable)
    _names_reset(error, db)


def test_a_database_written_by_a_newer_cpsim(state_dir: Path) -> None:
    db = state_dir / "cpsim.sqlite3"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value = '9.1.0' WHERE key = 'written_by'")
        conn.execute("PRAGMA user_version = 42")
    conn.close()
    error = _error(state_dir)
    assert isinstance(error, StoreUnreadable) and error.tag == "newer"
    _names_reset(error, db)
    assert "written by cpsim 9.1.0 (schema version 42)" in str(error)


@pytest.mark.parametrize(
    "text,reason",
    [
        ('{"HeartbeatInterval": "30",', "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        (f'{{"AuthorizationKey": "{SECRET}", "HeartbeatInterval": [30]}}', "'HeartbeatInterval'"),
        (b"\xff\xfe{}", "not UTF-8"),
    ],
)
def test_a_corrupt_config_json_is_an_error_not_a_silent_reset(
    tmp_path: Path, text: str | bytes, reason: str
) -> None:
    legacy = tmp_path / "config.json"
    if isinstance(text, bytes):
        legacy.write_bytes(text)
    else:
        legacy.write_text(text)
    error = _error(tmp_path)
    assert isinstance(error, StoreUnreadable) and error.path == legacy
    assert str(error).startswith(f"{legacy}: ") and reason in str(error)
    assert f"mv {legacy} {legacy}.bad" in str(error)
    assert legacy.exists()


def test_a_full_disk_raises_store_full_and_changes_nothing(state_dir: Path) -> None:
    with Store.open(state_dir) as store:
        before = store.load("CP001")
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        # the same SQLITE_FULL a full disk gives, without mounting a small file system
        store._conn.execute(f"PRAGMA max_page_count = {pages}")
        big = [
            SaveConfig("AuthorizationKey", SECRET),
            *(
                SaveQueued(QueuedMessage(seq, f"u{seq}", "MeterValues", {"pad": "x" * 2000}))
                for seq in range(100, 140)
            ),
        ]
        with pytest.raises(StoreFull) as caught:
            store.apply("CP001", big)
        assert str(caught.value).startswith(f"{store.path}: ")
        assert "nothing of this change was written" in str(caught.value)
        assert SECRET not in str(caught.value)
        assert store.load("CP001") == before

        store._conn.execute("PRAGMA max_page_count = 1073741823")  # space again: a retry works
        store.apply("CP001", big)
        assert len(store.load("CP001").queue) == len(before.queue) + 40


def test_no_error_text_holds_a_config_value(state_dir: Path) -> None:
    with Store.open(state_dir) as store, pytest.raises(StoreError) as caught:
        store.apply(
            "CP001",
            [
                SaveConfig("AuthorizationKey", SECRET),
                SaveConfig(None, SECRET),  # type: ignore[arg-type]  # NOT NULL
            ],
        )
    assert SECRET not in str(caught.value)
    assert json.dumps(SECRET) not in repr(caught.value)
