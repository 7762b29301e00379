"""The store on real SQLite files: every persist action, order, atomicity, isolation, modes."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from chargepoint.core.actions import (
    ClearAuth,
    DeleteQueued,
    DeleteTransaction,
    Persist,
    SaveAuth,
    SaveAvailability,
    SaveConfig,
    SaveCounter,
    SaveQueued,
    SaveRegister,
    SaveTransaction,
)
from chargepoint.core.records import (
    AuthEntry,
    MeterReading,
    QueuedMessage,
    StoredState,
    TransactionRecord,
)
from chargepoint.store import MIGRATIONS, SCHEMA_VERSION, Store, StoreError, schema

from .conftest import SECRET


def test_every_persist_action_round_trips(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        assert store.load("CP1") == StoredState()
        tx = TransactionRecord(3, 1, "TAG", 1200, "2026-12-07T10:00:00Z")
        message = QueuedMessage(5, "uid-5", "StartTransaction", {"connectorId": 1, "x": [1.5]}, 3)
        store.apply(
            "CP1",
            [
                SaveConfig("HeartbeatInterval", "300"),
                SaveTransaction(tx),
                SaveRegister(1, 1534.25, "2026-12-07T10:01:00Z"),
                SaveQueued(message),
                SaveAuth("TAG", AuthEntry("Accepted")),
                SaveCounter("next_seq", 6),
                SaveAvailability(2, False),
            ],
        )
        assert store.load("CP1") == StoredState(
            config={"HeartbeatInterval": "300"},
            transactions=[tx],
            queue=[message],
            registers={1: MeterReading(1534.25, "2026-12-07T10:01:00Z")},
            availability={2: False},
            auth_cache={"TAG": AuthEntry("Accepted")},
            counters={"next_seq": 6},
        )

        # Saving again updates in place: the CSMS's id, a retried message, a grown register.
        known = TransactionRecord(3, 1, "TAG", 1200, "2026-12-07T10:00:00Z", 4711)
        retried = QueuedMessage(5, "uid-5", "StartTransaction", {"transactionId": 4711}, 3, 2)
        store.apply(
            "CP1",
            [
                SaveConfig("HeartbeatInterval", "60"),
                SaveTransaction(known),
                SaveRegister(1, 1600.0, "2026-12-07T10:02:00Z"),
                SaveQueued(retried),
                SaveAuth("TAG", AuthEntry("Blocked", updated=5.0)),
                SaveCounter("next_seq", 7),
                SaveAvailability(2, True),
            ],
        )
        state = store.load("CP1")
        assert state.config == {"HeartbeatInterval": "60"}
        assert state.transactions == [known]
        assert state.queue == [retried]
        assert state.registers == {1: MeterReading(1600.0, "2026-12-07T10:02:00Z")}
        assert state.auth_cache == {"TAG": AuthEntry("Blocked", updated=5.0)}
        assert state.counters == {"next_seq": 7}
        assert state.availability == {2: True}

        store.apply("CP1", [DeleteTransaction(3), DeleteQueued(5), ClearAuth()])
        state = store.load("CP1")
        assert (state.transactions, state.queue, state.auth_cache) == ([], [], {})
        assert state.config and state.registers and state.counters  # untouched


def test_the_queue_comes_back_in_seq_order(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        for seq in (10, 2, 33, 7, 100):
            store.apply("CP1", [SaveQueued(QueuedMessage(seq, f"u{seq}", "MeterValues", {}))])
        store.apply("CP1", [DeleteQueued(7)])
        assert [m.seq for m in store.load("CP1").queue] == [2, 10, 33, 100]


def test_counters_keep_their_last_value_across_a_restart(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.apply("CP1", [SaveCounter("next_local_tx", 1), SaveCounter("next_seq", 1)])
        store.apply("CP1", [SaveCounter("next_local_tx", 2**40)])
    with Store.open(tmp_path) as store:
        assert store.load("CP1").counters == {"next_local_tx": 2**40, "next_seq": 1}


def test_reopening_gives_the_same_state(state_dir: Path) -> None:
    with Store.open(state_dir) as store:
        before = {cp: store.load(cp) for cp in store.chargers()}
    with Store.open(state_dir) as store:
        assert {cp: store.load(cp) for cp in store.chargers()} == before
    assert before["CP001"].config["AuthorizationKey"] == SECRET


def test_an_apply_that_fails_half_way_leaves_nothing_of_it(state_dir: Path) -> None:
    with Store.open(state_dir) as store:
        before = store.load("CP001")
        half_done: list[list[Persist]] = [
            # SQLite refuses the third (NOT NULL), after two good writes
            [
                SaveConfig("HeartbeatInterval", "1"),
                DeleteQueued(14),
                SaveTransaction(TransactionRecord(9, 1, None, 0, "t")),  # type: ignore[arg-type]
            ],
            # the payload cannot be written as JSON
            [SaveCounter("next_seq", 99), SaveQueued(QueuedMessage(20, "u", "X", {"x": object()}))],
            # not a persist action the store knows
            [ClearAuth(), Persist()],
        ]
        for actions in half_done:
            with pytest.raises((StoreError, TypeError)):
                store.apply("CP001", actions)
            assert store.load("CP001") == before
        store.apply("CP001", [SaveCounter("next_seq", 18)])  # and the store still works
        assert store.load("CP001").counters["next_seq"] == 18


def test_chargers_in_one_file_do_not_see_each_others_rows(tmp_path: Path) -> None:
    same = [
        SaveTransaction(TransactionRecord(1, 1, "TAG", 0, "t")),
        SaveQueued(QueuedMessage(1, "u1", "StartTransaction", {}, 1)),
        SaveAuth("TAG", AuthEntry("Accepted")),
        SaveRegister(1, 10.0, "t"),
        SaveCounter("next_seq", 2),
        SaveConfig("HeartbeatInterval", "300"),
    ]
    with Store.open(tmp_path) as store:
        store.apply("CP1", same)
        store.apply("CP2", same)
        store.apply("CP1", [DeleteQueued(1), DeleteTransaction(1), ClearAuth()])
        cp2 = store.load("CP2")
        assert len(cp2.queue) == len(cp2.transactions) == len(cp2.auth_cache) == 1
        assert store.chargers() == ["CP1", "CP2"]
        store.reset("CP2")
        assert store.load("CP2") == StoredState()
        assert store.load("CP1").counters == {"next_seq": 2}
        assert store.chargers() == ["CP1"]


def test_chargers_lists_any_charger_with_a_row(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.apply("B", [SaveCounter("next_seq", 1)])
        store.apply("A", [SaveRegister(1, 0.0, "t")])
        store.apply("C", [SaveAuth("TAG", AuthEntry("Accepted"))])
        assert store.chargers() == ["A", "B", "C"]


def test_reset_drops_all_or_keeps_the_config(state_dir: Path) -> None:
    with Store.open(state_dir) as store:
        store.reset(keep_config=True)
        assert store.load("CP001") == StoredState(config=store.load("CP001").config)
        assert store.load("CP001").config["HeartbeatInterval"] == "300"
        assert store.chargers() == ["CP001", "CP002"]
        store.reset()
        assert store.chargers() == []
    assert (state_dir / "cpsim.sqlite3").exists()  # the schema stays


def test_file_and_dir_modes(tmp_path: Path) -> None:
    old = os.umask(0)  # the store must not rely on the umask
    try:
        state_dir = tmp_path / "a" / "state"
        with Store.open(state_dir) as store:
            store.apply("CP1", [SaveConfig("AuthorizationKey", SECRET)])
            files = [store.path, Path(f"{store.path}-wal"), Path(f"{store.path}-shm")]
            assert all(f.exists() for f in files)
            assert {oct(stat.S_IMODE(f.stat().st_mode)) for f in files} == {"0o600"}
        assert oct(stat.S_IMODE(state_dir.stat().st_mode)) == "0o700"

        # a database left readable by others (an earlier copy, a restore) is tightened
        loose = tmp_path / "loose"
        loose.mkdir(mode=0o755)
        Store.open(loose).close()
        (loose / "cpsim.sqlite3").chmod(0o644)
        Store.open(loose).close()
        assert stat.S_IMODE((loose / "cpsim.sqlite3").stat().st_mode) == 0o600
        assert stat.S_IMODE(loose.stat().st_mode) == 0o755  # an existing dir is the user's
    finally:
        os.umask(old)


def test_wal_and_synchronous_normal(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.apply("CP1", [SaveCounter("n", 1)])
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert store._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
        assert store._conn.execute("PRAGMA journal_size_limit").fetchone()[0] == 4 * 2**20
        with sqlite3.connect(store.path) as other:
            assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert other.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_migrations_are_numbered_in_order() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    assert MIGRATIONS[-1].version == SCHEMA_VERSION


def test_a_later_migration_adds_a_table_that_reset_and_chargers_cover(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    later = schema.Migration(
        SCHEMA_VERSION + 1,
        "installed certificates",
        (
            "CREATE TABLE certificates (charger TEXT NOT NULL, cert_id INTEGER NOT NULL, "
            "PRIMARY KEY (charger, cert_id)) WITHOUT ROWID",
        ),
    )
    monkeypatch.setattr(schema, "MIGRATIONS", (*MIGRATIONS, later))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", later.version)
    with Store.open(state_dir) as store:
        assert store.version == later.version
        assert store.load("CP001").config["AuthorizationKey"] == SECRET  # v1 rows kept
        store._conn.execute("INSERT INTO certificates VALUES ('CP009', 1)")
        assert store.chargers() == ["CP001", "CP002", "CP009"]
        store.reset()
        assert store.chargers() == []
    with Store.open(state_dir) as store:  # migrations run once
        assert store.version == later.version


# --- the config.json of an earlier cpsim ----------------------------------------------------


def test_an_earlier_config_json_is_imported_for_each_charger_then_renamed(tmp_path: Path) -> None:
    old = {"HeartbeatInterval": "120", "AuthorizationKey": SECRET, "LocalPreAuthorize": False}
    (tmp_path / "config.json").write_text(json.dumps(old))
    expected = {
        "HeartbeatInterval": "120",
        "AuthorizationKey": SECRET,
        "LocalPreAuthorize": "false",
    }
    with Store.open(tmp_path) as store:
        assert store.load("CP1").config == expected
        assert not (tmp_path / "config.json").exists()
        assert json.loads((tmp_path / "config.json.imported").read_text()) == old
        assert store.load("CP2").config == expected  # every charger of this process
        store.apply("CP1", [SaveConfig("HeartbeatInterval", "30")])
        assert store.load("CP1").config["HeartbeatInterval"] == "30"  # imported once only
    with Store.open(tmp_path) as store:
        assert store.load("CP3").config == {}  # the file was renamed: not imported again


def test_the_imported_config_json_is_private(tmp_path: Path) -> None:
    """It keeps the AuthorizationKey in clear: 0600 like the database, whatever it was."""
    legacy = tmp_path / "config.json"
    legacy.write_text(json.dumps({"AuthorizationKey": SECRET}))
    legacy.chmod(0o644)
    with Store.open(tmp_path) as store:
        assert store.load("CP1").config == {"AuthorizationKey": SECRET}
    imported = tmp_path / "config.json.imported"
    assert stat.S_IMODE(imported.stat().st_mode) == 0o600
    assert SECRET in imported.read_text()  # kept as it was, only private now


def test_a_config_json_is_ignored_once_the_store_has_configuration(state_dir: Path) -> None:
    (state_dir / "config.json").write_text('{"HeartbeatInterval": "1"}')
    with Store.open(state_dir) as store:
        assert store.load("CP001").config["HeartbeatInterval"] == "300"
        assert store.load("CP003").config == {}
    assert (state_dir / "config.json").exists()  # not ours to rename


def test_an_earlier_import_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "config.json.imported").write_text("{}")
    (tmp_path / "config.json").write_text('{"HeartbeatInterval": "1"}')
    with Store.open(tmp_path) as store:
        store.load("CP1")
    assert (tmp_path / "config.json.imported").read_text() == "{}"
    assert (tmp_path / "config.json.imported-1").read_text() == '{"HeartbeatInterval": "1"}'


def test_the_wal_shrinks_back_after_a_burst(tmp_path: Path) -> None:
    """One big apply grows the WAL past the limit (a transaction is checkpointed only once
    committed); the checkpoints of later applies bring it back to 4 MiB at most."""
    wal = tmp_path / "cpsim.sqlite3-wal"
    limit = 4 * 2**20
    with Store.open(tmp_path) as store:
        burst = [
            SaveQueued(QueuedMessage(seq, f"u{seq}", "MeterValues", {"pad": "x" * 3000}))
            for seq in range(3000)
        ]
        store.apply("CP1", burst)
        assert wal.stat().st_size > 2 * limit
        store.apply("CP1", [DeleteQueued(seq) for seq in range(3000)])
        for n in range(2000):  # steady running: a register a step
            store.apply("CP1", [SaveRegister(1, float(n), "t")])
        assert 0 < wal.stat().st_size <= limit
        assert store.load("CP1").queue == []


def test_every_table_is_strict(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        rows = store._conn.execute(
            "SELECT name, strict FROM pragma_table_list WHERE schema = 'main' "
            "AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
    assert {name for name, _ in rows} == {
        "meta",
        "config",
        "transactions",
        "registers",
        "queue",
        "availability",
        "auth_cache",
        "counters",
        "charging_profiles",
        "local_list",
        "reservations",
        "charger_values",
        "security_objects",
    }
    assert all(strict == 1 for _, strict in rows)


def test_an_sqlite_without_strict_gets_the_same_tables_without_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schema, "STRICT_TABLES", False)
    for statement in MIGRATIONS[0].statements:
        plain = schema.for_this_sqlite(statement)
        assert "STRICT" not in plain
        assert plain.startswith(statement[: statement.rindex(")") + 1])
        assert plain.endswith("WITHOUT ROWID") == statement.endswith("WITHOUT ROWID")
    assert schema.for_this_sqlite("CREATE TABLE t (a TEXT) STRICT") == "CREATE TABLE t (a TEXT)"
    assert schema.for_this_sqlite("INSERT INTO t VALUES (')STRICT')") == (
        "INSERT INTO t VALUES (')STRICT')"
    )
    with Store.open(tmp_path) as store:
        strict = store._conn.execute(
            "SELECT max(strict) FROM pragma_table_list WHERE schema = 'main'"
        ).fetchone()[0]
        assert strict == 0
        store.apply("CP1", [SaveRegister(1, 1.5, "t")])
        assert store.load("CP1").registers == {1: MeterReading(1.5, "t")}
