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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any

from chargepoint.core.actions import Persist, SaveConfig
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
from .dbfile import (
    DB_NAME,
    charger_tables,
    check_file,
    connect,
    connect_readonly,
    create_database,
    free_name,
    prepare_file,
    translate,
)
from .errors import StoreError, StoreUnreadable
from .legacy import LEGACY_CONFIG, read_legacy_config
from .lock import StateDirLock
from .rows import COLUMNS, fetch, row_problem
from .writes import LIST_VERSION, write

log = logging.getLogger(__name__)


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
        self._tables = charger_tables(conn)
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
                create_database(path)
            prepare_file(path)
            store = cls(path, connect(path), taken)
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
        check_file(path, info)
        return cls(path, connect_readonly(path), readonly=True)

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
            names = ", ".join(column for column, _ in COLUMNS[table][1])
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
        return fetch(self._conn, sql, *args)

    def _check_row(self, table: str, charger: str, row: Sequence[object]) -> None:
        problem = row_problem(table, charger, row)
        if problem is not None:
            raise self._bad_row(charger, problem)

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
            raise translate(exc, self.path) from None
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
            raise translate(exc, self.path) from None
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
                write(self._conn, charger, action)

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
                        write(self._conn, charger, action)
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
                raise translate(exc, self.path) from None
            raise

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
            done = free_name(legacy.with_name(f"{legacy.name}.imported"))
            os.replace(legacy, done)
        except OSError as exc:
            log.warning("%s: imported into %s, but not renamed: %s", legacy, self.path, exc)
        else:
            log.info("%s: imported into %s for %s, renamed %s", legacy, self.path, charger, done)
