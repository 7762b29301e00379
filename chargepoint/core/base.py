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
from .limits import ChargingLimit
from .outbox import InFlight, Outbox, Outgoing
from .records import AuthEntry, QueuedMessage, StoredState, TransactionRecord
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
        self.config = Configuration(
            settings.connectors,
            stored.config,
            settings.config_overrides,
            settings.feature_profiles,
        )
        self.state = SessionState.OFFLINE
        self.outbox = Outbox()
        self.in_flight: InFlight | None = None
        self.auth_cache: dict[str, AuthEntry] = dict(stored.auth_cache)
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

    def record_auth(
        self,
        id_tag: str,
        status: str,
        expiry: str | None = None,
        parent_id_tag: str | None = None,
    ) -> None:
        entry = AuthEntry(status, expiry, parent_id_tag, self.now)
        self.auth_cache[id_tag] = entry
        self.emit(SaveAuth(id_tag, entry))

    def profile_enabled(self, profile: str) -> bool:
        """Whether this charger has the feature profile (SupportedFeatureProfiles)."""
        return profile in self.settings.feature_profiles

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

    def transaction_started(self, tx: TransactionRecord) -> None:
        """A transaction started (its StartTransaction is queued).  Void hooks like this
        one are implemented by several layers: an override calls ``super()``."""

    def transaction_stopped(self, tx: TransactionRecord, reason: str) -> None:
        """A transaction ended (its StopTransaction is queued)."""

    # Smart Charging (smart_charging.py) -> metering (station_ops.py)

    def charging_limit(self, connector_id: int) -> ChargingLimit | None:
        """The composite limit of a connector now (TxProfile or TxDefaultProfile, and
        ChargePointMaxProfile); None when no profile constrains it."""
        return None

    def station_limit(self) -> ChargingLimit | None:
        """The ChargePointMaxProfile's limit now: all connectors together (§3.13.3)."""
        return None

    def next_limit_change(self) -> float | None:
        """The core-clock time of the next instant any limit may change."""
        return None

    def limits_changed(self) -> None:
        """The limits changed (a profile set or cleared, a transaction started or ended):
        metering re-evaluates the power of every connector now."""

    # Reservation (reservations.py) -> transactions and authorization (station_ops.py)

    def start_extras(self, connector_id: int, id_tag: str) -> dict[str, Any]:
        """Extra StartTransaction fields (reservationId, §4.8); the reservation it names
        ends with this call."""
        return {}

    def may_charge(self, connector_id: int, id_tag: str, parent_id_tag: str | None) -> bool:
        """False when the connector is reserved for someone else (§5.13)."""
        return True

    # Firmware Management (firmware.py) -> TriggerMessage (csms_calls.py)

    def triggered_status(self, requested_message: str) -> str:
        """The current FirmwareStatusNotification / DiagnosticsStatusNotification status
        for a TriggerMessage: Idle when nothing is in progress (§4.4, §4.5)."""
        return "Idle"

    def layer_timer(self, name: str) -> bool:
        """A timer of a feature layer fired: True if ``name`` was the layer's (an override
        calls ``super()`` for names it does not own)."""
        return False
