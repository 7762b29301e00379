"""The store's tables, as an ordered list of migrations numbered by ``PRAGMA user_version``.

A later feature (local authorization list, reservations, charging profiles,
installed certificates) adds its tables as a new :class:`Migration` at the end of
:data:`MIGRATIONS`; a migration that has shipped is never edited.  Every table
that holds a charger's rows has a ``charger`` column (the charge point id) first
in its primary key: the store finds those tables by that column, so ``reset``
and ``chargers`` cover new tables without a change.

Every table is STRICT (SQLite 3.37+): a value of the wrong type (``UPDATE registers
SET energy_wh = 'garbage'``) is refused when it is written, instead of reaching the
charger's core when it is read.  An older SQLite gets the same tables without the
option (:func:`for_this_sqlite`); ``Store.load`` checks the types it reads either way.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from importlib import metadata

STRICT_TABLES = sqlite3.sqlite_version_info >= (3, 37, 0)
"""Whether this SQLite knows STRICT tables (3.37, 2021).  One older than that cannot
read a database that has them: it reports the schema as malformed."""


@dataclass(frozen=True)
class Migration:
    version: int
    summary: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "configuration, open transactions, energy registers, the offline queue, "
        "connector availability, the authorization cache and counters",
        (
            """CREATE TABLE meta (
                key TEXT PRIMARY KEY,
                value TEXT NOT NULL
            ) STRICT, WITHOUT ROWID""",
            """CREATE TABLE config (
                charger TEXT NOT NULL,
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (charger, key)
            ) STRICT, WITHOUT ROWID""",
            """CREATE TABLE transactions (
                charger TEXT NOT NULL,
                local_id INTEGER NOT NULL,
                connector_id INTEGER NOT NULL,
                id_tag TEXT NOT NULL,
                meter_start INTEGER NOT NULL,
                started TEXT NOT NULL,
                transaction_id INTEGER,
                PRIMARY KEY (charger, local_id)
            ) STRICT, WITHOUT ROWID""",
            """CREATE TABLE registers (
                charger TEXT NOT NULL,
                connector_id INTEGER NOT NULL,
                energy_wh REAL NOT NULL,
                timestamp TEXT NOT NULL,
                PRIMARY KEY (charger, connector_id)
            ) STRICT, WITHOUT ROWID""",
            # A rowid table: payloads (MeterValues) can be a few kB.
            """CREATE TABLE queue (
                charger TEXT NOT NULL,
                seq INTEGER NOT NULL,
                unique_id TEXT NOT NULL,
                action TEXT NOT NULL,
                payload TEXT NOT NULL,
                local_tx INTEGER NOT NULL DEFAULT 0,
                attempts INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (charger, seq)
            ) STRICT""",
            """CREATE TABLE availability (
                charger TEXT NOT NULL,
                connector_id INTEGER NOT NULL,
                operative INTEGER NOT NULL,
                PRIMARY KEY (charger, connector_id)
            ) STRICT, WITHOUT ROWID""",
            """CREATE TABLE auth_cache (
                charger TEXT NOT NULL,
                id_tag TEXT NOT NULL,
                status TEXT NOT NULL,
                PRIMARY KEY (charger, id_tag)
            ) STRICT, WITHOUT ROWID""",
            """CREATE TABLE counters (
                charger TEXT NOT NULL,
                name TEXT NOT NULL,
                value INTEGER NOT NULL,
                PRIMARY KEY (charger, name)
            ) STRICT, WITHOUT ROWID""",
        ),
    ),
    Migration(
        2,
        "the feature profiles: charging profiles, the local authorization list, "
        "reservations, the cache's expiry and parent, named values (firmware), "
        "the security extension's certificates and keys",
        (
            # The profile as the CSMS sent it (JSON): the core re-validates it at load.
            """CREATE TABLE charging_profiles (
                charger TEXT NOT NULL,
                profile_id INTEGER NOT NULL,
                connector_id INTEGER NOT NULL,
                profile TEXT NOT NULL,
                PRIMARY KEY (charger, profile_id)
            ) STRICT""",
            """CREATE TABLE local_list (
                charger TEXT NOT NULL,
                id_tag TEXT NOT NULL,
                status TEXT NOT NULL,
                expiry TEXT,
                parent_id_tag TEXT,
                PRIMARY KEY (charger, id_tag)
            ) STRICT, WITHOUT ROWID""",
            """CREATE TABLE reservations (
                charger TEXT NOT NULL,
                reservation_id INTEGER NOT NULL,
                connector_id INTEGER NOT NULL,
                id_tag TEXT NOT NULL,
                parent_id_tag TEXT,
                expiry TEXT NOT NULL,
                PRIMARY KEY (charger, reservation_id)
            ) STRICT, WITHOUT ROWID""",
            # local_list_version and the feature layers' small values (firmware state).
            """CREATE TABLE charger_values (
                charger TEXT NOT NULL,
                name TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (charger, name)
            ) STRICT, WITHOUT ROWID""",
            # The security extension's certificates and private keys (PEM), by name.
            """CREATE TABLE security_objects (
                charger TEXT NOT NULL,
                name TEXT NOT NULL,
                value TEXT NOT NULL,
                PRIMARY KEY (charger, name)
            ) STRICT, WITHOUT ROWID""",
            "ALTER TABLE auth_cache ADD COLUMN expiry TEXT",
            "ALTER TABLE auth_cache ADD COLUMN parent_id_tag TEXT",
            "ALTER TABLE auth_cache ADD COLUMN updated REAL NOT NULL DEFAULT 0",
        ),
    ),
)

SCHEMA_VERSION = MIGRATIONS[-1].version


def cpsim_version() -> str:
    try:
        return metadata.version("ocpp-modem-sim")
    except metadata.PackageNotFoundError:
        return "unknown"


def version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def written_by(conn: sqlite3.Connection) -> str:
    """The cpsim that last migrated this database (for "written by a newer cpsim")."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'written_by'").fetchone()
    except sqlite3.Error:
        return "an unknown cpsim"
    return f"cpsim {row[0]}" if row else "an unknown cpsim"


def for_this_sqlite(statement: str) -> str:
    """``statement`` as this SQLite runs it: a CREATE TABLE loses its STRICT option
    before 3.37 (the table options are what follows its last parenthesis)."""
    if STRICT_TABLES or not statement.lstrip().upper().startswith("CREATE TABLE"):
        return statement
    body, paren, options = statement.rpartition(")")
    kept = [o.strip() for o in options.split(",") if o.strip() and o.strip().upper() != "STRICT"]
    return f"{body}{paren} {', '.join(kept)}".rstrip()


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the database to :data:`SCHEMA_VERSION`: every pending migration in ONE
    transaction, so a crash or a second process never sees half a schema."""
    if version(conn) == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = version(conn)  # again, under the write lock: another process may have won
        pending = [m for m in MIGRATIONS if m.version > current]
        for migration in pending:
            for statement in migration.statements:
                conn.execute(for_this_sqlite(statement))
            conn.execute(f"PRAGMA user_version = {migration.version:d}")
        if pending:
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('written_by', ?)",
                (cpsim_version(),),
            )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
