"""Bad state dirs: one-line StoreErrors naming the file and the command, never a traceback,
never a silent reset; a full disk leaves the database as it was."""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from chargepoint.cli import main
from chargepoint.core.actions import SaveConfig, SaveQueued
from chargepoint.core.records import QueuedMessage, StoredState
from chargepoint.store import Store, StoreError, StoreFull, StoreUnreadable, schema
from chargepoint.store.dbfile import translate as _translate

from .conftest import SECRET, cp001_actions


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


# --- rows of the wrong type -----------------------------------------------------------------

BAD_ROWS = [
    (
        "UPDATE registers SET energy_wh = 'garbage' WHERE connector_id = 1",
        "table registers, charger CP001, connector 1: energy_wh is not a number",
    ),
    (
        "UPDATE registers SET connector_id = 'one' WHERE connector_id = 2",
        "table registers, charger CP001: connector_id is not an integer",
    ),
    (
        f"UPDATE config SET value = CAST('{SECRET}' AS BLOB) WHERE key = 'AuthorizationKey'",
        "table config, charger CP001, key AuthorizationKey: value is not text",
    ),
    (
        "UPDATE transactions SET meter_start = 'x' WHERE local_id = 7",
        "table transactions, charger CP001, transaction 7: meter_start is not an integer",
    ),
    (
        "UPDATE transactions SET transaction_id = 47.5 WHERE local_id = 6",
        "table transactions, charger CP001, transaction 6: transaction_id is not an integer "
        "or null",
    ),
    (
        "UPDATE queue SET attempts = 1.5 WHERE seq = 15",
        "table queue, charger CP001, message 15: attempts is not an integer",
    ),
    (
        "UPDATE counters SET value = 'many' WHERE name = 'next_seq'",
        "table counters, charger CP001, counter next_seq: value is not an integer",
    ),
    (
        "UPDATE auth_cache SET status = x'00' WHERE id_tag = 'TAG-0042'",
        "table auth_cache, charger CP001, idTag TAG-0042: status is not text",
    ),
]

# What even a STRICT table takes: TEXT that is not UTF-8, JSON that is not an object.
BAD_IN_STRICT_TABLES = [
    (
        f"UPDATE config SET value = CAST(x'ff' || '{SECRET}' AS TEXT) "
        "WHERE key = 'AuthorizationKey'",
        "table config, charger CP001, key AuthorizationKey: value is not text",
    ),
    (
        "UPDATE queue SET payload = '[1, 2]' WHERE seq = 14",
        "table queue, charger CP001, message 14: payload is not a JSON object",
    ),
]


def _edit(state_dir: Path, sql: str) -> None:
    with sqlite3.connect(state_dir / "cpsim.sqlite3") as conn:
        conn.execute(sql)
    conn.close()


def _bad_row_error(state_dir: Path, reason: str) -> None:
    """``load`` (and ``cpsim state show``) give one line naming table, row and column and
    the reset of that charger; never the value; the other charger loads."""
    for opener in (Store.open, Store.open_readonly):
        with opener(state_dir) as store:
            with pytest.raises(StoreUnreadable) as caught:
                store.load("CP001")
            assert store.load("CP002").config == {"HeartbeatInterval": "60"}
        message = str(caught.value)
        assert message == (
            f"{state_dir / 'cpsim.sqlite3'}: {reason}; drop that charger's state with "
            f"`cpsim state reset --state-dir {state_dir} --id CP001`"
        )
        assert SECRET not in repr(caught.value) and "garbage" not in message

    show = CliRunner().invoke(main, ["state", "show", "--state-dir", str(state_dir)])
    assert (show.exit_code, show.output) == (2, f"Error: {message}\n")
    assert "Traceback" not in show.output

    # the advice works: that charger's rows go, counted not loaded
    reset = ["state", "reset", "--state-dir", str(state_dir), "--id", "CP001", "--yes"]
    result = CliRunner().invoke(main, reset)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("dropped 2 open transactions, 3 queued messages")
    with Store.open(state_dir) as store:
        assert store.load("CP001") == StoredState()


@pytest.mark.parametrize("sql,reason", BAD_ROWS)
def test_a_row_of_the_wrong_type_written_by_an_older_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sql: str, reason: str
) -> None:
    """Tables created as SQLite before 3.37 creates them (no STRICT) take any value."""
    monkeypatch.setattr(schema, "STRICT_TABLES", False)
    with Store.open(tmp_path) as store:
        store.apply("CP001", cp001_actions())
        store.apply("CP002", [SaveConfig("HeartbeatInterval", "60")])
    _edit(tmp_path, sql)
    _bad_row_error(tmp_path, reason)


@pytest.mark.parametrize("sql,reason", BAD_IN_STRICT_TABLES)
def test_a_row_of_the_wrong_type_in_strict_tables(state_dir: Path, sql: str, reason: str) -> None:
    _edit(state_dir, sql)
    _bad_row_error(state_dir, reason)


@pytest.mark.parametrize("sql,reason", BAD_ROWS)
def test_strict_tables_refuse_the_wrong_type_when_it_is_written(
    state_dir: Path, sql: str, reason: str
) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="cannot store"):
        _edit(state_dir, sql)
    with Store.open(state_dir) as store:
        assert store.load("CP001").config["AuthorizationKey"] == SECRET


@pytest.mark.parametrize(
    "strict,value", [(False, "x'ff00'"), (True, "CAST(x'ff' AS TEXT)")], ids=["blob", "not-utf8"]
)
def test_a_charge_point_id_that_is_not_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, strict: bool, value: str
) -> None:
    monkeypatch.setattr(schema, "STRICT_TABLES", strict)
    with Store.open(tmp_path) as store:
        store.apply("CP001", [SaveConfig("HeartbeatInterval", "60")])
    _edit(tmp_path, f"UPDATE config SET charger = {value}")
    with Store.open_readonly(tmp_path) as store, pytest.raises(StoreUnreadable) as caught:
        store.chargers()
    assert "a charge point id (column charger) is not text" in str(caught.value)
    result = CliRunner().invoke(main, ["state", "reset", "--state-dir", str(tmp_path), "--yes"])
    assert result.exit_code == 0, result.output  # the file is moved aside, as a corrupt one
    assert len(list(tmp_path.glob("cpsim.sqlite3.corrupt-*"))) == 1


def test_python_s_decoding_error_never_reaches_a_message(tmp_path: Path) -> None:
    """It quotes the text it could not decode; the store's message stops before that."""
    exc = sqlite3.OperationalError(
        f"Could not decode to UTF-8 column 'value' with text '\xff{SECRET}'"
    )
    error = _translate(exc, tmp_path / "cpsim.sqlite3")
    assert isinstance(error, StoreUnreadable) and SECRET not in str(error)
    assert str(error).startswith(f"{tmp_path / 'cpsim.sqlite3'}: could not decode to UTF-8 ")
