"""Firmware Management (§4.5, §5.19): UpdateFirmware; GetDiagnostics is the layer below
(:mod:`.diagnostics_calls`), the status notifications below that (:mod:`.file_statuses`).

The core decides, the shell moves the bytes: ``StartTransfer`` asks the shell to
download the image over the charger's own link (``TransferFinished`` comes back),
``InstallFirmware`` asks it to check the downloaded image (``InstallFinished`` comes
back with its version).  The jobs' state machines are in :mod:`.firmware_jobs`.
The running version (``firmware.version``) and the job (``firmware.job``, with its
phase) are persisted, so a power loss resumes the update where it was.

Choices where the spec is silent (ocpp16-profiles.md §5):

- ``retries`` counts retries after the first attempt (E3.50 for GetDiagnostics;
  MicroOcpp reads UpdateFirmware's the same way); absent: 1 retry after 180 s.  A
  failed installation uses a retry too (download again, as MicroOcpp does): a
  corrupt image is most often a corrupt transfer.
- ``Installed`` is sent after the reboot's Accepted boot (§5.19 NOTE, E3.47); it is
  kept with the job in the store until the CSMS has answered it, so a power loss
  between the installation and that boot still reports it.  A power loss while
  downloading counts as a failed attempt; one while installing installs again.
- An UpdateFirmware while one is scheduled (not downloading yet, or waiting for a
  retry) replaces it; once downloading or installing, the new one is ignored (an
  image being fetched or installed is not swapped; the timeline and log say so).
- Waiting for transactions before installing (§5.19, E3.49): idle connectors are
  Unavailable meanwhile (not persisted: a power loss resumes the job, which blocks
  them again), and every connector is blocked while installing; they are given
  back when the update fails or, installed, when the charger reboots.  (A
  ChangeAvailability meanwhile sees them Inoperative.)
"""

from __future__ import annotations

import logging
from typing import Any

from ocpp.routing import after, on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from chargepoint.firmware_image import ImageError, check_version
from chargepoint.logmask import mask_text
from chargepoint.timefmt import parse_epoch

from .actions import (
    ArmTimer,
    CancelTimer,
    DeleteValue,
    InstallFirmware,
    SaveValue,
    StartTransfer,
)
from .diagnostics_calls import DiagnosticsCalls
from .events import InstallFinished, LinkDown, TransferFinished
from .file_statuses import FIRMWARE_STATUS
from .firmware_jobs import (
    FIRMWARE_TRANSITIONS,
    LOCATION_MAX,
    FirmwareJob,
    FirmwarePhase,
    StoredJobError,
    bounded_retries,
    check_date_time,
    check_transition,
)
from .records import StoredState, TransactionRecord
from .settings import CoreSettings, Identity

log = logging.getLogger("cpsim.core")

VERSION_KEY = "firmware.version"
JOB_KEY = "firmware.job"
FIRMWARE_TIMER = "firmware:retrieve"
_F = FirmwarePhase
_NONE_BLOCKED: frozenset[int] = frozenset()
"""Shared by every charger with no connector blocked (an empty set costs each one 216 B)."""


class FirmwareCalls(DiagnosticsCalls):
    def __init__(
        self, identity: Identity, settings: CoreSettings, stored: StoredState, now: float
    ) -> None:
        super().__init__(identity, settings, stored, now)
        self.firmware_version = identity.firmware
        """What BootNotification reports: the factory version until an image is installed."""
        self.firmware_phase = _F.IDLE
        self._firmware: FirmwareJob | None = None
        self._firmware_transfer: str | None = None
        self._blocked = _NONE_BLOCKED
        """Connectors made Unavailable while an update waits or installs."""
        self._reboot_pending = False
        """Installed, and the reboot has not happened yet in this life."""
        self._restore_jobs(stored.values)

    # --- restart ----------------------------------------------------------------------

    def _restore_jobs(self, values: dict[str, str]) -> None:
        cp = self.identity.charge_point_id
        stored_version = values.get(VERSION_KEY)
        if stored_version is not None:
            try:
                self.firmware_version = check_version(stored_version)
            except ImageError as exc:
                log.warning("%s: stored firmware version skipped: %s", cp, exc)
        text = values.get(JOB_KEY)
        if text is None:
            return
        try:
            job = FirmwareJob.from_json(text)
        except StoredJobError as exc:
            log.warning("%s: stored firmware update skipped: %s", cp, exc)
            self.emit(DeleteValue(JOB_KEY))
            return
        self._firmware = job
        self.timeline("firmware", resumed=job.phase.value, location=mask_text(job.location))
        if job.phase is _F.SCHEDULED:
            self._set_firmware_phase(_F.SCHEDULED)
            self.emit(ArmTimer(FIRMWARE_TIMER, job.retrieve_at - self.offset))
        elif job.phase is _F.DOWNLOADING:  # the power loss cut the download
            self.firmware_phase = _F.DOWNLOADING
            self._firmware_failed("DownloadFailed", "power lost while downloading")
        elif job.phase in (_F.DOWNLOADED, _F.INSTALLING):  # the image is on disk: install it
            self.firmware_phase = _F.DOWNLOADED
            self.hold_unsent(FIRMWARE_STATUS, "Downloaded")
            self._install_when_idle()
        else:  # Rebooting: installed; Installed goes after the next Accepted boot
            assert job.version is not None
            self.firmware_phase = _F.REBOOTING
            self.hold_unsent(FIRMWARE_STATUS, "Installed")

    # --- UpdateFirmware (§5.19) -------------------------------------------------------

    @on(Action.update_firmware)
    def on_update_firmware(self, location: str, retrieve_date: str, **_: Any) -> Any:
        check_date_time("retrieveDate", retrieve_date)
        return call_result.UpdateFirmware()

    @after(Action.update_firmware)
    def after_update_firmware(
        self,
        location: str,
        retrieve_date: str,
        retries: int | None = None,
        retry_interval: int | None = None,
        **_: Any,
    ) -> None:
        if self.firmware_phase not in (_F.IDLE, _F.SCHEDULED):
            log.warning("UpdateFirmware ignored: an update is %s", self.firmware_phase.value)
            self.timeline(
                "firmware",
                ignored=mask_text(location),
                reason=f"an update is {self.firmware_phase.value}",
            )
            return
        count, interval = bounded_retries(retries, retry_interval)
        if retries not in (None, count) or retry_interval not in (None, interval):
            log.warning("UpdateFirmware retries/retryInterval bounded to %d, %ds", count, interval)
        wall = parse_epoch(retrieve_date)
        job = FirmwareJob(location, wall if wall is not None else self.wall(), count, interval)
        self._firmware = job
        self.job_ended(FIRMWARE_STATUS)  # a replaced one: nothing to report of it
        self._set_firmware_phase(_F.SCHEDULED)
        self._save_job()
        self.timeline(
            "firmware",
            scheduled=mask_text(location),
            retrieveDate=retrieve_date,
            retries=count,
            retryInterval=interval,
        )
        # §5.19: start retrieving as soon as possible after retrieveDate (wall time)
        self.emit(ArmTimer(FIRMWARE_TIMER, max(self.now, job.retrieve_at - self.offset)))

    def _download(self) -> None:
        job = self._firmware
        if job is None or self.firmware_phase is not _F.SCHEDULED:
            return
        self._set_firmware_phase(_F.DOWNLOADING)
        self._save_job()
        self._firmware_status("Downloading")
        if len(job.location) > LOCATION_MAX:
            self._firmware_failed("DownloadFailed", f"location longer than {LOCATION_MAX}")
            return
        transfer = self.new_transfer_id("firmware")
        self._firmware_transfer = transfer
        self.emit(StartTransfer(transfer, "firmware", job.location))

    def transfer_finished(self, event: TransferFinished) -> None:
        if event.transfer_id != self._firmware_transfer:
            super().transfer_finished(event)
            return
        self._firmware_transfer = None
        if event.ok:
            self._downloaded()
        else:
            self._firmware_failed("DownloadFailed", event.detail)

    def _downloaded(self) -> None:
        self._set_firmware_phase(_F.DOWNLOADED)
        self._save_job()
        self._firmware_status("Downloaded")
        self._install_when_idle()

    def _install_when_idle(self) -> None:
        """§5.19, E3.49: install once no transaction runs; idle connectors are Unavailable
        meanwhile, and all of them while installing."""
        if self.firmware_phase is not _F.DOWNLOADED:
            return
        self._block_idle_connectors()
        if self.any_transaction():
            busy = [c.id for c in self.connectors.values() if c.transaction is not None]
            self.timeline("firmware", waiting="transactions", connectors=busy)
            return
        job = self._firmware
        assert job is not None
        self._set_firmware_phase(_F.INSTALLING)
        self._save_job()
        self._firmware_status("Installing")
        transfer = self.new_transfer_id("install")
        self._firmware_transfer = transfer
        self.emit(InstallFirmware(transfer, job.location))

    def install_finished(self, event: InstallFinished) -> None:
        if event.transfer_id != self._firmware_transfer:
            log.info("installation %s finished after it was given up", event.transfer_id)
            return
        self._firmware_transfer = None
        job = self._firmware
        assert job is not None
        try:
            version = check_version(event.version) if event.ok else None
        except ImageError as exc:
            version, detail = None, str(exc)
        else:
            detail = event.detail
        if version is None:
            self._firmware_failed("InstallationFailed", detail)
            return
        # One step, one store transaction: the running version and "installed, report it".
        previous, self.firmware_version = self.firmware_version, version
        job.version = version
        self._set_firmware_phase(_F.REBOOTING)
        self.emit(SaveValue(VERSION_KEY, version))
        self._save_job()
        self.timeline("firmware", installed=version, previous=previous)
        # §5.19 NOTE, E3.47: reboot first; Installed goes once the new firmware has booted.
        self._reboot_pending = self.connected
        if self.connected:
            self.begin_reset("Firmware")  # Installed after the boot of the reboot (link_down)
        else:
            self.hold_unsent(FIRMWARE_STATUS, "Installed")

    def _firmware_failed(self, status: str, detail: str) -> None:
        job = self._firmware
        assert job is not None
        detail = mask_text(detail or "no reason given")
        log.warning("firmware update: %s: %s", status, detail)
        self._firmware_status(status, reason=detail)
        self._unblock_connectors()
        if job.retries_left > 0:
            job.retries_left -= 1
            job.retrieve_at = self.wall() + job.retry_interval
            self._set_firmware_phase(_F.SCHEDULED)
            self._save_job()
            self.timeline("firmware", retry_in=job.retry_interval, retriesLeft=job.retries_left)
            self.emit(ArmTimer(FIRMWARE_TIMER, self.now + job.retry_interval))
            return
        self._end_firmware_job()

    def _end_firmware_job(self) -> None:
        self._set_firmware_phase(_F.IDLE)
        self._firmware = None
        self.job_ended(FIRMWARE_STATUS)
        self.emit(CancelTimer(FIRMWARE_TIMER))
        self.emit(DeleteValue(JOB_KEY))

    def _save_job(self) -> None:
        job = self._firmware
        assert job is not None
        job.phase = self.firmware_phase
        self.emit(SaveValue(JOB_KEY, job.to_json()))

    def _set_firmware_phase(self, new: FirmwarePhase) -> None:
        self.firmware_phase = check_transition(FIRMWARE_TRANSITIONS, self.firmware_phase, new)

    # --- connectors while an update waits (§5.19, E3.49) ------------------------------

    def _block_idle_connectors(self) -> None:
        for connector in self.connectors.values():
            if connector.id == 0 or connector.transaction is not None:
                continue
            if connector.operative and connector.id not in self._blocked:
                self._blocked |= {connector.id}
                connector.operative = False  # not SaveAvailability: this is not the CSMS's
                self.refresh_status(connector)

    def _unblock_connectors(self) -> None:
        blocked, self._blocked = self._blocked, _NONE_BLOCKED
        for cid in sorted(blocked):
            connector = self.connectors[cid]
            if not connector.operative:
                connector.operative = True
                self.refresh_status(connector)

    def transaction_stopped(self, tx: TransactionRecord, reason: str) -> None:
        super().transaction_stopped(tx, reason)
        if self.firmware_phase is _F.DOWNLOADED:
            self._block_idle_connectors()

    def transactions_ended(self) -> None:
        super().transactions_ended()
        self._install_when_idle()

    # --- the status notifications (.file_statuses) ----------------------------------

    def _firmware_status(self, status: str, **detail: Any) -> None:
        self.notify_status(FIRMWARE_STATUS, status, **detail)

    def status_answered(self, action: str, status: str, delivered: bool) -> None:
        super().status_answered(action, status, delivered)
        # Installed answered (or refused: the update is over anyway): the job is done
        installed = (action, status) == (FIRMWARE_STATUS, "Installed")
        if installed and self.firmware_phase is _F.REBOOTING:
            self._end_firmware_job()

    def send_unsent(self) -> None:
        if not self._reboot_pending:  # a TriggerMessage's boot, not the reboot: Installed waits
            super().send_unsent()

    def report_all_statuses(self) -> None:
        super().report_all_statuses()
        job = self._firmware
        if job is not None and self.firmware_phase is _F.SCHEDULED:
            # retrieveDate is wall time: the boot may have brought the CSMS's clock
            self.emit(ArmTimer(FIRMWARE_TIMER, max(self.now, job.retrieve_at - self.offset)))

    # --- boot, reboot and timers ------------------------------------------------------

    def boot_payload(self) -> dict[str, Any]:
        payload = super().boot_payload()
        payload["firmwareVersion"] = self.firmware_version  # §6.3: the running image's
        return payload

    def link_down(self, event: LinkDown) -> None:
        super().link_down(event)
        if self._reboot_pending:  # the reboot: the new firmware starts with free connectors
            self._reboot_pending = False
            self.hold_unsent(FIRMWARE_STATUS, "Installed")
            self._unblock_connectors()

    def layer_timer(self, name: str) -> bool:
        if name != FIRMWARE_TIMER:
            return super().layer_timer(name)
        self._download()
        return True
