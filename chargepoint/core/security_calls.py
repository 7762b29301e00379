"""The Security Whitepaper's remaining calls: ExtendedTriggerMessage (WP§5.5) and GetLog /
LogStatusNotification (N01).  Below: signed firmware (:mod:`.signed_firmware`), then
certificates and security events (:mod:`.certificates`).

GetLog reuses the diagnostics upload (``StartTransfer(kind="diagnostics")``: the
archive of the charger's logs for the window).  A SecurityLog is the same archive:
its timeline carries every security event (``security`` lines, A04.FR.04), the
store keeps the rolling list (``security.log``).  A GetLog while one uploads
cancels it (it ends UploadFailure for its requestId) and is answered
AcceptedCanceled (N01.FR.11).  Statuses: Uploading, then Uploaded or
UploadFailure (N01.FR.08-10; the schema's spelling, not N01.FR.10's "UploadFailed").
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, Final

from ocpp.routing import after, on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from chargepoint.logmask import mask_text

from .actions import ArmTimer, CancelTimer, CancelTransfer, StartTransfer
from .events import TransferFinished
from .firmware_jobs import LOCATION_MAX, bounded_retries
from .records import StoredState
from .settings import CoreSettings, Identity
from .signed_firmware import SignedFirmwareCalls

log = logging.getLogger("cpsim.core")

EXTENDED_TRIGGERS: Final = frozenset(
    {
        "BootNotification",
        "LogStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "SignChargePointCertificate",
        "StatusNotification",
    }
)
"""MessageTriggerEnumType of the whitepaper (WP§6.16; no DiagnosticsStatusNotification)."""
LOG_TIMER: Final = "security:log-retry"
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


@dataclass
class LogJob:
    """One GetLog in progress (memory only: a power loss ends it, as diagnostics)."""

    request_id: int
    log_type: str
    location: str
    file_name: str
    retries_left: int
    retry_interval: int
    oldest: str | None = None
    latest: str | None = None


class SecurityCalls(SignedFirmwareCalls):
    def __init__(
        self, identity: Identity, settings: CoreSettings, stored: StoredState, now: float
    ) -> None:
        super().__init__(identity, settings, stored, now)
        self._log_job: LogJob | None = None
        self._log_transfer: str | None = None
        self._next_log_name = ""

    # --- ExtendedTriggerMessage (WP§5.5, §6.16) ----------------------------------------

    @on(Action.extended_trigger_message)
    def on_extended_trigger_message(
        self, requested_message: str, connector_id: int | None = None, **_: Any
    ) -> Any:
        if requested_message not in EXTENDED_TRIGGERS:
            return call_result.ExtendedTriggerMessage(status="NotImplemented")
        if connector_id is not None and connector_id not in self.connectors:
            return call_result.ExtendedTriggerMessage(status="Rejected")
        if requested_message == "SignChargePointCertificate" and not self.cpo_name():
            return call_result.ExtendedTriggerMessage(status="Rejected")  # A02 prerequisite
        return call_result.ExtendedTriggerMessage(status="Accepted")

    @after(Action.extended_trigger_message)
    def after_extended_trigger_message(
        self, requested_message: str, connector_id: int | None = None, **_: Any
    ) -> None:
        if connector_id is not None and connector_id not in self.connectors:
            return
        if requested_message == "SignChargePointCertificate":
            self.request_certificate("ExtendedTriggerMessage")
        elif requested_message == "LogStatusNotification":
            self._send_log_status(*self._current_log_status())
        elif requested_message == "FirmwareStatusNotification":
            # WP§6.16: SignedFirmwareStatusNotification; Idle after Installed (L01.FR.28/29)
            self.send_urgent(
                "SignedFirmwareStatusNotification",
                self.signed_trigger_payload(),
                when_pending=True,
            )
        else:  # BootNotification, Heartbeat, MeterValues, StatusNotification: as §5.17
            self.after_trigger_message(requested_message, connector_id)

    # --- GetLog / LogStatusNotification (N01) -------------------------------------------

    def _current_log_status(self) -> tuple[str, int | None]:
        """N01.FR.12: Idle without a requestId when no upload runs."""
        job = self._log_job
        return ("Uploading", job.request_id) if job is not None else ("Idle", None)

    def _send_log_status(self, status: str, request_id: int | None) -> None:
        payload: dict[str, Any] = {"status": status}
        if request_id is not None:
            payload["requestId"] = request_id
        self.timeline("log", status=status, requestId=request_id)
        self.send_urgent("LogStatusNotification", payload, when_pending=True)

    @on(Action.get_log)
    def on_get_log(self, log_type: str, request_id: int, log: dict[str, Any], **_: Any) -> Any:
        if not self.settings.diagnostics_available:  # no logs kept: nothing to upload
            self._next_log_name = ""
            return call_result.GetLog(status="Rejected")
        cp = _UNSAFE_NAME.sub("_", self.identity.charge_point_id)
        stamp = self.timestamp()[:19].replace("-", "").replace(":", "")
        kind = "securitylog" if log_type == "SecurityLog" else "diagnostics"
        self._next_log_name = f"{cp}-{kind}-{stamp}Z.tar.gz"
        canceled = self._log_job is not None  # N01.FR.11
        return call_result.GetLog(
            status="AcceptedCanceled" if canceled else "Accepted", filename=self._next_log_name
        )

    @after(Action.get_log)
    def after_get_log(
        self,
        log_type: str,
        request_id: int,
        log: dict[str, Any],
        retries: int | None = None,
        retry_interval: int | None = None,
        **_: Any,
    ) -> None:
        if not self._next_log_name:
            return  # Rejected
        old = self._log_job
        if old is not None:  # N01.FR.11: the running upload is cancelled
            if self._log_transfer is not None:
                self.emit(CancelTransfer(self._log_transfer))
                self._log_transfer = None
            self.emit(CancelTimer(LOG_TIMER))
            self._send_log_status("UploadFailure", old.request_id)
        count, interval = bounded_retries(retries, retry_interval)
        self._log_job = LogJob(
            request_id,
            log_type,
            str(log.get("remote_location", "")),
            self._next_log_name,
            count,
            interval,
            log.get("oldest_timestamp"),
            log.get("latest_timestamp"),
        )
        self._upload_log()

    def _upload_log(self) -> None:
        job = self._log_job
        assert job is not None
        self._send_log_status("Uploading", job.request_id)  # N01.FR.08
        if not job.location or len(job.location) > LOCATION_MAX:
            self._log_finished(False, f"remoteLocation empty or longer than {LOCATION_MAX}")
            return
        transfer = self.new_transfer_id("log")
        self._log_transfer = transfer
        self.emit(
            StartTransfer(
                transfer,
                "diagnostics",
                job.location,
                file_name=job.file_name,
                start_time=job.oldest,
                stop_time=job.latest,
            )
        )

    def transfer_finished(self, event: TransferFinished) -> None:
        if event.transfer_id != self._log_transfer or self._log_transfer is None:
            super().transfer_finished(event)
            return
        self._log_transfer = None
        self._log_finished(event.ok, event.detail)

    def _log_finished(self, ok: bool, detail: str) -> None:
        job = self._log_job
        assert job is not None
        if ok:
            self._send_log_status("Uploaded", job.request_id)  # N01.FR.09
            self._log_job = None
            return
        log.warning("GetLog upload failed: %s", mask_text(detail or "no reason given"))
        self._send_log_status("UploadFailure", job.request_id)  # N01.FR.10
        if job.retries_left > 0:
            job.retries_left -= 1
            self.emit(ArmTimer(LOG_TIMER, self.now + job.retry_interval))
            return
        self._log_job = None

    def layer_timer(self, name: str) -> bool:
        if name != LOG_TIMER:
            return super().layer_timer(name)
        if self._log_job is not None and self._log_transfer is None:
            self._upload_log()
        return True
