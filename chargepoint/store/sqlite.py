"""The store: one SQLite file per process, ``<state-dir>/cpsim.sqlite3``, every row keyed by
the charge point id, so a fleet of chargers shares one file.

The core's shell calls :meth:`Store.apply` with the persist actions of one step; they are
committed in one transaction before it returns (WAL, ``synchronous=NORMAL``: a commit
survives a crash of the process; a power loss may lose the last commits, never
consistency).  The file holds the AuthorizationKey, so it and its ``-wal``/``-shm`` are
mode 0600, in a state dir created 0700.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import stat
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any

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
from chargepoint.core.records import MeterReading, QueuedMessage, StoredState, TransactionRecord

from . import schema
from .errors import StoreError, StoreFull, StoreUnreadable, commands, set_aside_advice
from .legacy import LEGACY_CONFIG, read_legacy_config

log = logging.getLogger(__name__)

DB_NAME = "cpsim.sqlite3"
_SIDE_FILES = ("-wal", "-shm")


class Store:
    """The charger state of every charger of a process (see the module doc)."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn
        self._tables = _charger_tables(conn)
        self._legacy: dict[str, str] | None = None
        self._legacy_path: Path | None = None

    # --- opening and closing ------------------------------------------------------------

    @classmethod
    def open(cls, state_dir: Path) -> Store:
        """Open (or create) the store of ``state_dir``; :class:`StoreError` on a bad one."""
        state_dir = Path(state_dir)
        _prepare_dir(state_dir)
        path = state_dir / DB_NAME
        _prepare_file(path)
        store = cls(path, _connect(path))
        try:
            legacy = state_dir / LEGACY_CONFIG
            if legacy.is_file() and not store._has_rows("config"):
                store._legacy, store._legacy_path = read_legacy_config(legacy), legacy
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def version(self) -> int:
        return schema.version(self._conn)

    # --- reading ------------------------------------------------------------------------

    def load(self, charger: str) -> StoredState:
        """Everything stored for ``charger`` (empty for one the store has never seen)."""
        if self._legacy is not None and not self._has_rows("config", charger):
            self._import_legacy(charger, self._legacy)

        def rows(sql: str) -> list[Any]:
            return self._conn.execute(sql, (charger,)).fetchall()

        with self._transaction("BEGIN"):  # one snapshot of all the tables
            return StoredState(
                config=dict(rows("SELECT key, value FROM config WHERE charger = ?")),
                transactions=[
                    TransactionRecord(*row)
                    for row in rows(
                        "SELECT local_id, connector_id, id_tag, meter_start, started, "
                        "transaction_id FROM transactions WHERE charger = ? ORDER BY local_id"
                    )
                ],
                queue=[
                    QueuedMessage(seq, unique_id, action, self._payload(seq, text), tx, attempts)
                    for seq, unique_id, action, text, tx, attempts in rows(
                        "SELECT seq, unique_id, action, payload, local_tx, attempts "
                        "FROM queue WHERE charger = ? ORDER BY seq"
                    )
                ],
                registers={
                    connector: MeterReading(energy, timestamp)
                    for connector, energy, timestamp in rows(
                        "SELECT connector_id, energy_wh, timestamp FROM registers "
                        "WHERE charger = ? ORDER BY connector_id"
                    )
                },
                availability={
                    connector: bool(operative)
                    for connector, operative in rows(
                        "SELECT connector_id, operative FROM availability WHERE charger = ?"
                    )
                },
                auth_cache=dict(rows("SELECT id_tag, status FROM auth_cache WHERE charger = ?")),
                counters=dict(rows("SELECT name, value FROM counters WHERE charger = ?")),
            )

    def _payload(self, seq: int, text: str) -> dict[str, Any]:
        try:
            payload = json.loads(text)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise StoreUnreadable(self.path, f"queued message {seq} is not a JSON object")
        return payload

    def chargers(self) -> list[str]:
        """Every charge point id with a row in any table, sorted."""
        union = " UNION ".join(f"SELECT charger FROM {table}" for table in self._tables)
        try:
            return [row[0] for row in self._conn.execute(f"{union} ORDER BY 1")]
        except sqlite3.Error as exc:
            raise _translate(exc, self.path) from None

    def _has_rows(self, table: str, charger: str | None = None) -> bool:
        where, args = ("", ()) if charger is None else (" WHERE charger = ?", (charger,))
        try:
            row = self._conn.execute(f"SELECT 1 FROM {table}{where} LIMIT 1", args).fetchone()
        except sqlite3.Error as exc:
            raise _translate(exc, self.path) from None
        return row is not None

    # --- writing ------------------------------------------------------------------------

    def apply(self, charger: str, actions: Sequence[Persist]) -> None:
        """Write ``actions`` in ONE transaction, committed before this returns.

        On any error nothing of them is written; a full disk raises :class:`StoreFull`.
        """
        if not actions:
            return
        with self._transaction("BEGIN IMMEDIATE"):
            for action in actions:
                self._write(charger, action)

    def reset(self, charger: str | None = None, keep_config: bool = False) -> None:
        """Delete every row of ``charger`` (of every charger: None), the config too unless
        ``keep_config``; the schema stays."""
        where, args = ("", ()) if charger is None else (" WHERE charger = ?", (charger,))
        with self._transaction("BEGIN IMMEDIATE"):
            for table in self._tables:
                if not (keep_config and table == "config"):
                    self._conn.execute(f"DELETE FROM {table}{where}", args)

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[None]:
        """All or nothing; SQLite's errors become :class:`StoreError`."""
        conn = self._conn
        try:
            conn.execute(begin)
            yield
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                with suppress(sqlite3.Error):  # the first error is the one to report
                    conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise _translate(exc, self.path) from None
            raise

    def _write(self, charger: str, action: Persist) -> None:
        run = self._conn.execute
        match action:
            case SaveConfig(key=key, value=value):
                run(
                    "INSERT OR REPLACE INTO config (charger, key, value) VALUES (?, ?, ?)",
                    (charger, key, value),
                )
            case SaveTransaction(record=r):
                run(
                    "INSERT OR REPLACE INTO transactions (charger, local_id, connector_id, "
                    "id_tag, meter_start, started, transaction_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (charger, r.local_id, r.connector_id, r.id_tag, r.meter_start, r.started)
                    + (r.transaction_id,),
                )
            case DeleteTransaction(local_id=local_id):
                run(
                    "DELETE FROM transactions WHERE charger = ? AND local_id = ?",
                    (charger, local_id),
                )
            case SaveRegister(connector_id=connector, energy_wh=energy, timestamp=timestamp):
                run(
                    "INSERT OR REPLACE INTO registers (charger, connector_id, energy_wh, "
                    "timestamp) VALUES (?, ?, ?, ?)",
                    (charger, connector, energy, timestamp),
                )
            case SaveQueued(message=m):
                run(
                    "INSERT OR REPLACE INTO queue (charger, seq, unique_id, action, payload, "
                    "local_tx, attempts) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (charger, m.seq, m.unique_id, m.action, json.dumps(m.payload), m.local_tx)
                    + (m.attempts,),
                )
            case SaveAvailability(connector_id=connector, operative=operative):
                run(
                    "INSERT OR REPLACE INTO availability (charger, connector_id, operative) "
                    "VALUES (?, ?, ?)",
                    (charger, connector, int(operative)),
                )
            case DeleteQueued(seq=seq):
                run("DELETE FROM queue WHERE charger = ? AND seq = ?", (charger, seq))
            case SaveAuth(id_tag=id_tag, status=status):
                run(
                    "INSERT OR REPLACE INTO auth_cache (charger, id_tag, status) VALUES (?, ?, ?)",
                    (charger, id_tag, status),
                )
            case ClearAuth():
                run("DELETE FROM auth_cache WHERE charger = ?", (charger,))
            case SaveCounter(name=name, value=value):
                run(
                    "INSERT OR REPLACE INTO counters (charger, name, value) VALUES (?, ?, ?)",
                    (charger, name, value),
                )
            case _:
                raise TypeError(f"the store cannot persist {type(action).__name__}")

    def _import_legacy(self, charger: str, config: dict[str, str]) -> None:
        """An earlier cpsim's ``config.json`` becomes this charger's configuration; the
        file is renamed ``config.json.imported`` once it has been (never deleted)."""
        self.apply(charger, [SaveConfig(key, value) for key, value in config.items()])
        legacy, self._legacy_path = self._legacy_path, None
        if legacy is None:
            return  # renamed by an earlier charger of this process
        try:
            done = _free_name(legacy.with_name(f"{legacy.name}.imported"))
            os.replace(legacy, done)
        except OSError as exc:
            log.warning("%s: imported into %s, but not renamed: %s", legacy, self.path, exc)
        else:
            log.info("%s: imported into %s for %s, renamed %s", legacy, self.path, charger, done)


# --- opening: the checks, each a one-line StoreError ----------------------------------------


def _prepare_dir(state_dir: Path) -> None:
    if state_dir.exists() and not state_dir.is_dir():
        raise StoreError(
            f"{state_dir}: not a directory; give --state-dir a directory "
            "(the charger state goes in it)"
        )
    if not state_dir.exists():
        try:
            state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            state_dir.chmod(0o700)
        except OSError as exc:
            raise StoreError(
                f"{state_dir}: cannot create the state dir ({exc.strerror}); "
                "choose another --state-dir"
            ) from None
    if not os.access(state_dir, os.R_OK | os.W_OK | os.X_OK):
        raise StoreError(
            f"{state_dir}: state dir not writable; fix it with `chmod u+rwx "
            f"{state_dir}` (as its owner) or choose another --state-dir"
        )


def _prepare_file(path: Path) -> None:
    """Create the database 0600 (before SQLite does, with the umask's mode) and tighten a
    looser one; SQLite gives its -wal and -shm the mode of the database."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise StoreError(f"{path}: not a regular file; {commands(path.parent)}")
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
        for suffix in _SIDE_FILES:
            side = Path(f"{path}{suffix}")
            if side.exists():
                side.chmod(0o600)
    except OSError as exc:
        raise StoreError(
            f"{exc.filename or path}: cannot open it for writing ({exc.strerror}); "
            f"fix its permissions, or {commands(path.parent)}"
        ) from None


def _connect(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error as exc:
        raise _translate(exc, path) from None
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        found = schema.version(conn)
        if found > schema.SCHEMA_VERSION:
            raise StoreUnreadable(
                path,
                f"written by {schema.written_by(conn)} (schema version {found}), newer than "
                f"this cpsim {schema.cpsim_version()} (schema version {schema.SCHEMA_VERSION})",
                tag="newer",
                advice="run it with that cpsim or a later one, or " + set_aside_advice(path.parent),
            )
        problem = conn.execute("PRAGMA quick_check(1)").fetchone()[0]
        if problem != "ok":
            raise StoreUnreadable(path, f"corrupt database ({problem})")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        schema.migrate(conn)
    except BaseException as exc:
        conn.close()
        if isinstance(exc, sqlite3.Error):
            raise _translate(exc, path) from None
        raise
    return conn


def _translate(exc: sqlite3.Error, path: Path) -> StoreError:
    """SQLite's error as the store's one-line message (SQLite's text holds no values)."""
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        return StoreUnreadable(path, f"corrupt database ({exc})")
    if code == sqlite3.SQLITE_FULL:
        return StoreFull(f"{path}: {exc}: nothing of this change was written; free some space")
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return StoreError(f"{path}: {exc}: is another cpsim using this state dir?")
    return StoreError(f"{path}: {exc}; {commands(path.parent)}")


def _charger_tables(conn: sqlite3.Connection) -> list[str]:
    """The tables with a ``charger`` column, in creation order (see schema.py)."""
    rows = conn.execute(
        "SELECT m.name FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS c "
        "WHERE m.type = 'table' AND c.name = 'charger' ORDER BY m.rowid"
    )
    return [row[0] for row in rows if row[0].isidentifier()]


# --- moving files aside ---------------------------------------------------------------------


def _free_name(path: Path) -> Path:
    """``path``, or ``path-1``, ``path-2``... whichever does not exist yet."""
    candidate, n = path, 0
    while candidate.exists() or Path(f"{candidate}-wal").exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def set_aside(path: Path, tag: str) -> Path:
    """Rename an unreadable ``path`` (with its -wal and -shm) to ``<name>.<tag>-<UTC time>``
    beside it, and return the new name: kept for inspection, out of the store's way."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = _free_name(path.with_name(f"{path.name}.{tag}-{stamp}"))
    try:
        os.replace(path, target)
        for suffix in _SIDE_FILES:
            side = Path(f"{path}{suffix}")
            if side.exists():
                os.replace(side, Path(f"{target}{suffix}"))
    except OSError as exc:
        reason = f"cannot move it aside to {target.name} ({exc.strerror})"
        raise StoreError(f"{path}: {reason}") from None
    return target
