"""The state every part of the charger core shares, and the few ways to act on it.

The core is one class built in layers, each in its own module, each using only
the layers below it: this base (state, clock arithmetic, emitting actions,
queueing calls), :mod:`.station_ops` (connectors, transactions, metering),
:mod:`.session` (boot, heartbeat, one CALL in flight, the queue's retries),
:mod:`.csms_calls` (one handler per CSMS action), :mod:`.charger` (the event
dispatch).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chargepoint.timefmt import format_epoch

from . import ocppj
from .actions import Action, Emit, SaveAuth, SaveCounter, SaveQueued
from .boot import SessionState, check_transition
from .config import Configuration
from .outbox import InFlight, Outbox, Outgoing
from .records import QueuedMessage, StoredState
from .settings import CoreSettings, Identity


class CoreBase:
    def __init__(
        self, identity: Identity, settings: CoreSettings, stored: StoredState, now: float
    ) -> None:
        self.identity = identity
        self.settings = settings
        self.now = now
        self.offset = 0.0
        """The CSMS's clock minus ours (seconds): added to every timestamp, never to ``now``."""
        self.config = Configuration(settings.connectors, stored.config, settings.config_overrides)
        self.state = SessionState.OFFLINE
        self.outbox = Outbox()
        self.in_flight: InFlight | None = None
        self.auth_cache: dict[str, str] = dict(stored.auth_cache)
        self._counters = dict(stored.counters)
        self._actions: list[Action] = []

    # --- output -----------------------------------------------------------------------

    def emit(self, action: Action) -> None:
        self._actions.append(action)

    def take_actions(self) -> list[Action]:
        actions, self._actions = self._actions, []
        return actions

    def timeline(self, kind: str, connector: int | None = None, **detail: Any) -> None:
        self.emit(Emit(kind, self.timestamp(), connector, detail))

    # --- time -------------------------------------------------------------------------

    def wall(self) -> float:
        """The charger's time of day: its own clock plus the offset adopted from the CSMS."""
        return self.now + self.offset

    def timestamp(self) -> str:
        return format_epoch(self.wall())

    # --- state ------------------------------------------------------------------------

    @property
    def accepted(self) -> bool:
        return self.state is SessionState.ACCEPTED

    @property
    def connected(self) -> bool:
        return self.state is not SessionState.OFFLINE

    def set_state(self, new: SessionState) -> None:
        if new is not self.state:
            self.state = check_transition(self.state, new)
            self.timeline("session", state=new.value)

    def next_number(self, name: str) -> int:
        """The next of a persisted sequence (local transaction ids, queue order): never
        reused, even after a restart."""
        value = self._counters.get(name, 1)
        self._counters[name] = value + 1
        self.emit(SaveCounter(name, value + 1))
        return value

    def record_auth(self, id_tag: str, status: str) -> None:
        self.auth_cache[id_tag] = status
        self.emit(SaveAuth(id_tag, status))

    # --- calls to the CSMS ------------------------------------------------------------

    def send_urgent(
        self,
        action: str,
        payload: dict[str, Any],
        on_result: Callable[[dict[str, Any]], None] | None = None,
        on_failure: Callable[[str], None] | None = None,
        when_pending: bool = False,
    ) -> None:
        """A call that may overtake the transaction queue (not kept across a restart)."""
        self.outbox.urgent.append(
            Outgoing(
                action,
                payload,
                when_pending=when_pending,
                on_result=on_result,
                on_failure=on_failure,
            )
        )

    def enqueue(self, action: str, payload: dict[str, Any], local_tx: int = 0) -> QueuedMessage:
        """A transaction message: persisted now, sent in order, kept until answered."""
        message = QueuedMessage(
            self.next_number("next_seq"), ocppj.new_id(), action, payload, local_tx
        )
        self.outbox.ordered.append(message)
        self.emit(SaveQueued(message))
        self.timeline("queued", action=action, uniqueId=message.unique_id, tx=local_tx or None)
        return message

    def enqueue_status(self, payload: dict[str, Any]) -> None:
        """A StatusNotification in order with the transaction messages (not persisted)."""
        self.outbox.ordered.append(Outgoing("StatusNotification", payload))

    # --- hooks for the layers above ---------------------------------------------------

    def config_changed(self, key: str) -> None:
        """A key changed (ChangeConfiguration, or the charger itself)."""

    def transactions_ended(self) -> None:
        """The last open transaction ended."""
