"""Security events, ExtendedTriggerMessage, GetLog and the firmware rules, fed to the core."""

from __future__ import annotations

import pytest
from core.harness import Harness

from chargepoint.core import actions as act
from chargepoint.core import events as ev
from chargepoint.security import events as sec
from security_ext.pkihelp import ca, pem


def charger(extension: bool = True, **config: str) -> Harness:
    h = Harness(config={"SecurityExtension": "true" if extension else "false", **config})
    h.boot()
    return h


# --- SecurityEventNotification (A04) ----------------------------------------------------


def test_startup_event_is_queued_persisted_and_sent_after_the_boot() -> None:
    h = Harness(config={"SecurityExtension": "true"})
    assert [a for a, _ in h.store.queued()] == ["SecurityEventNotification"]
    h.boot()
    sent = h.calls("SecurityEventNotification")
    assert [f[3]["type"] for f in sent] == [sec.STARTUP_OF_THE_DEVICE]
    assert h.actions().index("BootNotification") < h.actions().index("SecurityEventNotification")
    assert h.store.queued() == []  # answered: off the queue


def test_an_event_is_retried_like_a_transaction_message() -> None:
    h = Harness(config={"SecurityExtension": "true", "TransactionMessageRetryInterval": "10"})
    h.boot(settle=False)
    h.answer_until("SecurityEventNotification")
    h.error("InternalError")
    assert h.store.queued()[0][0] == "SecurityEventNotification"
    h.advance(30)
    flight = h.in_flight()
    assert flight is not None and flight[2] == "SecurityEventNotification"
    assert len(h.calls("SecurityEventNotification")) == 2


def test_events_survive_a_power_loss_before_they_are_sent() -> None:
    h = Harness(config={"SecurityExtension": "true"})
    later = h.power_loss(after=5)
    later.boot()
    types = [f[3]["type"] for f in later.calls("SecurityEventNotification")]
    assert types == [sec.STARTUP_OF_THE_DEVICE, sec.STARTUP_OF_THE_DEVICE]


def test_without_the_extension_events_are_only_logged() -> None:
    h = charger(extension=False)
    assert not h.calls("SecurityEventNotification")
    assert '"StartupOfTheDevice"' in h.store.values["security.log"]
    assert any(t["kind"] == "security" for t in h.timeline)


def test_reset_and_clock_setting_are_security_events() -> None:
    h = charger()
    h.csms_call("Reset", {"type": "Soft"})
    h.answer_all()
    assert [f[3]["type"] for f in h.calls("SecurityEventNotification")][-1] == (sec.RESET_OR_REBOOT)
    h2 = Harness(config={"SecurityExtension": "true"})
    h2.feed(ev.LinkUp())
    h2.answer({"status": "Accepted", "currentTime": "2031-01-01T00:00:00Z", "interval": 60})
    h2.answer_all()
    types = [f[3]["type"] for f in h2.calls("SecurityEventNotification")]
    assert sec.SETTING_SYSTEM_TIME in types


def test_spellings_are_the_whitepapers() -> None:
    assert sec.FAILED_TO_AUTHENTICATE_AT_CENTRAL_SYSTEM == "FailedToAuthenticationAtCentralSystem"
    assert sec.INVALID_CENTRAL_SYSTEM_CERTIFICATE == "InvalidCentralSystemCertificate"
    assert sec.is_pushed(sec.INVALID_FIRMWARE_SIGNATURE)  # L01.FR.03 although not critical
    assert not sec.is_pushed(sec.INVALID_MESSAGES)


# --- ExtendedTriggerMessage (WP§5.5) --------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("Heartbeat", "Heartbeat"),
        ("StatusNotification", "StatusNotification"),
        ("MeterValues", "MeterValues"),
        ("BootNotification", "BootNotification"),
        ("FirmwareStatusNotification", "SignedFirmwareStatusNotification"),
        ("LogStatusNotification", "LogStatusNotification"),
    ],
)
def test_extended_trigger_sends_the_message(requested: str, expected: str) -> None:
    h = charger()
    before = len(h.calls(expected))
    answer = h.csms_call("ExtendedTriggerMessage", {"requestedMessage": requested})
    assert answer[2] == {"status": "Accepted"}
    h.answer_all()
    assert len(h.calls(expected)) > before


def test_triggered_statuses_are_idle_without_request_id() -> None:
    h = charger()
    h.csms_call("ExtendedTriggerMessage", {"requestedMessage": "LogStatusNotification"})
    h.csms_call(
        "ExtendedTriggerMessage", {"requestedMessage": "FirmwareStatusNotification"}, uid="c2"
    )
    h.answer_all()
    assert h.calls("LogStatusNotification")[-1][3] == {"status": "Idle"}  # N01.FR.12
    assert h.calls("SignedFirmwareStatusNotification")[-1][3] == {"status": "Idle"}


def test_extended_trigger_for_an_unknown_connector_is_rejected() -> None:
    h = charger()
    answer = h.csms_call(
        "ExtendedTriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 7}
    )
    assert answer[2] == {"status": "Rejected"}


# --- GetLog (N01) ---------------------------------------------------------------------


def get_log(h: Harness, request_id: int, uid: str, log_type: str = "SecurityLog") -> dict:
    payload = {
        "logType": log_type,
        "requestId": request_id,
        "log": {"remoteLocation": "http://x/up"},
    }
    return h.csms_call("GetLog", payload, uid=uid)[2]


def transfers(h: Harness) -> list[act.StartTransfer]:
    return [a for a in h.log if isinstance(a, act.StartTransfer)]


def test_get_log_uploads_and_reports() -> None:
    h = charger()
    answer = get_log(h, 5, "g1")
    assert answer["status"] == "Accepted" and "securitylog" in answer["filename"]
    h.answer_all()
    start = transfers(h)[-1]
    assert (start.kind, start.url, start.file_name) == (
        "diagnostics",
        "http://x/up",
        answer["filename"],
    )
    h.feed(ev.TransferFinished(start.transfer_id, True))
    h.answer_all()
    statuses = [f[3] for f in h.calls("LogStatusNotification")]
    assert statuses == [
        {"status": "Uploading", "requestId": 5},
        {"status": "Uploaded", "requestId": 5},
    ]


def test_a_new_get_log_cancels_the_running_upload() -> None:
    h = charger()
    get_log(h, 1, "g1")
    h.answer_all()
    first = transfers(h)[-1]
    assert get_log(h, 2, "g2", "DiagnosticsLog")["status"] == "AcceptedCanceled"  # N01.FR.11
    h.answer_all()
    assert any(
        isinstance(a, act.CancelTransfer) and a.transfer_id == first.transfer_id for a in h.log
    )
    statuses = [f[3] for f in h.calls("LogStatusNotification")]
    assert {"status": "UploadFailure", "requestId": 1} in statuses
    assert statuses[-1] == {"status": "Uploading", "requestId": 2}


def test_a_failed_upload_is_retried() -> None:
    h = charger()
    payload = {
        "logType": "DiagnosticsLog",
        "requestId": 9,
        "retries": 1,
        "retryInterval": 30,
        "log": {"remoteLocation": "http://x/up"},
    }
    h.csms_call("GetLog", payload)
    h.answer_all()
    h.feed(ev.TransferFinished(transfers(h)[-1].transfer_id, False, "503"))
    h.answer_all()
    h.advance(31)
    h.answer_all()
    assert len(transfers(h)) == 2
    assert [f[3]["status"] for f in h.calls("LogStatusNotification")] == [
        "Uploading",
        "UploadFailure",
        "Uploading",
    ]


# --- firmware (L01) -------------------------------------------------------------------


def test_plain_update_firmware_is_not_supported_with_the_extension() -> None:
    h = charger()
    answer = h.csms_call("UpdateFirmware", {"location": "http://x/fw", "retrieveDate": h.iso()})
    assert answer[0] == 4 and answer[2] == "NotSupported"  # L01.FR.20
    plain = charger(extension=False)
    answer = plain.csms_call(
        "UpdateFirmware", {"location": "http://x/fw", "retrieveDate": plain.iso()}
    )
    assert answer[:1] == [3]


def signed_update(h: Harness, signing_pem: str) -> dict:
    firmware = {
        "location": "http://x/fw",
        "retrieveDateTime": h.iso(),
        "signingCertificate": signing_pem,
        "signature": "AAAA",
    }
    return h.csms_call("SignedUpdateFirmware", {"requestId": 3, "firmware": firmware})[2]


def test_signing_certificate_not_from_an_installed_manufacturer_root() -> None:
    h = charger()
    root, _ = ca("maker")
    stranger, _ = ca("stranger")
    h.csms_call(
        "InstallCertificate",
        {"certificateType": "ManufacturerRootCertificate", "certificate": pem(root)},
        uid="i1",
    )
    assert signed_update(h, pem(stranger)) == {"status": "InvalidCertificate"}  # L01.FR.24
    h.answer_all()
    types = [f[3]["type"] for f in h.calls("SecurityEventNotification")]
    assert types[-1] == sec.INVALID_FIRMWARE_SIGNING_CERTIFICATE  # L01.FR.02


def test_get_log_without_logs_is_rejected() -> None:
    h = Harness(config={"SecurityExtension": "true"}, diagnostics_available=False)
    h.boot()
    assert get_log(h, 3, "g1") == {"status": "Rejected"}
    h.answer_all()
    assert not transfers(h) and not h.calls("LogStatusNotification")
