"""SignedUpdateFirmware's installDateTime (WP L01.FR.16/17, L01.FR.26) in the core: fed as
CSMS frames and the shell's outcomes, checked on the SignedFirmwareStatusNotifications."""

from __future__ import annotations

from typing import Any

from cryptography import x509
from security_ext.pkihelp import NOW, ca, pem

from chargepoint.core import actions as act
from chargepoint.core import events as ev
from chargepoint.security.pki import issue
from core.harness import Harness, iso

URL = "http://files.example/cpsim-0.3.bin"
HOUR = 3600.0


def online() -> tuple[Harness, x509.Certificate]:
    """A charger with a manufacturer root installed; the firmware signing certificate."""
    root, root_key = ca("maker root")
    cert, _ = issue(root, root_key, "firmware signer", now=NOW)
    h = Harness(config={"SecurityExtension": "true"}, connectors=2)
    h.boot(interval=24 * 3600)
    payload = {"certificateType": "ManufacturerRootCertificate", "certificate": pem(root)}
    assert h.csms_call("InstallCertificate", payload, uid="install")[2] == {"status": "Accepted"}
    return h, cert


def request(h: Harness, cert: x509.Certificate, request_id: int, **firmware: Any) -> list[Any]:
    body = {
        "location": URL,
        "retrieveDateTime": h.iso(),
        "signingCertificate": pem(cert),
        "signature": "c2ln",
        **firmware,
    }
    answer = h.csms_call(
        "SignedUpdateFirmware", {"requestId": request_id, "firmware": body}, uid=f"u{request_id}"
    )
    h.answer_all()
    return answer


def last(h: Harness, kind: type[act.Action]) -> Any:
    return [a for a in h.log if isinstance(a, kind)][-1]


def installs(h: Harness) -> list[act.InstallFirmware]:
    return [a for a in h.log if isinstance(a, act.InstallFirmware)]


def statuses(h: Harness) -> list[str]:
    return [f[3]["status"] for f in h.calls("SignedFirmwareStatusNotification")]


def downloaded_and_verified(h: Harness) -> None:
    h.advance(1)
    h.answer_all()
    h.feed(ev.TransferFinished(last(h, act.StartTransfer).transfer_id, True))
    h.feed(ev.SignatureChecked(last(h, act.VerifyFirmwareSignature).transfer_id, True))
    h.answer_all()


def connector_statuses(h: Harness, connector: int) -> list[str]:
    return [
        f[3]["status"] for f in h.calls("StatusNotification") if f[3]["connectorId"] == connector
    ]


def test_install_date_time_ahead_is_install_scheduled_then_installed_at_that_time() -> None:
    h, cert = online()
    install_at = h.now + 2 * HOUR
    assert request(h, cert, 5, installDateTime=iso(install_at))[2] == {"status": "Accepted"}
    downloaded_and_verified(h)
    assert statuses(h) == ["Downloading", "Downloaded", "SignatureVerified", "InstallScheduled"]
    assert all(f[3]["requestId"] == 5 for f in h.calls("SignedFirmwareStatusNotification"))
    h.advance(install_at - h.now - 1)
    h.answer_all()
    assert installs(h) == []  # not before installDateTime (L01.FR.17)
    assert "Unavailable" not in connector_statuses(h, 1)  # in service while it waits
    h.advance(1)
    h.answer_all()
    assert len(installs(h)) == 1
    assert statuses(h)[-1] == "Installing"


def test_without_install_date_time_it_installs_at_once() -> None:
    h, cert = online()
    request(h, cert, 6)
    downloaded_and_verified(h)
    assert "InstallScheduled" not in statuses(h)
    assert len(installs(h)) == 1  # L01.FR.05


def test_an_install_date_time_already_past_installs_at_once() -> None:
    h, cert = online()
    request(h, cert, 6, installDateTime=iso(h.now - HOUR))
    downloaded_and_verified(h)
    assert "InstallScheduled" not in statuses(h)
    assert len(installs(h)) == 1


def test_the_scheduled_installation_survives_a_power_loss() -> None:
    h, cert = online()
    install_at = h.now + HOUR
    request(h, cert, 8, installDateTime=iso(install_at))
    downloaded_and_verified(h)
    after = h.power_loss(after=60)
    assert installs(after) == []
    after.boot(interval=24 * 3600)
    after.advance(install_at - after.now - 1)
    after.answer_all()
    assert installs(after) == []
    after.advance(2)
    after.answer_all()
    assert len(installs(after)) == 1
    assert [f[3]["requestId"] for f in after.calls("SignedFirmwareStatusNotification")][-1] == 8


def test_a_new_request_cancels_the_scheduled_installation() -> None:
    h, cert = online()
    request(h, cert, 1, installDateTime=iso(h.now + HOUR))
    downloaded_and_verified(h)
    assert statuses(h)[-1] == "InstallScheduled"
    second = "http://files.example/cpsim-0.4.bin"
    assert request(h, cert, 2, location=second)[2] == {"status": "AcceptedCanceled"}  # L01.FR.26
    h.advance(HOUR + 1)
    h.answer_all()
    assert installs(h) == []  # the cancelled one never installs
    assert last(h, act.StartTransfer).url == second
    downloaded_and_verified(h)
    assert [i.location for i in installs(h)] == [second]
    assert h.calls("SignedFirmwareStatusNotification")[-1][3] == {
        "status": "Installing",
        "requestId": 2,
    }


def test_an_install_date_time_that_is_no_date_time_is_a_call_error() -> None:
    h, cert = online()
    answer = request(h, cert, 3, installDateTime="tomorrow")
    assert answer[0] == 4 and answer[2] == "TypeConstraintViolation"


def test_a_triggered_status_while_scheduled_is_install_scheduled() -> None:
    h, cert = online()
    request(h, cert, 4, installDateTime=iso(h.now + HOUR))
    downloaded_and_verified(h)
    h.csms_call("ExtendedTriggerMessage", {"requestedMessage": "FirmwareStatusNotification"})
    h.answer_all()
    assert h.calls("SignedFirmwareStatusNotification")[-1][3] == {
        "status": "InstallScheduled",
        "requestId": 4,
    }


def test_a_transaction_ending_while_it_waits_leaves_the_connectors_in_service() -> None:
    h, cert = online()
    h.feed(ev.PlugIn(1))
    h.feed(ev.PresentIdTag(1, "TAG1"))
    h.answer_all()
    install_at = h.now + HOUR
    request(h, cert, 9, installDateTime=iso(install_at))
    downloaded_and_verified(h)
    h.feed(ev.StopCharging(1))
    h.answer_all()
    assert "Unavailable" not in connector_statuses(h, 1) + connector_statuses(h, 2)
    h.advance(install_at - h.now)
    h.answer_all()
    assert len(installs(h)) == 1  # at installDateTime: blocked and installed (L01.FR.07)
    assert connector_statuses(h, 2)[-1] == "Unavailable"
