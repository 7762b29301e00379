"""What waits to be sent, and in which order (OCPP 1.6 §3.7, §4.10; OCPP-J §4.1.1).

One CALL in flight at a time.  The BootNotification goes first; then *urgent*
calls (Authorize, Heartbeat, triggered messages, a scenario's own calls), which
may overtake the transaction queue; then the *ordered* queue: transaction
messages (persisted :class:`QueuedMessage`) and, between them, the
StatusNotifications made while online (:class:`Outgoing`, not persisted), so the
CSMS sees Preparing, StartTransaction, Charging in the order they happened.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .records import QueuedMessage

OnResult = Callable[[dict[str, Any]], None]
OnFailure = Callable[[str], None]


@dataclass
class Outgoing:
    """A CALL that is not kept across a restart."""

    action: str
    payload: dict[str, Any]
    unique_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    when_pending: bool = False
    """May go while the boot is Pending: what a TriggerMessage asked for (§4.2)."""
    on_result: OnResult | None = None
    on_failure: OnFailure | None = None
    """Called with a reason: a CALLERROR code, "timeout", "link down" or "too large"."""


Entry = QueuedMessage | Outgoing


@dataclass
class InFlight:
    entry: Entry
    ordered: bool
    """It is the head of the ordered queue (else urgent or the boot)."""
    sent_at: float = 0.0
    """The charger's clock when it was sent: with the answer's arrival, the window in
    which a currentTime in the answer was true."""


@dataclass
class Outbox:
    # Lists, not deques: an empty deque allocates a 64-slot block (~0.6 KiB) and most
    # chargers of a fleet have nothing queued; the queues are short when they are not.
    urgent: list[Outgoing] = field(default_factory=list)
    ordered: list[Entry] = field(default_factory=list)
    retry_at: float | None = None
    """The ordered queue's head waits until then (TransactionMessageRetryInterval x attempts)."""

    def persisted(self) -> list[QueuedMessage]:
        return [e for e in self.ordered if isinstance(e, QueuedMessage)]

    def drop_volatile(self) -> None:
        """On link loss: statuses are reported afresh after the next boot; urgent calls
        were about a moment that has passed."""
        self.ordered = [e for e in self.ordered if isinstance(e, QueuedMessage)]
        self.urgent.clear()

    def drop_statuses(self) -> None:
        """Before the boot's status report: it supersedes the changes queued since."""
        self.ordered = [
            e
            for e in self.ordered
            if isinstance(e, QueuedMessage) or e.action != "StatusNotification"
        ]

    def of_transaction(self, local_tx: int) -> list[QueuedMessage]:
        return [e for e in self.persisted() if e.local_tx == local_tx]

    def remove(self, entry: Entry) -> None:
        if entry in self.ordered:
            self.ordered.remove(entry)


def retry_delay(interval: int, attempts: int) -> int:
    """§3.7.1: wait TransactionMessageRetryInterval x the number of failed attempts so far
    (60 s, then 120 s, ... for an interval of 60)."""
    return interval * attempts
