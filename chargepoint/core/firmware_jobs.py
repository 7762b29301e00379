"""The two jobs of Firmware Management as explicit state machines (OCPP 1.6 §5.9, §5.19).

A firmware update goes Scheduled (waiting for retrieveDate, or for a retry) ->
Downloading -> Downloaded (waiting for transactions to end, §5.19, E3.49) ->
Installing (the shell checks the image) -> Rebooting (installed: reboot, then
report Installed after the new boot, §5.19 NOTE, E3.47) -> Idle.  A failed
download or installation goes back to Scheduled while retries are left, else to
Idle.  A diagnostics upload goes Uploading -> Idle, or Scheduled (a retry) ->
Uploading.  A transition not in a table is a bug: :class:`JobTransitionError`.

The update is persisted (``firmware.job`` in the store's values) so a power loss
resumes it; an upload is not (a power loss ends it).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Final, TypeVar

from ocpp.exceptions import TypeConstraintViolationError

from chargepoint.timefmt import parse_epoch

DEFAULT_RETRIES: Final = 1
DEFAULT_RETRY_INTERVAL_S: Final = 180
"""§6.55 and §6.25 let the charger choose when the CSMS does not say; MicroOcpp's
values (``Operations/UpdateFirmware.cpp``): one retry, three minutes later."""
MAX_RETRIES: Final = 10
MAX_RETRY_INTERVAL_S: Final = 24 * 3600
"""Bounds on what a CSMS may ask: more is taken as this much (and logged)."""
LOCATION_MAX: Final = 2048
"""anyURI has no length in the schema; a longer location is refused as a failed transfer."""


def check_date_time(field: str, value: str | None) -> None:
    """A dateTime field of UpdateFirmware / GetDiagnostics that is not one is answered
    TypeConstraintViolation (OCPP-J §4.2.3), as a charging profile's dates are; the
    schema does not check formats, and a silent fallback would change what was asked."""
    if value is not None and parse_epoch(value) is None:
        raise TypeConstraintViolationError(
            description=f"{field}: {value[:40]!r} is not an OCPP dateTime"
        )


class FirmwarePhase(Enum):
    IDLE = "Idle"
    SCHEDULED = "Scheduled"
    DOWNLOADING = "Downloading"
    DOWNLOADED = "Downloaded"
    INSTALLING = "Installing"
    REBOOTING = "Rebooting"


class DiagnosticsPhase(Enum):
    IDLE = "Idle"
    SCHEDULED = "Scheduled"
    UPLOADING = "Uploading"


_F = FirmwarePhase
FIRMWARE_TRANSITIONS: dict[FirmwarePhase, frozenset[FirmwarePhase]] = {
    _F.IDLE: frozenset({_F.SCHEDULED}),
    # Scheduled -> Scheduled: a newer UpdateFirmware replaces one not yet downloading
    _F.SCHEDULED: frozenset({_F.SCHEDULED, _F.DOWNLOADING}),
    _F.DOWNLOADING: frozenset({_F.DOWNLOADED, _F.SCHEDULED, _F.IDLE}),
    # Downloaded -> Idle: a signed image whose signature does not verify (WP L01.FR.03)
    _F.DOWNLOADED: frozenset({_F.INSTALLING, _F.IDLE}),
    _F.INSTALLING: frozenset({_F.REBOOTING, _F.SCHEDULED, _F.IDLE}),
    _F.REBOOTING: frozenset({_F.IDLE}),
}

_D = DiagnosticsPhase
DIAGNOSTICS_TRANSITIONS: dict[DiagnosticsPhase, frozenset[DiagnosticsPhase]] = {
    _D.IDLE: frozenset({_D.UPLOADING}),
    # Uploading -> Uploading / Scheduled -> Uploading: a newer GetDiagnostics supersedes
    _D.UPLOADING: frozenset({_D.IDLE, _D.SCHEDULED, _D.UPLOADING}),
    _D.SCHEDULED: frozenset({_D.UPLOADING}),
}


class JobTransitionError(RuntimeError):
    """The core tried a firmware or diagnostics transition §5.9 / §5.19 do not allow."""


P = TypeVar("P", FirmwarePhase, DiagnosticsPhase)


def check_transition(table: dict[P, frozenset[P]], old: P, new: P) -> P:
    if new not in table[old]:
        raise JobTransitionError(f"{type(old).__name__} {old.value} -> {new.value} is not allowed")
    return new


def bounded_retries(retries: int | None, interval: int | None) -> tuple[int, int]:
    """(retries, retryInterval) as the charger applies them: the defaults when absent,
    clamped to [0, MAX_RETRIES] and [0, MAX_RETRY_INTERVAL_S]."""
    count = DEFAULT_RETRIES if retries is None else retries
    wait = DEFAULT_RETRY_INTERVAL_S if interval is None else interval
    return min(max(count, 0), MAX_RETRIES), min(max(wait, 0), MAX_RETRY_INTERVAL_S)


class StoredJobError(ValueError):
    """A stored ``firmware.job`` that no longer makes sense (skipped with a warning)."""


@dataclass
class FirmwareJob:
    """One UpdateFirmware in progress, as persisted."""

    location: str
    retrieve_at: float
    """Wall time (epoch seconds) of the next download attempt."""
    retries_left: int
    retry_interval: int
    phase: FirmwarePhase = FirmwarePhase.SCHEDULED
    version: str | None = None
    """The installed image's version, once checked (phase Rebooting)."""

    def to_json(self) -> str:
        data = asdict(self)
        data["phase"] = self.phase.value
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> FirmwareJob:
        try:
            data = json.loads(text)
            job = cls(
                location=data["location"],
                retrieve_at=float(data["retrieve_at"]),
                retries_left=int(data["retries_left"]),
                retry_interval=int(data["retry_interval"]),
                phase=FirmwarePhase(data["phase"]),
                version=data.get("version"),
            )
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            raise StoredJobError(f"not a firmware job ({type(exc).__name__}: {exc})") from None
        if not isinstance(job.location, str) or not 0 < len(job.location) <= LOCATION_MAX:
            raise StoredJobError("its location is not a URL of at most 2048 characters")
        if job.phase is FirmwarePhase.IDLE:
            raise StoredJobError("an Idle job is no job")
        if job.phase is FirmwarePhase.REBOOTING and not isinstance(job.version, str):
            raise StoredJobError("an installed job without its version")
        job.retries_left, job.retry_interval = bounded_retries(job.retries_left, job.retry_interval)
        return job


@dataclass
class DiagnosticsJob:
    """One GetDiagnostics in progress (kept in memory only)."""

    location: str
    file_name: str
    retries_left: int
    retry_interval: int
    start_time: str | None = None
    stop_time: str | None = None
