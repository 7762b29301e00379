"""GetDiagnostics (§5.9, §6.25/6.26): the charger's logs as one file, uploaded over its link.

The answer names the file (``<id>-diagnostics-<UTC time>.tar.gz``), or names none
when the charger keeps no logs (``CoreSettings.diagnostics_available``, §5.9);
then ``StartTransfer(kind="diagnostics")`` asks the shell to build the archive of
the ``startTime``..``stopTime`` window and upload it: Uploading, then Uploaded or
UploadFailed (E3.31).  ``retries`` counts retries after the first attempt (E3.50);
absent, 1 retry after 180 s.  The job is kept in memory only: a power loss ends it.

A GetDiagnostics while an upload runs supersedes it, as the SAP simulator does
(the spec is silent): the running one is cancelled and reports UploadFailed, the
new one starts.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from ocpp.routing import after, on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from chargepoint.logmask import mask_text

from .actions import ArmTimer, CancelTimer, CancelTransfer, StartTransfer
from .events import TransferFinished
from .file_statuses import DIAGNOSTICS_STATUS, TransferStatuses
from .firmware_jobs import (
    DIAGNOSTICS_TRANSITIONS,
    LOCATION_MAX,
    DiagnosticsJob,
    DiagnosticsPhase,
    bounded_retries,
    check_date_time,
    check_transition,
)
from .records import StoredState
from .settings import CoreSettings, Identity

log = logging.getLogger("cpsim.core")

DIAGNOSTICS_TIMER = "diagnostics:retry"
_D = DiagnosticsPhase
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


class DiagnosticsCalls(TransferStatuses):
    def __init__(
        self, identity: Identity, settings: CoreSettings, stored: StoredState, now: float
    ) -> None:
        super().__init__(identity, settings, stored, now)
        self.diagnostics_phase = _D.IDLE
        self._diagnostics: DiagnosticsJob | None = None
        self._diagnostics_transfer: str | None = None
        self._next_diagnostics_name: str | None = None

    @on(Action.get_diagnostics)
    def on_get_diagnostics(
        self,
        location: str,
        start_time: str | None = None,
        stop_time: str | None = None,
        **_: Any,
    ) -> Any:
        check_date_time("startTime", start_time)
        check_date_time("stopTime", stop_time)
        if not self.settings.diagnostics_available:
            self._next_diagnostics_name = None
            return call_result.GetDiagnostics()  # §5.9: nothing available, no fileName
        cp = _UNSAFE_NAME.sub("_", self.identity.charge_point_id)
        stamp = self.timestamp()[:19].replace("-", "").replace(":", "")
        self._next_diagnostics_name = f"{cp}-diagnostics-{stamp}Z.tar.gz"
        return call_result.GetDiagnostics(file_name=self._next_diagnostics_name)

    @after(Action.get_diagnostics)
    def after_get_diagnostics(
        self,
        location: str,
        retries: int | None = None,
        retry_interval: int | None = None,
        start_time: str | None = None,
        stop_time: str | None = None,
        **_: Any,
    ) -> None:
        name, self._next_diagnostics_name = self._next_diagnostics_name, None
        if name is None:
            self.timeline("diagnostics", unavailable=True)
            return
        if self._diagnostics is not None:  # superseded (as SAP does): it ends UploadFailed
            if self._diagnostics_transfer is not None:
                self.emit(CancelTransfer(self._diagnostics_transfer))
                self._diagnostics_transfer = None
            self.emit(CancelTimer(DIAGNOSTICS_TIMER))
            self.notify_status(
                DIAGNOSTICS_STATUS, "UploadFailed", reason="superseded by a newer GetDiagnostics"
            )
        count, interval = bounded_retries(retries, retry_interval)
        self._diagnostics = DiagnosticsJob(location, name, count, interval, start_time, stop_time)
        self.timeline("diagnostics", fileName=name, location=mask_text(location))
        self._upload()

    def _upload(self) -> None:
        job = self._diagnostics
        assert job is not None
        self._set_diagnostics_phase(_D.UPLOADING)
        self.notify_status(DIAGNOSTICS_STATUS, "Uploading")
        if len(job.location) > LOCATION_MAX:
            self._upload_finished(False, f"location longer than {LOCATION_MAX}")
            return
        transfer = self.new_transfer_id("diagnostics")
        self._diagnostics_transfer = transfer
        self.emit(
            StartTransfer(
                transfer,
                "diagnostics",
                job.location,
                file_name=job.file_name,
                start_time=job.start_time,
                stop_time=job.stop_time,
            )
        )

    def transfer_finished(self, event: TransferFinished) -> None:
        if event.transfer_id == self._diagnostics_transfer:
            self._diagnostics_transfer = None
            self._upload_finished(event.ok, event.detail)
        else:
            log.info("transfer %s finished after it was given up", event.transfer_id)

    def _upload_finished(self, ok: bool, detail: str) -> None:
        job = self._diagnostics
        assert job is not None
        if ok:
            self.notify_status(DIAGNOSTICS_STATUS, "Uploaded")
            self._end_diagnostics_job()
            return
        detail = mask_text(detail or "no reason given")
        log.warning("diagnostics upload failed: %s", detail)
        self.notify_status(DIAGNOSTICS_STATUS, "UploadFailed", reason=detail)
        if job.retries_left > 0:
            job.retries_left -= 1
            self._set_diagnostics_phase(_D.SCHEDULED)
            self.timeline("diagnostics", retry_in=job.retry_interval, retriesLeft=job.retries_left)
            self.emit(ArmTimer(DIAGNOSTICS_TIMER, self.now + job.retry_interval))
            return
        self._end_diagnostics_job()

    def _end_diagnostics_job(self) -> None:
        self._set_diagnostics_phase(_D.IDLE)
        self._diagnostics = None
        self.job_ended(DIAGNOSTICS_STATUS)

    def _set_diagnostics_phase(self, new: DiagnosticsPhase) -> None:
        self.diagnostics_phase = check_transition(
            DIAGNOSTICS_TRANSITIONS, self.diagnostics_phase, new
        )

    def layer_timer(self, name: str) -> bool:
        if name != DIAGNOSTICS_TIMER:
            return super().layer_timer(name)
        if self.diagnostics_phase is _D.SCHEDULED:
            self._upload()
        return True
