"""Transaction-related messages waiting for the CSMS (OCPP 1.6 §3.7, §4.10).

StartTransaction, periodic MeterValues and StopTransaction must reach the CSMS
in order even if the link is down when they happen.  StatusNotifications made
while online travel in the same queue so the CSMS sees Preparing, then
StartTransaction, then Charging, in the order they happened.  A transaction started
offline has no transactionId yet, so entries refer to it by a local id and get
the CSMS's id filled in once its StartTransaction is answered.

In memory for now; the interface is what a SQLite-backed queue in the state
dir will implement so entries also survive a restart.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any


@dataclass
class QueuedMessage:
    action: str
    payload: dict[str, Any]
    local_tx: int
    attempts: int = 0
    seq: int = 0
    volatile: bool = False  # a StatusNotification: ordered with the rest, but not kept offline


@dataclass
class TransactionQueue:
    _items: list[QueuedMessage] = field(default_factory=list)
    _ids: dict[int, int] = field(default_factory=dict)
    _seq: int = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def put(
        self, action: str, payload: dict[str, Any], local_tx: int = 0, volatile: bool = False
    ) -> None:
        self._seq += 1
        self._items.append(
            QueuedMessage(action, payload, local_tx, seq=self._seq, volatile=volatile)
        )
        self._changed.set()

    def drop_volatile(self) -> None:
        """On link loss: status reports are re-sent after the next boot, so they need not wait."""
        self._items = [item for item in self._items if not item.volatile]

    def drop_statuses(self) -> None:
        """Before the boot's status report: it gives every connector's current status, so
        changes queued since the boot was Accepted are superseded (and, sent after it,
        would reach the CSMS with older timestamps than the report)."""
        self._items = [item for item in self._items if item.action != "StatusNotification"]

    def head(self) -> QueuedMessage | None:
        """The oldest entry, with the transactionId filled in if it is known by now."""
        if not self._items:
            return None
        item = self._items[0]
        if item.local_tx and item.action != "StartTransaction" and item.local_tx in self._ids:
            item.payload["transactionId"] = self._ids[item.local_tx]
        return item

    def done(self, item: QueuedMessage) -> None:
        """Remove ``item``: delivered or given up (it may already be gone if it was volatile)."""
        if item in self._items:
            self._items.remove(item)

    def resolve(self, local_tx: int, transaction_id: int) -> None:
        self._ids[local_tx] = transaction_id

    def __len__(self) -> int:
        return len(self._items)

    async def wait(self) -> None:
        while not self._items:
            self._changed.clear()
            await self._changed.wait()
