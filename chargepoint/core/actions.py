"""What the charger core asks its shell to do: the core's only output.

Four kinds, in the order the shell must carry them out: persist (write to the
store, committed before any later send), send (a frame to the CSMS), timers
(arm or cancel a deadline on the charger's clock), and timeline events.  The
shell executes them in the order they were emitted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from .records import AuthEntry, QueuedMessage, ReservationRecord, TransactionRecord


class Action:
    """Base of everything the core emits."""


# --- persistence ------------------------------------------------------------------------


class Persist(Action):
    """A change to the store; the shell commits it before it carries out any later send."""


@dataclass(frozen=True)
class SaveConfig(Persist):
    key: str
    value: str


@dataclass(frozen=True)
class SaveTransaction(Persist):
    record: TransactionRecord


@dataclass(frozen=True)
class DeleteTransaction(Persist):
    local_id: int


@dataclass(frozen=True)
class SaveRegister(Persist):
    connector_id: int
    energy_wh: float
    timestamp: str


@dataclass(frozen=True)
class SaveAvailability(Persist):
    """A connector's Operative/Inoperative, which §4.9 says survives a reboot."""

    connector_id: int
    operative: bool


@dataclass(frozen=True)
class SaveQueued(Persist):
    """Insert or update (attempts, payload with its transactionId filled in) one message."""

    message: QueuedMessage


@dataclass(frozen=True)
class DeleteQueued(Persist):
    seq: int


@dataclass(frozen=True)
class SaveAuth(Persist):
    """Insert or update one Authorization Cache entry."""

    id_tag: str
    entry: AuthEntry


@dataclass(frozen=True)
class DeleteAuth(Persist):
    id_tag: str


@dataclass(frozen=True)
class ClearAuth(Persist):
    pass


@dataclass(frozen=True)
class ReplaceLocalList(Persist):
    """SendLocalList Full: the whole list and its version."""

    version: int
    entries: dict[str, AuthEntry]


@dataclass(frozen=True)
class UpdateLocalList(Persist):
    """SendLocalList Differential: entries added or changed, idTags removed, the new version."""

    version: int
    upserts: dict[str, AuthEntry]
    deletes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SaveProfile(Persist):
    """Insert or replace a charging profile (by its chargingProfileId)."""

    connector_id: int
    profile: dict[str, Any]


@dataclass(frozen=True)
class DeleteProfile(Persist):
    profile_id: int


@dataclass(frozen=True)
class SaveReservation(Persist):
    record: ReservationRecord


@dataclass(frozen=True)
class DeleteReservation(Persist):
    reservation_id: int


@dataclass(frozen=True)
class SaveValue(Persist):
    """A small named value of a feature layer (``firmware.version``)."""

    name: str
    value: str


@dataclass(frozen=True)
class DeleteValue(Persist):
    name: str


@dataclass(frozen=True)
class SaveSecurityObject(Persist):
    """A certificate or private key of the security extension (PEM; kept out of reprs)."""

    name: str
    value: str = field(repr=False)


@dataclass(frozen=True)
class DeleteSecurityObject(Persist):
    name: str


@dataclass(frozen=True)
class SaveCounter(Persist):
    name: str
    value: int


# --- the link ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Send(Action):
    """Write this OCPP-J frame to the CSMS."""

    frame: str
    unique_id: str
    action: str | None = None
    """The CALL's action; None for an answer (CALLRESULT / CALLERROR)."""


@dataclass(frozen=True)
class AwaitAnswer(Action):
    """Feed :class:`~.events.AnswerTimedOut` if no answer to ``unique_id`` comes within
    ``seconds`` of link time (real seconds, or virtual ones: never scaled, since a round
    trip does not get faster with a sped-up charger clock)."""

    unique_id: str
    seconds: float


@dataclass(frozen=True)
class CloseLink(Action):
    """End the WebSocket; the shell reconnects at once and the charger boots again."""

    code: int
    reason: str
    reset: bool = False
    """A Reset (§5.14: the charger reboots), not new credentials on the same boot
    (AuthorizationKey, a raised SecurityProfile, a renewed certificate: WP A01/A02)."""


# --- files over the link (Firmware Management, §5.9, §5.19) -----------------------------


@dataclass(frozen=True)
class StartTransfer(Action):
    """Download a firmware image (``kind`` firmware) or build and upload the diagnostics
    archive (``kind`` diagnostics, as ``file_name`` in the directory ``url``, with the
    log lines between ``start_time`` and ``stop_time``, OCPP times) over the charger's own
    link; the shell feeds ``TransferFinished(transfer_id, ...)``."""

    transfer_id: str
    kind: Literal["firmware", "diagnostics"]
    url: str
    file_name: str | None = None
    start_time: str | None = None
    stop_time: str | None = None


@dataclass(frozen=True)
class CancelTransfer(Action):
    """Abandon a transfer (no ``TransferFinished`` is needed for it)."""

    transfer_id: str


@dataclass(frozen=True)
class InstallFirmware(Action):
    """Check the image the last firmware transfer stored (fetched from ``location``); the
    shell feeds ``InstallFinished(transfer_id, ok, version, detail)``."""

    transfer_id: str
    location: str


@dataclass(frozen=True)
class VerifyFirmwareSignature(Action):
    """Check the signature of the image the last firmware transfer stored, over the whole
    file, with the signing certificate's key (WP L01.FR.04); the shell feeds
    ``SignatureChecked(transfer_id, ok, detail)``."""

    transfer_id: str
    signing_certificate: str
    signature: str


# --- timers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ArmTimer(Action):
    """Feed ``TimerFired(name)`` when the charger's clock reaches ``at`` (replaces any
    timer of the same name)."""

    name: str
    at: float


@dataclass(frozen=True)
class CancelTimer(Action):
    name: str


# --- what happened ----------------------------------------------------------------------


@dataclass(frozen=True)
class Emit(Action):
    """One timeline event: a state change or a message, stamped on the charger's clock."""

    kind: str
    time: str
    connector: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"time": self.time, "kind": self.kind}
        if self.connector is not None:
            out["connector"] = self.connector
        out.update(self.detail)
        return out


@dataclass(frozen=True)
class Outcome(Action):
    """The answer to an operator's request (``PresentIdTag``, ``UserCall``) by its token:
    a status string, a CALLRESULT payload, or an :class:`OutcomeError`."""

    token: str
    value: Any


@dataclass(frozen=True)
class OutcomeError:
    """Why a ``UserCall`` got no CALLRESULT: a CALLERROR code, no answer, or no link."""

    code: str
    description: str = ""
