"""Schema v2: the feature profiles' rows (charging profiles, the local list, reservations,
named values, the cache's expiry and parent) round-trip, and a v1 database migrates."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from chargepoint.core.actions import (
    DeleteAuth,
    DeleteProfile,
    DeleteReservation,
    DeleteValue,
    ReplaceLocalList,
    SaveAuth,
    SaveProfile,
    SaveReservation,
    SaveValue,
    UpdateLocalList,
)
from chargepoint.core.records import AuthEntry, ReservationRecord, StoredProfile
from chargepoint.store import DB_NAME, SCHEMA_VERSION, Store, StoreUnreadable, schema

PROFILE = {
    "chargingProfileId": 7,
    "stackLevel": 1,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {
        "chargingRateUnit": "A",
        "startSchedule": "2030-01-01T00:00:00Z",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
    },
}


def test_feature_rows_round_trip_per_charger(tmp_path: Path) -> None:
    reservation = ReservationRecord(3, 1, "TAG", "PARENT", "2030-01-01T01:00:00Z")
    with Store.open(tmp_path) as store:
        store.apply(
            "CP1",
            [
                SaveAuth("A", AuthEntry("Accepted", "2030-02-01T00:00:00Z", "P", 12.5)),
                SaveAuth("B", AuthEntry("Blocked")),
                ReplaceLocalList(4, {"L1": AuthEntry("Accepted"), "L2": AuthEntry("Invalid")}),
                SaveProfile(1, PROFILE),
                SaveReservation(reservation),
                SaveValue("firmware.version", "2.0"),
            ],
        )
        store.apply("CP2", [SaveValue("firmware.version", "1.0")])
        state = store.load("CP1")
        assert state.auth_cache == {
            "A": AuthEntry("Accepted", "2030-02-01T00:00:00Z", "P", 12.5),
            "B": AuthEntry("Blocked"),
        }
        assert state.local_list == {"L1": AuthEntry("Accepted"), "L2": AuthEntry("Invalid")}
        assert state.local_list_version == 4
        assert state.charging_profiles == [StoredProfile(7, 1, PROFILE)]
        assert state.reservations == [reservation]
        assert state.values == {"firmware.version": "2.0"}  # the list version is not a value

        store.apply(
            "CP1",
            [
                UpdateLocalList(5, {"L3": AuthEntry("Accepted", parent_id_tag="P")}, ("L1",)),
                DeleteAuth("B"),
                DeleteProfile(7),
                DeleteReservation(3),
                DeleteValue("firmware.version"),
            ],
        )
        state = store.load("CP1")
        assert set(state.local_list) == {"L2", "L3"} and state.local_list_version == 5
        assert set(state.auth_cache) == {"A"}
        assert (state.charging_profiles, state.reservations, state.values) == ([], [], {})
        assert store.load("CP2").values == {"firmware.version": "1.0"}
        store.apply("CP1", [ReplaceLocalList(6, {})])
        assert store.load("CP1").local_list == {} and store.load("CP1").local_list_version == 6


def test_a_v1_database_keeps_its_cache_when_it_migrates(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / DB_NAME)
    for statement in schema.MIGRATIONS[0].statements:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO auth_cache VALUES ('CP1', 'TAG', 'Accepted')")
    conn.commit()
    conn.close()
    (tmp_path / DB_NAME).chmod(0o600)
    with Store.open(tmp_path) as store:
        assert store.version == SCHEMA_VERSION
        assert store.load("CP1").auth_cache == {"TAG": AuthEntry("Accepted")}


@pytest.mark.parametrize(
    ("statement", "reason"),
    [
        (
            "UPDATE charging_profiles SET profile = '[1]'",
            "table charging_profiles, charger CP1, profile 7: profile is not a JSON object",
        ),
        (
            "UPDATE charger_values SET value = 'x' WHERE name = 'local_list.version'",
            "table charger_values, charger CP1: local_list.version is not a number",
        ),
    ],
)
def test_a_bad_feature_row_names_its_place(tmp_path: Path, statement: str, reason: str) -> None:
    with Store.open(tmp_path) as store:
        store.apply("CP1", [SaveProfile(1, PROFILE), ReplaceLocalList(1, {"L1": AuthEntry("A")})])
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.execute(statement)
    conn.commit()
    conn.close()
    with Store.open(tmp_path) as store, pytest.raises(StoreUnreadable) as caught:
        store.load("CP1")
    assert reason in str(caught.value)
