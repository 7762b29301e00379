"""FirmwareStatusNotification and DiagnosticsStatusNotification (§4.4, §4.5, E3.31, E3.47):
how the two file jobs of Firmware Management tell the CSMS where they are.

They are not put in the persisted transaction queue: they are not transaction
messages (§3.7), and a "Downloading" replayed after a power loss would be false.
Each one is sent at once; one lost with the link (or made while offline) is sent
again after the next Accepted boot if it is still the latest of its kind.  What
must survive a power loss (``Installed``) is kept by its job in the store.

A TriggerMessage gets the true current status (:meth:`triggered_status`): the
latest of the job in progress, Idle when none runs.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any, Final

from .csms_calls import CsmsCalls
from .records import StoredState
from .settings import CoreSettings, Identity

log = logging.getLogger("cpsim.core")

FIRMWARE_STATUS: Final = "FirmwareStatusNotification"
DIAGNOSTICS_STATUS: Final = "DiagnosticsStatusNotification"


class TransferStatuses(CsmsCalls):
    def __init__(
        self, identity: Identity, settings: CoreSettings, stored: StoredState, now: float
    ) -> None:
        super().__init__(identity, settings, stored, now)
        self._transfer_ids = itertools.count(1)
        self._reported: dict[str, str] = {}
        """The latest status of the job in progress, per message (none: Idle)."""
        self._latest: dict[str, str] = {}
        """The latest status sent (or meant to be), per message, whether a job runs or not."""
        self._unsent: dict[str, str] = {}
        """A status that could not reach the CSMS (no link): sent after the next boot."""

    def new_transfer_id(self, kind: str) -> str:
        """A name for one StartTransfer / InstallFirmware: its outcome is matched by it."""
        return f"{kind}:{next(self._transfer_ids)}"

    def notify_status(self, action: str, status: str, **detail: Any) -> None:
        """``status`` of a job: on the timeline (with ``detail``, e.g. the reason), and to
        the CSMS now, or after the next Accepted boot when it cannot be sent now."""
        self.timeline(
            "firmware" if action == FIRMWARE_STATUS else "diagnostics", status=status, **detail
        )
        self._reported[action] = status
        self._latest[action] = status
        if not self.accepted:
            self._unsent[action] = status
            return
        self._unsent.pop(action, None)
        self._send_status(action, status)

    def hold_unsent(self, action: str, status: str) -> None:
        """Send ``status`` after the next Accepted boot (not before)."""
        self._reported[action] = status
        self._latest[action] = status
        self._unsent[action] = status

    def job_ended(self, action: str) -> None:
        """No job of this kind runs any more: a TriggerMessage gets Idle."""
        self._reported.pop(action, None)

    def _send_status(self, action: str, status: str) -> None:
        def lost(reason: str) -> None:
            if reason == "link down" and self._latest.get(action) == status:
                self._unsent[action] = status  # after the next boot
                return
            log.warning("%s(%s) not delivered: %s", action, status, reason)
            self.status_answered(action, status, False)

        self.send_urgent(
            *self.status_message(action, status),
            on_result=lambda _: self.status_answered(action, status, True),
            on_failure=lost,
        )

    def status_message(self, action: str, status: str) -> tuple[str, dict[str, Any]]:
        """The CALL that reports ``status`` (a layer above may report a signed update's
        as SignedFirmwareStatusNotification with its requestId, WP L01.FR.01/10)."""
        return action, {"status": status}

    def status_answered(self, action: str, status: str, delivered: bool) -> None:
        """The CSMS answered a status notification (``delivered``), or it will never get
        it (a CALLERROR, no answer): a job waiting for that can end."""

    def send_unsent(self) -> None:
        """After an Accepted boot: the statuses that could not be sent before."""
        for action in (FIRMWARE_STATUS, DIAGNOSTICS_STATUS):
            status = self._unsent.pop(action, None)
            if status is not None:
                self._send_status(action, status)

    def report_all_statuses(self) -> None:
        """After an Accepted boot: the connectors (E3.22), then what could not be sent."""
        super().report_all_statuses()
        self.send_unsent()

    def triggered_status(self, requested_message: str) -> str:
        if requested_message in (FIRMWARE_STATUS, DIAGNOSTICS_STATUS):
            return self._reported.get(requested_message, "Idle")
        return super().triggered_status(requested_message)
