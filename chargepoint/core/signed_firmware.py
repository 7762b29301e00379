"""SignedUpdateFirmware and SignedFirmwareStatusNotification (Security Whitepaper L01), on
the firmware job of :mod:`.firmware` (same download, retries, waiting for
transactions, installation, reboot, Installed after the boot).

- Before accepting: the signingCertificate must chain to an installed
  ManufacturerRootCertificate (L01.FR.23); else InvalidCertificate and the
  InvalidFirmwareSigningCertificate event (L01.FR.02/24).  No revocation list is
  kept, so RevokedCertificate is never answered.
- A request while one is scheduled (not downloading yet) replaces it:
  AcceptedCanceled (L01.FR.26); while one downloads or installs: Rejected (L01.FR.27,
  an image under way is not swapped, as for UpdateFirmware).
- After Downloaded the shell checks the signature over the entire file
  (``VerifyFirmwareSignature``, L01.FR.04): SignatureVerified, then the installation
  as for UpdateFirmware; or InvalidSignature, the InvalidFirmwareSignature event
  (L01.FR.03), and the update ends (a bad signature is not retried).
- Every status goes as SignedFirmwareStatusNotification with the requestId
  (L01.FR.01/10).  The signed job's extras are kept in the store's values
  (``firmware.signed``) beside ``firmware.job``, so a power loss resumes it signed.
- installDateTime (wall time) still ahead once the signature is verified:
  InstallScheduled (L01.FR.16), then the installation at that time (L01.FR.17), as
  for UpdateFirmware from there (waiting for transactions, L01.FR.06/07).  Until then
  the connectors stay in service (the charger can charge while it waits; EVerest
  blocks them from SignatureVerified on).  Without it: as soon as possible
  (L01.FR.05).  A new request while the installation is scheduled cancels it
  (AcceptedCanceled, L01.FR.26).  A dateTime that is not one is a CALLERROR
  TypeConstraintViolation, as for UpdateFirmware.
- The plain UpdateFirmware gets CALLERROR NotSupported (L01.FR.20) when
  ``SecurityExtension`` is true; false keeps it for chargers without the extension.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from typing import Any, Final

from ocpp.exceptions import NotSupportedError
from ocpp.routing import after, on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from chargepoint.security import certstore
from chargepoint.security import events as sec
from chargepoint.security.certstore import CertificateProblem
from chargepoint.timefmt import parse_epoch

from .actions import ArmTimer, CancelTimer, DeleteValue, SaveValue, VerifyFirmwareSignature
from .csms_trust import CsmsTrust
from .events import SignatureChecked
from .file_statuses import FIRMWARE_STATUS
from .firmware_jobs import FirmwarePhase, check_date_time
from .records import StoredState
from .settings import CoreSettings, Identity

log = logging.getLogger("cpsim.core")

SIGNED_KEY: Final = "firmware.signed"
SIGNED_STATUS: Final = "SignedFirmwareStatusNotification"
INSTALL_TIMER: Final = "signed-firmware:install"
_F = FirmwarePhase


@dataclass
class SignedJob:
    request_id: int
    signing_certificate: str
    signature: str
    verified: bool = False
    install_at: float | None = None
    """installDateTime as wall time (epoch seconds), when one was given."""
    install_scheduled: bool = False
    """InstallScheduled was reported (L01.FR.16)."""

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> SignedJob | None:
        if not text:
            return None
        try:
            data = json.loads(text)
            install_at = data.get("install_at")
            return cls(
                int(data["request_id"]),
                str(data["signing_certificate"]),
                str(data["signature"]),
                bool(data["verified"]),
                None if install_at is None else float(install_at),
                bool(data.get("install_scheduled", False)),
            )
        except (ValueError, TypeError, KeyError):
            log.warning("stored signed firmware update skipped: not one")
            return None


class SignedFirmwareCalls(CsmsTrust):
    def __init__(
        self, identity: Identity, settings: CoreSettings, stored: StoredState, now: float
    ) -> None:
        # before the firmware layer resumes its job: a resumed signed job is checked
        self._signed = SignedJob.from_json(stored.values.get(SIGNED_KEY))
        self._signature_check: str | None = None
        self._next_signed: SignedJob | None = None
        self._schedule_told = False
        """InstallScheduled was sent, or held for the next boot, in this life."""
        super().__init__(identity, settings, stored, now)

    # --- the calls --------------------------------------------------------------------

    @on(Action.update_firmware)
    def on_update_firmware(self, location: str, retrieve_date: str, **_: Any) -> Any:
        if self.security_extension:
            raise NotSupportedError(
                description="UpdateFirmware: this charger takes SignedUpdateFirmware (L01.FR.20)"
            )
        if self.firmware_phase in (_F.IDLE, _F.SCHEDULED) and self._signed is not None:
            self._drop_signed()  # the plain one replaces a scheduled signed one
        return super().on_update_firmware(location, retrieve_date)

    @on(Action.signed_update_firmware)
    def on_signed_update_firmware(self, request_id: int, firmware: dict[str, Any], **_: Any) -> Any:
        self._next_signed = None
        check_date_time("retrieveDateTime", firmware.get("retrieve_date_time"))
        install_date = firmware.get("install_date_time")
        check_date_time("installDateTime", install_date)
        use = "ManufacturerRootCertificate"
        roots = [c for _, c in self.installed(use)]
        text = str(firmware.get("signing_certificate", ""))
        try:
            cert = certstore.load_one(text)
            certstore.check_chain([cert], roots, self._wall_datetime(), use)  # L01.FR.23
        except CertificateProblem as exc:
            log.warning("SignedUpdateFirmware %s: InvalidCertificate: %s", request_id, exc)
            self.security_event(sec.INVALID_FIRMWARE_SIGNING_CERTIFICATE, str(exc))
            return call_result.SignedUpdateFirmware(status="InvalidCertificate")  # L01.FR.24
        waiting = self._install_waiting()
        if self.firmware_phase not in (_F.IDLE, _F.SCHEDULED) and not waiting:
            return call_result.SignedUpdateFirmware(status="Rejected")  # L01.FR.27
        self._next_signed = SignedJob(
            request_id,
            text,
            str(firmware.get("signature", "")),
            install_at=parse_epoch(install_date) if install_date else None,
        )
        canceled = self.firmware_phase is _F.SCHEDULED or waiting
        return call_result.SignedUpdateFirmware(
            status="AcceptedCanceled" if canceled else "Accepted"  # L01.FR.26
        )

    @after(Action.signed_update_firmware)
    def after_signed_update_firmware(
        self,
        request_id: int,
        firmware: dict[str, Any],
        retries: int | None = None,
        retry_interval: int | None = None,
        **_: Any,
    ) -> None:
        job, self._next_signed = self._next_signed, None
        if job is None:
            return
        if self._install_waiting():  # L01.FR.26: the scheduled installation is cancelled
            self.timeline("firmware", canceled="InstallScheduled")
            self.emit(CancelTimer(INSTALL_TIMER))
            self._end_firmware_job()
        self._signed = job
        self._save_signed()
        self.after_update_firmware(
            str(firmware["location"]),
            str(firmware["retrieve_date_time"]),
            retries=retries,
            retry_interval=retry_interval,
        )

    # --- the signature between Downloaded and Installing (L01.FR.04) -----------------

    def _downloaded(self) -> None:
        if self._signed is not None:
            self._signed.verified = False  # a new download: its signature is checked anew
            self._save_signed()
        super()._downloaded()

    def _install_when_idle(self) -> None:
        job = self._signed
        if job is None or self.firmware_phase is not _F.DOWNLOADED:
            super()._install_when_idle()
            return
        if job.verified:
            if not self._install_time_ahead(job):
                super()._install_when_idle()
            return
        if self._signature_check is None:
            self._signature_check = self.new_transfer_id("signature")
            self.emit(
                VerifyFirmwareSignature(
                    self._signature_check, job.signing_certificate, job.signature
                )
            )

    def signature_checked(self, event: SignatureChecked) -> None:
        if event.transfer_id != self._signature_check or self._signed is None:
            log.info("signature check %s finished after it was given up", event.transfer_id)
            return
        self._signature_check = None
        if event.ok:
            self._signed.verified = True
            self._save_signed()
            self.notify_status(FIRMWARE_STATUS, "SignatureVerified")
            self._install_when_idle()
            return
        detail = event.detail or "the signature does not verify"
        log.warning("signed firmware update: InvalidSignature: %s", detail)
        self.security_event(sec.INVALID_FIRMWARE_SIGNATURE, detail)  # L01.FR.03
        self.notify_status(FIRMWARE_STATUS, "InvalidSignature", reason=detail)
        self._unblock_connectors()
        self._end_firmware_job()

    # --- installDateTime (L01.FR.16/17) ------------------------------------------------

    def _install_time_ahead(self, job: SignedJob) -> bool:
        """Whether the installation waits for installDateTime; if so, InstallScheduled is
        told (once) and the timer armed for that wall time."""
        if job.install_at is None or self.wall() >= job.install_at:
            return False
        if not job.install_scheduled:
            job.install_scheduled = True
            self._save_signed()
            self.notify_status(FIRMWARE_STATUS, "InstallScheduled")  # L01.FR.16
        elif not self._schedule_told:  # resumed after a power loss: the latest status
            self.hold_unsent(FIRMWARE_STATUS, "InstallScheduled")
        self._schedule_told = True
        self.emit(ArmTimer(INSTALL_TIMER, max(self.now, job.install_at - self.offset)))
        return True

    def _install_waiting(self) -> bool:
        job = self._signed
        return (
            job is not None
            and job.install_scheduled
            and self.firmware_phase is _F.DOWNLOADED
            and job.install_at is not None
            and self.wall() < job.install_at
        )

    def _block_idle_connectors(self) -> None:
        if not self._install_waiting():  # waiting for installDateTime: still in service
            super()._block_idle_connectors()

    def report_all_statuses(self) -> None:
        super().report_all_statuses()
        job = self._signed
        if job is not None and job.install_at is not None and self._install_waiting():
            # installDateTime is wall time: the boot may have brought the CSMS's clock
            self.emit(ArmTimer(INSTALL_TIMER, max(self.now, job.install_at - self.offset)))

    def layer_timer(self, name: str) -> bool:
        if name != INSTALL_TIMER:
            return super().layer_timer(name)
        self._install_when_idle()  # L01.FR.17 (or on waiting for transactions)
        return True

    # --- statuses and the job's end ---------------------------------------------------

    def status_message(self, action: str, status: str) -> tuple[str, dict[str, Any]]:
        if action != FIRMWARE_STATUS or self._signed is None:
            return super().status_message(action, status)
        return SIGNED_STATUS, {"status": status, "requestId": self._signed.request_id}

    def signed_trigger_payload(self) -> dict[str, Any]:
        """L01.FR.28/29: the last status, Idle after Installed (requestId unless Idle)."""
        status = self.triggered_status(FIRMWARE_STATUS)
        status = "Idle" if status == "Installed" else status
        payload: dict[str, Any] = {"status": status}
        if status != "Idle" and self._signed is not None:
            payload["requestId"] = self._signed.request_id
        return payload

    def _end_firmware_job(self) -> None:
        super()._end_firmware_job()
        self._drop_signed()

    def _drop_signed(self) -> None:
        if self._signed is not None:
            self._signed = None
            self._signature_check = None
            self._schedule_told = False
            self.emit(DeleteValue(SIGNED_KEY))

    def _save_signed(self) -> None:
        assert self._signed is not None
        self.emit(SaveValue(SIGNED_KEY, self._signed.to_json()))
