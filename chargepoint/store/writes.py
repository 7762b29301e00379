"""Writing: each persist action of the core as its SQL, run inside the store's transaction."""

from __future__ import annotations

import json
import sqlite3

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
from chargepoint.core.records import AuthEntry

LIST_VERSION = "local_list.version"
"""The charger_values row holding the Local Authorization List's version."""


def write(conn: sqlite3.Connection, charger: str, action: Persist) -> None:
    """One persist action as SQL on ``conn``, inside the caller's transaction."""
    run = conn.execute
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
            _upsert_list(conn, charger, entries)
            save_value(conn, charger, LIST_VERSION, str(version))
        case UpdateLocalList(version=version, upserts=upserts, deletes=deletes):
            conn.executemany(
                "DELETE FROM local_list WHERE charger = ? AND id_tag = ?",
                [(charger, id_tag) for id_tag in deletes],
            )
            _upsert_list(conn, charger, upserts)
            save_value(conn, charger, LIST_VERSION, str(version))
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
            save_value(conn, charger, name, value)
        case DeleteValue(name=name):
            run("DELETE FROM charger_values WHERE charger = ? AND name = ?", (charger, name))
        case SaveSecurityObject(name=name, value=value):
            run(
                "INSERT OR REPLACE INTO security_objects (charger, name, value) VALUES (?, ?, ?)",
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


def _upsert_list(conn: sqlite3.Connection, charger: str, entries: dict[str, AuthEntry]) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO local_list (charger, id_tag, status, expiry, parent_id_tag) "
        "VALUES (?, ?, ?, ?, ?)",
        [(charger, tag, e.status, e.expiry, e.parent_id_tag) for tag, e in entries.items()],
    )


def save_value(conn: sqlite3.Connection, charger: str, name: str, value: str) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO charger_values (charger, name, value) VALUES (?, ?, ?)",
        (charger, name, value),
    )
