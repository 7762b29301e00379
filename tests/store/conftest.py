"""A store with two chargers' worth of every kind of row, in a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from chargepoint.core.actions import (
    Persist,
    SaveAuth,
    SaveConfig,
    SaveCounter,
    SaveQueued,
    SaveRegister,
    SaveTransaction,
)
from chargepoint.core.records import AuthEntry, QueuedMessage, TransactionRecord
from chargepoint.store import Store

SECRET = "0123456789abcdef0123456789abcdef"


def cp001_actions() -> list[Persist]:
    """An offline charger: one transaction not yet known to the CSMS, one known, three
    queued messages, two registers, the AuthorizationKey set."""
    return [
        SaveConfig("AuthorizationKey", SECRET),
        SaveConfig("HeartbeatInterval", "300"),
        SaveTransaction(TransactionRecord(7, 1, "TAG-0042", 1200, "2026-12-07T09:58:00Z")),
        SaveTransaction(TransactionRecord(6, 2, "TAG-0007", 88000, "2026-12-07T08:00:00Z", 4711)),
        SaveQueued(QueuedMessage(14, "uid-14", "StartTransaction", {"connectorId": 1}, 7)),
        SaveQueued(QueuedMessage(15, "uid-15", "MeterValues", {"connectorId": 1}, 7, 1)),
        SaveQueued(QueuedMessage(16, "uid-16", "StopTransaction", {"transactionId": 4711}, 6)),
        SaveRegister(1, 1534.5, "2026-12-07T10:02:00Z"),
        SaveRegister(2, 91250.0, "2026-12-07T10:02:00Z"),
        SaveAuth("TAG-0042", AuthEntry("Accepted")),
        SaveAuth("TAG-0007", AuthEntry("Blocked")),
        SaveCounter("next_seq", 17),
        SaveCounter("next_local_tx", 8),
    ]


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    """A state dir with CP001 (see :func:`cp001_actions`) and CP002 (one key, one counter)."""
    path = tmp_path / "state"
    with Store.open(path) as store:
        store.apply("CP001", cp001_actions())
        store.apply("CP002", [SaveConfig("HeartbeatInterval", "60"), SaveCounter("next_seq", 1)])
    return path
