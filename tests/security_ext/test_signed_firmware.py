"""SignedUpdateFirmware (WP L01) in the core, and the shell's signature check on a real file."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

from core.harness import Harness
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from chargepoint.core import actions as act
from chargepoint.core import events as ev
from chargepoint.firmware_image import pack
from chargepoint.security import events as sec
from chargepoint.security.pki import issue
from chargepoint.station.transfers import TransferRunner
from security_ext.pkihelp import NOW, ca, pem

URL = "http://files.example/cpsim-0.2.bin"


def signer() -> tuple[x509.Certificate, x509.Certificate, ec.EllipticCurvePrivateKey]:
    """(manufacturer root, firmware signing certificate, its key)."""
    root, root_key = ca("maker root")
    cert, key = issue(root, root_key, "firmware signer", now=NOW)
    return root, cert, key


def online(root: x509.Certificate, extension: bool = True) -> Harness:
    h = Harness(config={"SecurityExtension": "true" if extension else "false"})
    h.boot(interval=3600)
    answer = h.csms_call(
        "InstallCertificate",
        {"certificateType": "ManufacturerRootCertificate", "certificate": pem(root)},
        uid="install",
    )
    assert answer[2] == {"status": "Accepted"}
    return h


def signed_update(h: Harness, cert: x509.Certificate, request_id: int = 7, **extra: Any) -> str:
    firmware = {
        "location": URL,
        "retrieveDateTime": h.iso(),
        "signingCertificate": pem(cert),
        "signature": base64.b64encode(b"sig").decode(),
    }
    answer = h.csms_call(
        "SignedUpdateFirmware", {"requestId": request_id, "firmware": firmware, **extra}
    )
    h.answer_all()
    return str(answer[2]["status"])


def signed_statuses(h: Harness) -> list[dict[str, Any]]:
    return [f[3] for f in h.calls("SignedFirmwareStatusNotification")]


def last(h: Harness, kind: type[act.Action]) -> Any:
    return [a for a in h.log if isinstance(a, kind)][-1]


def test_signed_update_downloads_verifies_installs_and_reports_with_request_id() -> None:
    root, cert, _ = signer()
    h = online(root)
    assert signed_update(h, cert) == "Accepted"
    h.advance(1)
    h.answer_all()
    h.feed(ev.TransferFinished(last(h, act.StartTransfer).transfer_id, True))
    h.answer_all()
    check = last(h, act.VerifyFirmwareSignature)
    assert check.signing_certificate == pem(cert)
    assert not [a for a in h.log if isinstance(a, act.InstallFirmware)]  # not before the check
    h.feed(ev.SignatureChecked(check.transfer_id, True))
    h.answer_all()
    h.feed(ev.InstallFinished(last(h, act.InstallFirmware).transfer_id, True, "cpsim-0.2"))
    h.answer_all()
    h.feed(ev.LinkDown("Firmware reset"))
    h.boot(interval=3600)
    assert signed_statuses(h) == [
        {"status": s, "requestId": 7}
        for s in ("Downloading", "Downloaded", "SignatureVerified", "Installing", "Installed")
    ]
    assert not h.calls("FirmwareStatusNotification")
    types = [f[3]["type"] for f in h.calls("SecurityEventNotification")]
    assert sec.FIRMWARE_UPDATED in types


def test_a_bad_signature_ends_the_update_with_invalid_signature() -> None:
    root, cert, _ = signer()
    h = online(root)
    signed_update(h, cert)
    h.advance(1)
    h.answer_all()
    h.feed(ev.TransferFinished(last(h, act.StartTransfer).transfer_id, True))
    h.feed(ev.SignatureChecked(last(h, act.VerifyFirmwareSignature).transfer_id, False, "bad"))
    h.answer_all()
    assert signed_statuses(h)[-1] == {"status": "InvalidSignature", "requestId": 7}
    assert not [a for a in h.log if isinstance(a, act.InstallFirmware)]
    events = [f[3] for f in h.calls("SecurityEventNotification")]
    assert events[-1]["type"] == sec.INVALID_FIRMWARE_SIGNATURE
    assert "firmware.signed" not in h.store.values and "firmware.job" not in h.store.values


def test_a_new_request_while_scheduled_cancels_it() -> None:
    root, cert, _ = signer()
    h = online(root)
    firmware = {
        "location": URL,
        "retrieveDateTime": "2030-01-02T00:00:00Z",
        "signingCertificate": pem(cert),
        "signature": "AAAA",
    }
    h.csms_call("SignedUpdateFirmware", {"requestId": 1, "firmware": firmware}, uid="a")
    again = h.csms_call("SignedUpdateFirmware", {"requestId": 2, "firmware": firmware}, uid="b")
    assert again[2] == {"status": "AcceptedCanceled"}  # L01.FR.26


def test_a_signed_job_resumes_signed_after_a_power_loss() -> None:
    root, cert, _ = signer()
    h = online(root)
    signed_update(h, cert)
    h.advance(1)
    h.answer_all()
    h.feed(ev.TransferFinished(last(h, act.StartTransfer).transfer_id, True))
    h.answer_all()
    after = h.power_loss(after=5)
    check = [a for a in after.log if isinstance(a, act.VerifyFirmwareSignature)]
    assert check and not [a for a in after.log if isinstance(a, act.InstallFirmware)]


def test_triggered_signed_status_carries_the_request_id() -> None:
    root, cert, _ = signer()
    h = online(root)
    signed_update(h, cert, request_id=42)
    h.advance(1)  # retrieveDateTime reached: Downloading
    h.answer_all()
    h.csms_call("ExtendedTriggerMessage", {"requestedMessage": "FirmwareStatusNotification"})
    h.answer_all()
    assert signed_statuses(h)[-1] == {"status": "Downloading", "requestId": 42}


def test_the_shell_checks_the_signature_over_the_whole_file(tmp_path: Path) -> None:
    _, cert, key = signer()
    image = pack(b"new firmware", "v2")
    (tmp_path / "firmware").mkdir()
    (tmp_path / "firmware" / "image.bin").write_bytes(image)
    good = base64.b64encode(key.sign(image, ec.ECDSA(hashes.SHA256()))).decode()
    bad = base64.b64encode(key.sign(image[:-1], ec.ECDSA(hashes.SHA256()))).decode()

    async def main() -> list[ev.Event]:
        fed: list[ev.Event] = []
        runner = TransferRunner(fed.append, "CP1", tmp_path, lambda: 0.0, lambda: [""])
        runner.verify_signature(act.VerifyFirmwareSignature("signature:1", pem(cert), good))
        runner.verify_signature(act.VerifyFirmwareSignature("signature:2", pem(cert), bad))
        async with asyncio.timeout(5):
            while len(fed) < 2:
                await asyncio.sleep(0.01)
        return fed

    fed = asyncio.run(main())
    outcome = {e.transfer_id: e.ok for e in fed if isinstance(e, ev.SignatureChecked)}
    assert outcome == {"signature:1": True, "signature:2": False}
