"""The database file: creating it safely, opening it (read-write or read-only), the checks
that each give a one-line :class:`StoreError`, and moving an unreadable one aside."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from contextlib import suppress
from pathlib import Path

from . import schema
from .errors import StoreError, StoreFull, StoreUnreadable, commands, set_aside_advice
from .rows import UNDECODABLE

DB_NAME = "cpsim.sqlite3"
SIDE_FILES = ("-wal", "-shm")

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


# --- opening: the checks, each a one-line StoreError ----------------------------------------


def create_database(path: Path) -> None:
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
            raise translate(exc, path) from None
        if isinstance(exc, OSError):
            raise StoreError(
                f"{exc.filename or path}: cannot create the database ({exc.strerror}); "
                "free some space or choose another --state-dir"
            ) from None
        raise


def check_file(path: Path, info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise StoreError(f"{path}: not a regular file; {commands(path.parent)}")
    if info.st_size == 0:
        # never a new store: only a missing file is created (see create_database), so an empty
        # one is a database that lost its contents, and its queued messages with them
        raise StoreUnreadable(path, "empty file: truncated?")


def prepare_file(path: Path) -> None:
    """Check the existing database and tighten a looser mode to 0600 (SQLite gives its
    -wal and -shm the mode of the database)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        try:
            check_file(path, os.fstat(fd))
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
        for suffix in SIDE_FILES:
            side = Path(f"{path}{suffix}")
            if side.exists():
                side.chmod(0o600)
    except OSError as exc:
        raise StoreError(
            f"{exc.filename or path}: cannot open it for writing ({exc.strerror}); "
            f"fix its permissions, or {commands(path.parent)}"
        ) from None


def connect(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error as exc:
        raise translate(exc, path) from None
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        check_database(conn, path)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES:d}")
        conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT:d}")
        schema.migrate(conn)
    except BaseException as exc:
        conn.close()
        if isinstance(exc, sqlite3.Error):
            raise translate(exc, path) from None
        raise
    return conn


def connect_readonly(path: Path) -> sqlite3.Connection:
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
        check_database(conn, path)
    except BaseException as exc:
        if conn is not None:
            conn.close()
        if isinstance(exc, sqlite3.Error):
            raise translate(exc, path) from None
        raise
    return conn


_SQLITE_READONLY_DIRECTORY = 1544  # SQLITE_READONLY | (6 << 8)


def check_database(conn: sqlite3.Connection, path: Path) -> None:
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


def translate(exc: sqlite3.Error, path: Path) -> StoreError:
    """SQLite's error as the store's one-line message (SQLite's text holds no values;
    Python's for undecodable text does, and is cut before it)."""
    if str(exc).startswith(UNDECODABLE):
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


def charger_tables(conn: sqlite3.Connection) -> list[str]:
    """The tables with a ``charger`` column, in creation order (see schema.py)."""
    rows = conn.execute(
        "SELECT m.name FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS c "
        "WHERE m.type = 'table' AND c.name = 'charger' ORDER BY m.rowid"
    )
    return [row[0] for row in rows if row[0].isidentifier()]


# --- moving files aside ---------------------------------------------------------------------


def free_name(path: Path) -> Path:
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
    target = free_name(path.with_name(f"{path.name}.{tag}-{stamp}"))
    try:
        os.replace(path, target)
        for suffix in SIDE_FILES:
            side = Path(f"{path}{suffix}")
            if side.exists():
                os.replace(side, Path(f"{target}{suffix}"))
    except OSError as exc:
        reason = f"cannot move it aside to {target.name} ({exc.strerror})"
        raise StoreError(f"{path}: {reason}") from None
    return target
