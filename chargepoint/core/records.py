"""What the charger keeps across a power loss: the rows of its store, as plain records.

The core works on these and tells its shell what changed (``actions.Persist*``);
the store (:mod:`chargepoint.store`) writes them to SQLite and gives them back at
start-up as one :class:`StoredState`.  Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class TransactionRecord:
    """An open transaction (OCPP 1.6 §4.8): kept until its StopTransaction is queued."""

    local_id: int
    """The charger's own number: queued messages refer to it until the CSMS's id is known."""
    connector_id: int
    id_tag: str
    meter_start: int
    started: str
    """StartTransaction's timestamp (OCPP time)."""
    transaction_id: int | None = None
    """The CSMS's id, from StartTransaction.conf (None while that is not answered)."""


@dataclass
class QueuedMessage:
    """A transaction-related message waiting for the CSMS (§3.7, §4.10).

    Written before it is first sent and removed only once the CSMS answered it
    (or it was given up), so it survives a restart.  A resend after a lost link or a
    restart carries the ``unique_id`` the CSMS may have seen; a retry after a CALLERROR
    or no answer on the same connection gets a new one (OCPP-J §4.1.4).
    """

    seq: int
    unique_id: str
    action: str
    payload: dict[str, Any]
    local_tx: int = 0
    """The transaction it belongs to (0: none)."""
    attempts: int = 0
    """How often the CSMS failed to process it (CALLERROR or no answer while connected)."""


@dataclass
class MeterReading:
    """A connector's energy register as last persisted: a restart resumes from it, and a
    transaction cut by a power loss ends with it (meterStop)."""

    energy_wh: float
    timestamp: str
    """When it was read (OCPP time): the StopTransaction of a power loss carries it."""


@dataclass
class AuthEntry:
    """An idTag's IdTagInfo as the charger keeps it: in the Local Authorization List
    (§3.5.2, from SendLocalList) or the Authorization Cache (§3.5.1, from answers)."""

    status: str
    expiry: str | None = None
    """expiryDate (OCPP time); None: the status has no end date (§7.27)."""
    parent_id_tag: str | None = None
    updated: float = 0.0
    """Charger time of the last update (the cache evicts the oldest valid entry first)."""


@dataclass
class StoredProfile:
    """A charging profile installed by SetChargingProfile (E3.37: kept across reboots)."""

    profile_id: int
    connector_id: int
    profile: dict[str, Any]
    """csChargingProfiles as the CSMS sent it (camelCase)."""


@dataclass
class ReservationRecord:
    """A reservation accepted by ReserveNow (§5.13), kept until it ends."""

    reservation_id: int
    connector_id: int
    id_tag: str
    parent_id_tag: str | None
    expiry: str
    """expiryDate (OCPP time)."""


@dataclass
class StoredState:
    """Everything the store holds for one charger, as the core starts from it."""

    config: dict[str, str] = field(default_factory=dict)
    transactions: list[TransactionRecord] = field(default_factory=list)
    queue: list[QueuedMessage] = field(default_factory=list)
    """In order of ``seq``."""
    registers: dict[int, MeterReading] = field(default_factory=dict)
    availability: dict[int, bool] = field(default_factory=dict)
    """connector -> operative, for connectors a ChangeAvailability changed (§4.9)."""
    auth_cache: dict[str, AuthEntry] = field(default_factory=dict)
    """idTag -> what the CSMS last said of it (Authorization Cache, §3.5.1)."""
    local_list: dict[str, AuthEntry] = field(default_factory=dict)
    """The Local Authorization List (§3.5.2, SendLocalList)."""
    local_list_version: int = 0
    """0: no list (§5.10)."""
    charging_profiles: list[StoredProfile] = field(default_factory=list)
    reservations: list[ReservationRecord] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)
    """Small named values of the feature layers (``firmware.version``, ...)."""
    security: dict[str, str] = field(default_factory=dict, repr=False)
    """The security extension's certificates and keys by name (PEM text; never logged)."""
    counters: dict[str, int] = field(default_factory=dict)
    """``next_local_tx``, ``next_seq``: numbers never reused, even after a restart."""
