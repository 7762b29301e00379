"""A full disk while the charger runs: it stays up, says so, keeps what it had, and
writes it all once there is room again (the store raises StoreFull and keeps nothing
of a failed step, so the shell holds the step's changes and retries them)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from chargepoint.core.actions import (
    DeleteQueued,
    DeleteTransaction,
    Persist,
    SaveQueued,
    SaveTransaction,
)
from chargepoint.core.records import QueuedMessage, TransactionRecord
from chargepoint.csms.server import LocalCsms
from chargepoint.store import Store, StoreFull


async def test_a_full_disk_loses_nothing_and_the_charger_goes_on(
    csms: LocalCsms, start_charger: Any, caplog: pytest.LogCaptureFixture
) -> None:
    charger = await start_charger(config_overrides={"MeterValueSampleInterval": "0"})
    await charger.booted()
    store = charger.station.store
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLITE_FULL, as a full disk
    fillers = _fill(store, charger.id)
    with caplog.at_level(logging.ERROR, logger="cpsim.station"):
        answer = await charger.call("RemoteStartTransaction", {"idTag": "T1", "connectorId": 1})
        assert answer == {"status": "Accepted"}
        start = await charger.received("StartTransaction")  # the charger went on
    assert any("keeps its state in memory" in r.getMessage() for r in caplog.records)
    assert all(t.id_tag == "F" for t in store.load(charger.id).transactions)  # none written

    store._conn.execute("PRAGMA max_page_count = 1073741823")  # room again
    store.apply(charger.id, fillers)
    transaction_id = (await charger.answer_to(start)).payload["transactionId"]
    await charger.call("RemoteStopTransaction", {"transactionId": transaction_id})
    await charger.received("StopTransaction", after=start.seq)
    kept = store.load(charger.id)
    assert kept.counters["next_local_tx"] == 2  # the start made while full was written too
    assert kept.transactions == []


def _fill(store: Store, charger: str) -> list[Persist]:
    """Fill the last free bytes of the database's pages with rows of the kinds a
    transaction start writes, until none of them fits; returns what removes them."""
    cleanup: list[Persist] = []

    def fits(action: Persist) -> bool:
        try:
            store.apply(charger, [action])
        except StoreFull:
            return False
        return True

    seq = 10**6
    while fits(SaveQueued(QueuedMessage(seq, "filler", "X", {}))):
        cleanup.append(DeleteQueued(seq))
        seq += 1
    while fits(SaveTransaction(TransactionRecord(seq, 1, "F", 0, "x"))):
        cleanup.append(DeleteTransaction(seq))
        seq += 1
    return cleanup
