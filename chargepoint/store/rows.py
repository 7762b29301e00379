"""Reading: the columns each table must hold and their types, and queries that survive
text that is not UTF-8 without quoting it (a config value may be a secret)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any


class _NotText:
    """What a TEXT value that is not UTF-8 reads as in :func:`fetch`."""


def _text(data: bytes) -> str | _NotText:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _NotText()


UNDECODABLE = "Could not decode to UTF-8"
"""How Python's sqlite3 starts the error for TEXT that is not UTF-8, which goes on to
quote the text: a config value may be a secret (see :func:`fetch`)."""


# The columns ``load`` reads from each table and the type each must have: what a
# STRICT table guarantees, checked again for a database written without STRICT (an
# older SQLite) or edited by hand.  The first column names the row in a message.
_TEXT, _INT, _NUMBER = "text", "an integer", "a number"
_INT_OR_NULL, _TEXT_OR_NULL = "an integer or null", "text or null"
COLUMNS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
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


TYPES = {
    _TEXT: (str,),
    _INT: (int,),
    _NUMBER: (int, float),
    _INT_OR_NULL: (int, type(None)),
    _TEXT_OR_NULL: (str, type(None)),
}
ROW_TYPES = {
    table: tuple(TYPES[kind] for _, kind in columns) for table, (_, columns) in COLUMNS.items()
}
"""Per table, what ``isinstance`` takes for each column: the check of a whole row is one
``all(map(isinstance, row, types))`` (a load of a charger with a full queue checks
hundreds of values)."""


def fetch(conn: sqlite3.Connection, sql: str, *args: object) -> list[Any]:
    """The rows of a query.  Text that is not UTF-8 makes Python's sqlite3 fail with
    the text in its message; then the query runs again with such text read as a
    marker, which the type checks report without it (not the first time: a Python
    text factory costs every load a few microseconds)."""
    try:
        return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError as exc:
        if not str(exc).startswith(UNDECODABLE):
            raise
    conn.text_factory = _text
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.text_factory = str


def row_problem(table: str, charger: str, row: Sequence[object]) -> str | None:
    """What is wrong with a row of ``table`` (naming the table, row and column, never the
    value: it may be a secret), or None when every column has its type."""
    if all(map(isinstance, row, ROW_TYPES[table])):
        return None
    noun, columns = COLUMNS[table]
    (key_column, key_kind), key = columns[0], row[0]
    where = f"table {table}, charger {charger}"
    if not isinstance(key, TYPES[key_kind]):
        return f"{where}: {key_column} is not {key_kind}"
    for (column, kind), value in zip(columns[1:], row[1:], strict=True):
        if not isinstance(value, TYPES[kind]):
            return f"{where}, {noun} {key}: {column} is not {kind}"
    raise AssertionError("unreachable")  # all() was False: some column did not fit
