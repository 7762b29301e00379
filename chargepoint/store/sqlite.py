"""The store: one SQLite file per process, ``<state-dir>/cpsim.sqlite3``, every row keyed by
the charge point id, so a fleet of chargers shares one file.

The core's shell calls :meth:`Store.apply` with the persist actions of one step; they are
committed in one transaction before it returns (WAL, ``synchronous=NORMAL``: a commit
survives a crash of the process; a power loss may lose the last commits, never
consistency).  The file holds the AuthorizationKey, so it and its ``-wal``/``-shm`` are
mode 0600, in a state dir created 0700.

One process at a time uses a state dir: :meth:`Store.open` holds its lock
(:mod:`.lock`) until :meth:`Store.close`.  :meth:`Store.open_readonly` (``cpsim state
show``) takes no lock and writes nothing, so it works beside a running charger and on
a read-only dir.  A process with many chargers opens ONE store and gives it to each
of them (every row is keyed by the charge point id).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shlex
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
    DeleteAuth,
    DeleteProfile,
    DeleteQueued,
    DeleteReservation,
    DeleteSecurityObject,
    DeleteTransaction,
    DeleteValue,
    Persist,
    ReplaceLocalList,
    SaveAuth,
    SaveAvailability,
    SaveConfig,
    SaveCounter,
    SaveProfile,
    SaveQueued,
    SaveRegister,
    SaveReservation,
    SaveSecurityObject,
    SaveTransaction,
    SaveValue,
    UpdateLocalList,
)
from chargepoint.core.records import (
    AuthEntry,
    MeterReading,
    QueuedMessage,
    ReservationRecord,
    StoredProfile,
    StoredState,
    TransactionRecord,
)

from . import schema
from .errors import StoreError, StoreFull, StoreUnreadable, commands, set_aside_advice
from .legacy import LEGACY_CONFIG, read_legacy_config
from .lock import StateDirLock

log = logging.getLogger(__name__)

DB_NAME = "cpsim.sqlite3"
_SIDE_FILES = ("-wal", "-shm")

# Why these two: the WAL grows with every commit until a checkpoint copies its pages
# into the database; SQLite then reuses the file from its start but never shrinks it.
# wal_autocheckpoint (SQLite's default, 1000 pages, 4 MiB at 4 KiB pages) bounds how
# far it grows in steady running, and so how much a restart after a crash replays.
# A burst can still grow it far beyond that (one big apply, or a long read such as
# `cpsim state show` of a large fleet holding back the checkpoint); journal_size_limit
# truncates it back to 4 MiB at the next checkpoint instead of keeping that high-water
# mark on disk for good: the state dir is the database plus at most ~4 MiB of WAL.
WAL_AUTOCHECKPOINT_PAGES = 1000
JOURNAL_SIZE_LIMIT = 4 * 1024 * 1024

LIST_VERSION = "local_list.version"
"""The charger_values row holding the Local Authorization List's version."""


class _NotText:
    """What a TEXT value that is not UTF-8 reads as in :meth:`Store._fetch`."""


def _text(data: bytes) -> str | _NotText:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _NotText()


_UNDECODABLE = "Could not decode to UTF-8"
"""How Python's sqlite3 starts the error for TEXT that is not UTF-8, which goes on to
quote the text: a config value may be a secret (see :meth:`Store._fetch`)."""


# The columns ``load`` reads from each table and the type each must have: what a
# STRICT table guarantees, checked again for a database written without STRICT (an
# older SQLite) or edited by hand.  The first column names the row in a message.
_TEXT, _INT, _NUMBER = "text", "an integer", "a number"
_INT_OR_NULL, _TEXT_OR_NULL = "an integer or null", "text or null"
_COLUMNS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    # table: (what its first column names, ((column, type), ...))
    "config": ("key", (("key", _TEXT), ("value", _TEXT))),
    "transactions": (
        "transaction",
        (
            ("local_id", _INT),
            ("connector_id", _INT),
            ("id_tag", _TEXT),
            ("meter_start", _INT),
            ("started", _TEXT),
            ("transaction_id", _INT_OR_NULL),
        ),
    ),
    "queue": (
        "message",
        (
            ("seq", _INT),
            ("unique_id", _TEXT),
            ("action", _TEXT),
            ("payload", _TEXT),
            ("local_tx", _INT),
            ("attempts", _INT),
        ),
    ),
    "registers": (
        "connector",
        (("connector_id", _INT), ("energy_wh", _NUMBER), ("timestamp", _TEXT)),
    ),
    "availability": ("connector", (("connector_id", _INT), ("operative", _INT))),
    "auth_cache": (
        "idTag",
        (
            ("id_tag", _TEXT),
            ("status", _TEXT),
            ("expiry", _TEXT_OR_NULL),
            ("parent_id_tag", _TEXT_OR_NULL),
            ("updated", _NUMBER),
        ),
    ),
    "counters": ("counter", (("name", _TEXT), ("value", _INT))),
    "charging_profiles": (
        "profile",
        (("profile_id", _INT), ("connector_id", _INT), ("profile", _TEXT)),
    ),
    "local_list": (
        "idTag",
        (
            ("id_tag", _TEXT),
            ("status", _TEXT),
            ("expiry", _TEXT_OR_NULL),
            ("parent_id_tag", _TEXT_OR_NULL),
        ),
    ),
    "reservations": (
        "reservation",
        (
            ("reservation_id", _INT),
            ("connector_id", _INT),
            ("id_tag", _TEXT),
            ("parent_id_tag", _TEXT_OR_NULL),
            ("expiry", _TEXT),
        ),
    ),
    "charger_values": ("value", (("name", _TEXT), ("value", _TEXT))),
    "security_objects": ("security object", (("name", _TEXT), ("value", _TEXT))),
}


_TYPES = {
    _TEXT: (str,),
    _INT: (int,),
    _NUMBER: (int, float),
    _INT_OR_NULL: (int, type(None)),
    _TEXT_OR_NULL: (str, type(None)),
}
_ROW_TYPES = {
    table: tuple(_TYPES[kind] for _, kind in columns) for table, (_, columns) in _COLUMNS.items()
}
"""Per table, what ``isinstance`` takes for each column: the check of a whole row is one
``all(map(isinstance, row, types))`` (a load of a charger with a full queue checks
hundreds of values)."""


class Store:
    """The charger state of every charger of a process (see the module doc)."""

    def __init__(
        self,
        path: Path,
        conn: sqlite3.Connection,
        lock: StateDirLock | None = None,
        readonly: bool = False,
    ) -> None:
        self.path = path
        self.readonly = readonly
        self._conn = conn
        self._lock = lock
        """The state dir's lock when this store took it (``close`` releases it)."""
        self._closed = False
        self._tables = _charger_tables(conn)
        self._legacy: dict[str, str] | None = None
        self._legacy_path: Path | None = None
        self._deferred: list[tuple[str, list[Persist]]] = []
        self._flush_scheduled = False

    # --- opening and closing ------------------------------------------------------------

    @classmethod
    def open(cls, state_dir: Path, lock: StateDirLock | None = None) -> Store:
        """Open (or create) the store of ``state_dir`` for writing, holding its lock until
        :meth:`close`; :class:`StoreLocked` if another process (or another store of this
        one) has it, :class:`StoreError` on a bad one.

        ``lock``: the dir's lock, already held by the caller, who keeps it (``close``
        does not release it).
        """
        state_dir = Path(state_dir)
        if lock is None:
            taken = lock = StateDirLock.acquire(state_dir)
        else:
            taken = None
            if not lock.held or lock.state_dir != state_dir:
                raise ValueError(f"not a held lock of {state_dir}")
        try:
            path = state_dir / DB_NAME
            if not os.path.lexists(path):
                _create(path)
            _prepare_file(path)
            store = cls(path, _connect(path), taken)
        except BaseException:
            if taken is not None:
                taken.release()
            raise
        try:
            legacy = state_dir / LEGACY_CONFIG
            if legacy.is_file() and not store._has_rows("config"):
                store._legacy, store._legacy_path = read_legacy_config(legacy), legacy
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def open_readonly(cls, state_dir: Path) -> Store:
        """Open the existing store of ``state_dir`` to read it: no lock (a running charger
        may have it), no migration (one of an older schema reads as it is), nothing
        written, so a read-only dir will do.  ``apply`` and ``reset`` refuse; ``load``
        does not import an earlier cpsim's ``config.json``."""
        state_dir = Path(state_dir)
        if not state_dir.is_dir():
            raise StoreError(f"{state_dir}: no such state dir (or not a directory)")
        path = state_dir / DB_NAME
        try:
            info = os.stat(path)
        except FileNotFoundError:
            raise StoreError(
                f"{path}: no database yet (the first `cpsim run` creates it)"
            ) from None
        except OSError as exc:
            raise StoreError(f"{path}: cannot read it ({exc.strerror})") from None
        _check_file(path, info)
        return cls(path, _connect_readonly(path), readonly=True)

    def close(self) -> None:
        """Close the database and release the state dir; a second call does nothing."""
        if self._closed:
            return
        if self._deferred:
            with suppress(StoreError):  # logged by the shell's last flush already
                self.flush()
        self._closed = True
        try:
            self._conn.close()
        finally:
            if self._lock is not None:
                self._lock.release()

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
        """Everything stored for ``charger`` (empty for one the store has never seen);
        :class:`StoreUnreadable` naming the table, row and column of a value of the wrong
        type (never the value: it may be a secret)."""
        if self._legacy is not None and not self._has_rows("config", charger):
            self._import_legacy(charger, self._legacy)

        def rows(table: str, order: str = "") -> list[Any]:
            """The rows of ``table``, type-checked; [] for a table the schema of an older
            cpsim does not have yet (``open_readonly`` does not migrate)."""
            if table not in self._tables:
                return []
            names = ", ".join(column for column, _ in _COLUMNS[table][1])
            found = self._fetch(f"SELECT {names} FROM {table} WHERE charger = ?{order}", charger)
            for row in found:
                self._check_row(table, charger, row)
            return found

        with self._transaction("BEGIN"):  # one snapshot of all the tables
            values = dict(rows("charger_values"))
            return StoredState(
                config=dict(rows("config")),
                transactions=[
                    TransactionRecord(*row) for row in rows("transactions", " ORDER BY local_id")
                ],
                queue=[
                    QueuedMessage(
                        seq, unique_id, action, self._payload(charger, seq, text), tx, attempts
                    )
                    for seq, unique_id, action, text, tx, attempts in rows("queue", " ORDER BY seq")
                ],
                registers={
                    connector: MeterReading(float(energy), timestamp)
                    for connector, energy, timestamp in rows("registers", " ORDER BY connector_id")
                },
                availability={
                    connector: bool(operative) for connector, operative in rows("availability")
                },
                auth_cache={
                    id_tag: AuthEntry(status, expiry, parent, float(updated))
                    for id_tag, status, expiry, parent, updated in rows("auth_cache")
                },
                counters=dict(rows("counters")),
                local_list={
                    id_tag: AuthEntry(status, expiry, parent)
                    for id_tag, status, expiry, parent in rows("local_list")
                },
                local_list_version=self._list_version(charger, values),
                charging_profiles=[
                    StoredProfile(profile_id, connector, self._profile(charger, profile_id, text))
                    for profile_id, connector, text in rows(
                        "charging_profiles", " ORDER BY profile_id"
                    )
                ],
                reservations=[
                    ReservationRecord(*row)
                    for row in rows("reservations", " ORDER BY reservation_id")
                ],
                values=values,
                security=dict(rows("security_objects")),
            )

    def _fetch(self, sql: str, *args: object) -> list[Any]:
        """The rows of a query.  Text that is not UTF-8 makes Python's sqlite3 fail with
        the text in its message; then the query runs again with such text read as a
        marker, which the type checks report without it (not the first time: a Python
        text factory costs every load a few microseconds)."""
        try:
            return self._conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            if not str(exc).startswith(_UNDECODABLE):
                raise
        self._conn.text_factory = _text
        try:
            return self._conn.execute(sql, args).fetchall()
        finally:
            self._conn.text_factory = str

    def _check_row(self, table: str, charger: str, row: Sequence[object]) -> None:
        if all(map(isinstance, row, _ROW_TYPES[table])):
            return
        noun, columns = _COLUMNS[table]
        (key_column, key_kind), key = columns[0], row[0]
        where = f"table {table}, charger {charger}"
        if not isinstance(key, _TYPES[key_kind]):
            raise self._bad_row(charger, f"{where}: {key_column} is not {key_kind}")
        for (column, kind), value in zip(columns[1:], row[1:], strict=True):
            if not isinstance(value, _TYPES[kind]):
                raise self._bad_row(charger, f"{where}, {noun} {key}: {column} is not {kind}")
        raise AssertionError("unreachable")  # all() was False: some column did not fit

    def _bad_row(self, charger: str, reason: str) -> StoreUnreadable:
        """A row of the wrong type: dropping that charger's rows is enough (its file and
        the other chargers' rows are fine)."""
        reset = f"cpsim state reset --state-dir {shlex.quote(str(self.path.parent))}"
        return StoreUnreadable(
            self.path,
            reason,
            advice=f"drop that charger's state with `{reset} --id {shlex.quote(charger)}`",
        )

    def _profile(self, charger: str, profile_id: int, text: str) -> dict[str, Any]:
        try:
            profile = json.loads(text)
        except ValueError:
            profile = None
        if not isinstance(profile, dict):
            reason = (
                f"table charging_profiles, charger {charger}, profile {profile_id}: "
                "profile is not a JSON object"
            )
            raise self._bad_row(charger, reason)
        return profile

    def _list_version(self, charger: str, values: dict[str, str]) -> int:
        text = values.pop(LIST_VERSION, "0")
        if not text.lstrip("-").isdigit():
            reason = f"table charger_values, charger {charger}: {LIST_VERSION} is not a number"
            raise self._bad_row(charger, reason)
        return int(text)

    def _payload(self, charger: str, seq: int, text: str) -> dict[str, Any]:
        try:
            payload = json.loads(text)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            reason = f"table queue, charger {charger}, message {seq}: payload is not a JSON object"
            raise self._bad_row(charger, reason)
        return payload

    def chargers(self) -> list[str]:
        """Every charge point id with a row in any table, sorted."""
        if not self._tables:
            return []
        union = " UNION ".join(f"SELECT charger FROM {table}" for table in self._tables)
        try:
            found = [row[0] for row in self._fetch(f"{union} ORDER BY 1")]
        except sqlite3.Error as exc:
            raise _translate(exc, self.path) from None
        if not all(isinstance(charger, str) for charger in found):
            raise StoreUnreadable(self.path, "a charge point id (column charger) is not text")
        return found

    def row_counts(self, charger: str | None = None) -> dict[str, int]:
        """How many rows each table holds for ``charger`` (for every charger: None);
        tables without any are left out.  Reads no values, so it works on rows ``load``
        finds of the wrong type (``cpsim state reset`` counts what it drops with it)."""
        where, args = ("", ()) if charger is None else (" WHERE charger = ?", (charger,))
        counts: dict[str, int] = {}
        with self._transaction("BEGIN"):  # one snapshot
            for table in self._tables:
                sql = f"SELECT count(*) FROM {table}{where}"
                counts[table] = int(self._conn.execute(sql, args).fetchone()[0])
        return {table: n for table, n in counts.items() if n}

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
        self._writable()
        with self._transaction("BEGIN IMMEDIATE"):
            for action in actions:
                self._write(charger, action)

    # --- group commit (a fleet: many chargers, one transaction per loop tick) ------------

    group_commit: bool = False
    """Set by a fleet: :meth:`defer` queues a step's persists, and ONE transaction per
    loop tick commits every charger's (:meth:`flush`), instead of one each."""

    def defer(self, charger: str, actions: Sequence[Persist]) -> None:
        """Queue ``actions`` for the flush at the end of this loop tick (scheduled here).

        The shell calls :meth:`flush` before it sends any frame, so a persist is still
        committed before any later send of its charger (the core's guarantee)."""
        if not actions:
            return
        self._deferred.append((charger, list(actions)))
        if not self._flush_scheduled:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop (a charger being built): commit now
                self.flush()
                return
            self._flush_scheduled = True
            loop.call_soon(self._scheduled_flush)

    @property
    def has_deferred(self) -> bool:
        return bool(self._deferred)

    def flush(self) -> None:
        """Commit every deferred persist in ONE transaction; on an error nothing of them
        is written and they stay queued for the next flush (:class:`StoreError`)."""
        if not self._deferred:
            return
        self._writable()
        batch, self._deferred = self._deferred, []
        try:
            with self._transaction("BEGIN IMMEDIATE"):
                for charger, actions in batch:
                    for action in actions:
                        self._write(charger, action)
        except BaseException:
            self._deferred[:0] = batch
            raise

    def _scheduled_flush(self) -> None:
        self._flush_scheduled = False
        try:
            self.flush()
        except StoreError as exc:
            log.error("%s; %d chargers' changes stay in memory", exc, len(self._deferred))

    def reset(self, charger: str | None = None, keep_config: bool = False) -> None:
        """Delete every row of ``charger`` (of every charger: None), the config too unless
        ``keep_config``; the schema stays."""
        self._writable()
        where, args = ("", ()) if charger is None else (" WHERE charger = ?", (charger,))
        with self._transaction("BEGIN IMMEDIATE"):
            for table in self._tables:
                if not (keep_config and table == "config"):
                    self._conn.execute(f"DELETE FROM {table}{where}", args)

    def _writable(self) -> None:
        if self.readonly:
            raise StoreError(f"{self.path}: opened read-only (by `cpsim state show`?)")

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
            case SaveAuth(id_tag=id_tag, entry=e):
                run(
                    "INSERT OR REPLACE INTO auth_cache (charger, id_tag, status, expiry, "
                    "parent_id_tag, updated) VALUES (?, ?, ?, ?, ?, ?)",
                    (charger, id_tag, e.status, e.expiry, e.parent_id_tag, e.updated),
                )
            case DeleteAuth(id_tag=id_tag):
                run("DELETE FROM auth_cache WHERE charger = ? AND id_tag = ?", (charger, id_tag))
            case ClearAuth():
                run("DELETE FROM auth_cache WHERE charger = ?", (charger,))
            case ReplaceLocalList(version=version, entries=entries):
                run("DELETE FROM local_list WHERE charger = ?", (charger,))
                self._upsert_list(charger, entries)
                self._save_value(charger, LIST_VERSION, str(version))
            case UpdateLocalList(version=version, upserts=upserts, deletes=deletes):
                self._conn.executemany(
                    "DELETE FROM local_list WHERE charger = ? AND id_tag = ?",
                    [(charger, id_tag) for id_tag in deletes],
                )
                self._upsert_list(charger, upserts)
                self._save_value(charger, LIST_VERSION, str(version))
            case SaveProfile(connector_id=connector, profile=profile):
                run(
                    "INSERT OR REPLACE INTO charging_profiles (charger, profile_id, "
                    "connector_id, profile) VALUES (?, ?, ?, ?)",
                    (charger, int(profile["chargingProfileId"]), connector, json.dumps(profile)),
                )
            case DeleteProfile(profile_id=profile_id):
                run(
                    "DELETE FROM charging_profiles WHERE charger = ? AND profile_id = ?",
                    (charger, profile_id),
                )
            case SaveReservation(record=r):
                run(
                    "INSERT OR REPLACE INTO reservations (charger, reservation_id, "
                    "connector_id, id_tag, parent_id_tag, expiry) VALUES (?, ?, ?, ?, ?, ?)",
                    (charger, r.reservation_id, r.connector_id, r.id_tag, r.parent_id_tag)
                    + (r.expiry,),
                )
            case DeleteReservation(reservation_id=reservation_id):
                run(
                    "DELETE FROM reservations WHERE charger = ? AND reservation_id = ?",
                    (charger, reservation_id),
                )
            case SaveValue(name=name, value=value):
                self._save_value(charger, name, value)
            case DeleteValue(name=name):
                run("DELETE FROM charger_values WHERE charger = ? AND name = ?", (charger, name))
            case SaveSecurityObject(name=name, value=value):
                run(
                    "INSERT OR REPLACE INTO security_objects (charger, name, value) "
                    "VALUES (?, ?, ?)",
                    (charger, name, value),
                )
            case DeleteSecurityObject(name=name):
                run("DELETE FROM security_objects WHERE charger = ? AND name = ?", (charger, name))
            case SaveCounter(name=name, value=value):
                run(
                    "INSERT OR REPLACE INTO counters (charger, name, value) VALUES (?, ?, ?)",
                    (charger, name, value),
                )
            case _:
                raise TypeError(f"the store cannot persist {type(action).__name__}")

    def _upsert_list(self, charger: str, entries: dict[str, AuthEntry]) -> None:
        self._conn.executemany(
            "INSERT OR REPLACE INTO local_list (charger, id_tag, status, expiry, parent_id_tag) "
            "VALUES (?, ?, ?, ?, ?)",
            [(charger, tag, e.status, e.expiry, e.parent_id_tag) for tag, e in entries.items()],
        )

    def _save_value(self, charger: str, name: str, value: str) -> None:
        self._conn.execute(
            "INSERT OR REPLACE INTO charger_values (charger, name, value) VALUES (?, ?, ?)",
            (charger, name, value),
        )

    def _import_legacy(self, charger: str, config: dict[str, str]) -> None:
        """An earlier cpsim's ``config.json`` becomes this charger's configuration; the
        file is renamed ``config.json.imported`` once it has been (never deleted)."""
        self.apply(charger, [SaveConfig(key, value) for key, value in config.items()])
        legacy, self._legacy_path = self._legacy_path, None
        if legacy is None:
            return  # renamed by an earlier charger of this process
        try:  # it holds the AuthorizationKey in clear: 0600 like the database
            legacy.chmod(0o600)
        except OSError as exc:
            log.warning("%s: cannot make it private (%s)", legacy, exc.strerror)
        try:
            done = _free_name(legacy.with_name(f"{legacy.name}.imported"))
            os.replace(legacy, done)
        except OSError as exc:
            log.warning("%s: imported into %s, but not renamed: %s", legacy, self.path, exc)
        else:
            log.info("%s: imported into %s for %s, renamed %s", legacy, self.path, charger, done)


# --- opening: the checks, each a one-line StoreError ----------------------------------------


def _create(path: Path) -> None:
    """A new, migrated database at ``path``: built as ``<name>.new`` and renamed once it
    is complete and on disk, so a crash while creating never leaves at ``path`` an empty
    file that the next start would take for a database (the caller holds the lock)."""
    new = path.with_name(f"{path.name}.new")
    try:
        for leftover in ("", "-journal", "-wal", "-shm"):  # of a creation that crashed
            Path(f"{new}{leftover}").unlink(missing_ok=True)
        os.close(os.open(new, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
        os.chmod(new, 0o600)  # whatever the umask
        conn = sqlite3.connect(new, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous = FULL")
            schema.migrate(conn)
        finally:
            conn.close()
        fd = os.open(new, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(new, path)
        fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(fd)  # the rename itself
        finally:
            os.close(fd)
    except BaseException as exc:
        with suppress(OSError):
            new.unlink(missing_ok=True)
        if isinstance(exc, sqlite3.Error):
            raise _translate(exc, path) from None
        if isinstance(exc, OSError):
            raise StoreError(
                f"{exc.filename or path}: cannot create the database ({exc.strerror}); "
                "free some space or choose another --state-dir"
            ) from None
        raise


def _check_file(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise StoreError(f"{path}: not a regular file; {commands(path.parent)}")
    if info.st_size == 0:
        # never a new store: only a missing file is created (see _create), so an empty
        # one is a database that lost its contents, and its queued messages with them
        raise StoreUnreadable(path, "empty file: truncated?")


def _prepare_file(path: Path) -> None:
    """Check the existing database and tighten a looser mode to 0600 (SQLite gives its
    -wal and -shm the mode of the database)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        try:
            _check_file(path, os.fstat(fd))
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
        _check_database(conn, path)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES:d}")
        conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT:d}")
        schema.migrate(conn)
    except BaseException as exc:
        conn.close()
        if isinstance(exc, sqlite3.Error):
            raise _translate(exc, path) from None
        raise
    return conn


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A connection that cannot write (``mode=ro``, ``query_only``) and sets nothing
    persistent.  A WAL reader needs the -shm file; in a read-only dir without one (the
    last writer closed cleanly and removed it) the database is opened ``immutable``
    instead, which is exact only while nobody writes it, so only when no -wal holds
    changes that it would not see."""
    uri = path.absolute().as_uri()
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None)
        try:
            schema.version(conn)
        except sqlite3.OperationalError as exc:
            # SQLite cannot create the -shm (SQLITE_READONLY_DIRECTORY) or, with a -wal
            # left by a crash, cannot open it (SQLITE_CANTOPEN)
            if os.access(path.parent, os.W_OK) or getattr(exc, "sqlite_errorcode", 0) not in (
                _SQLITE_READONLY_DIRECTORY,
                sqlite3.SQLITE_CANTOPEN,
            ):
                raise
            conn.close()
            conn = None
            wal = Path(f"{path}-wal")
            if wal.exists() and wal.stat().st_size > 0:
                raise StoreError(
                    f"{path}: cannot read it in a read-only dir while {wal.name} holds changes "
                    "not yet in it; copy the state dir somewhere writable and inspect the copy"
                ) from None
            conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None)
        conn.execute("PRAGMA query_only = 1")
        conn.execute("PRAGMA busy_timeout = 5000")
        _check_database(conn, path)
    except BaseException as exc:
        if conn is not None:
            conn.close()
        if isinstance(exc, sqlite3.Error):
            raise _translate(exc, path) from None
        raise
    return conn


_SQLITE_READONLY_DIRECTORY = 1544  # SQLITE_READONLY | (6 << 8)


def _check_database(conn: sqlite3.Connection, path: Path) -> None:
    """Not from a newer cpsim, and not corrupt (PRAGMA quick_check)."""
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


def _translate(exc: sqlite3.Error, path: Path) -> StoreError:
    """SQLite's error as the store's one-line message (SQLite's text holds no values;
    Python's for undecodable text does, and is cut before it)."""
    if str(exc).startswith(_UNDECODABLE):
        column = str(exc).split(" with text", 1)[0]
        return StoreUnreadable(path, f"{column[0].lower()}{column[1:]}")
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
        if not schema.STRICT_TABLES and "malformed database schema" in str(exc):
            reason = (
                f"corrupt database, or one with STRICT tables that this SQLite "
                f"{sqlite3.sqlite_version} is too old to read (they need 3.37) ({exc})"
            )
            return StoreUnreadable(path, reason)
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
