"""UpdateFirmware in the sans-I/O core (OCPP 1.6 §5.19, §4.5, E3.47-E3.49): fed events,
asserted actions.  The shell's side (download, image check) is played by the test."""

from __future__ import annotations

import json
from typing import Any

from core.harness import Harness, iso  # tests/ is on sys.path (rootdir packages)

from chargepoint.core import actions as act
from chargepoint.core import events as ev

URL = "http://files.example/cpsim-0.2.bin"


def online(connectors: int = 1, **settings: Any) -> Harness:
    h = Harness(connectors=connectors, **settings)
    h.boot(interval=3600)
    return h


def fw_statuses(h: Harness) -> list[str]:
    return [f[3]["status"] for f in h.calls("FirmwareStatusNotification")]


def transfers(h: Harness) -> list[act.StartTransfer]:
    return [a for a in h.log if isinstance(a, act.StartTransfer)]


def installs(h: Harness) -> list[act.InstallFirmware]:
    return [a for a in h.log if isinstance(a, act.InstallFirmware)]


def update(h: Harness, delay: float = 0, **extra: Any) -> None:
    answer = h.csms_call(
        "UpdateFirmware", {"location": URL, "retrieveDate": iso(h.now + delay), **extra}
    )
    assert answer[0] == 3 and answer[2] == {}
    h.answer_all()


def download(h: Harness, ok: bool = True, detail: str = "") -> None:
    h.feed(ev.TransferFinished(transfers(h)[-1].transfer_id, ok, detail))
    h.answer_all()


def install(h: Harness, ok: bool = True, version: str = "cpsim-0.2", detail: str = "") -> None:
    h.feed(ev.InstallFinished(installs(h)[-1].transfer_id, ok, version, detail))
    h.answer_all()


def reboot(h: Harness) -> None:
    """The shell carries out CloseLink: the link goes, the charger boots again."""
    assert h.closed, "no reboot was asked for"
    h.feed(ev.LinkDown("Firmware reset"))
    h.boot(interval=3600)


def statuses_of(h: Harness, connector: int) -> list[str]:
    return [
        f[3]["status"] for f in h.calls("StatusNotification") if f[3]["connectorId"] == connector
    ]


def trigger(h: Harness, message: str) -> str:
    h.csms_call("TriggerMessage", {"requestedMessage": message})
    flight = h.answer_until(message)
    status = str(flight[3]["status"])
    h.answer_all()
    return status


def test_the_happy_path_downloads_at_retrieve_date_installs_reboots_and_reports() -> None:
    h = online()
    assert h.calls("BootNotification")[0][3]["firmwareVersion"] == "cpsim-0.1"
    update(h, delay=600)
    h.advance(599)
    assert transfers(h) == []  # §5.19: not before retrieveDate
    h.advance(1)
    assert transfers(h)[0].kind == "firmware" and transfers(h)[0].url == URL
    assert fw_statuses(h) == ["Downloading"]
    download(h)
    assert fw_statuses(h) == ["Downloading", "Downloaded", "Installing"]
    assert installs(h)[0].location == URL
    install(h)
    assert h.store.values["firmware.version"] == "cpsim-0.2"
    assert "Installed" not in fw_statuses(h)  # E3.47: only once the new firmware booted
    h.advance(10)
    reboot(h)
    boot = h.calls("BootNotification")[-1][3]
    assert boot["firmwareVersion"] == "cpsim-0.2"
    assert fw_statuses(h) == ["Downloading", "Downloaded", "Installing", "Installed"]
    # after the boot's statuses (E3.22), and kept until the CSMS answered it
    assert h.actions()[-1] == "FirmwareStatusNotification"
    assert "firmware.job" not in h.store.values
    assert trigger(h, "FirmwareStatusNotification") == "Idle"


def test_a_failed_download_is_retried_after_retry_interval_and_then_succeeds() -> None:
    h = online()
    update(h, retries=2, retryInterval=120)
    h.advance(0)
    download(h, ok=False, detail="http://files.example/cpsim-0.2.bin: HTTP 404 Not Found")
    assert fw_statuses(h) == ["Downloading", "DownloadFailed"]
    failed = [e for e in h.timeline if e.get("status") == "DownloadFailed"]
    assert "HTTP 404" in failed[0]["reason"]
    assert trigger(h, "FirmwareStatusNotification") == "DownloadFailed"  # a retry waits
    h.advance(119)
    assert len(transfers(h)) == 1
    h.advance(1)
    assert len(transfers(h)) == 2
    download(h)
    install(h)
    assert fw_statuses(h) == [
        "Downloading",
        "DownloadFailed",
        "DownloadFailed",  # the triggered one
        "Downloading",
        "Downloaded",
        "Installing",
    ]


def test_retries_run_out_after_the_first_attempt_plus_retries() -> None:
    h = online()
    update(h, retries=1, retryInterval=30)
    h.advance(0)
    download(h, ok=False, detail="cut")
    h.advance(30)
    download(h, ok=False, detail="cut again")
    h.advance(3600)
    assert len(transfers(h)) == 2  # E3.50's reading: retries after the first attempt
    assert fw_statuses(h) == ["Downloading", "DownloadFailed", "Downloading", "DownloadFailed"]
    assert "firmware.job" not in h.store.values
    assert trigger(h, "FirmwareStatusNotification") == "Idle"


def test_defaults_are_one_retry_after_180_seconds() -> None:
    h = online()
    update(h)
    h.advance(0)
    download(h, ok=False, detail="refused")
    h.advance(179)
    assert len(transfers(h)) == 1
    h.advance(1)
    assert len(transfers(h)) == 2
    download(h, ok=False, detail="refused")
    h.advance(3600)
    assert len(transfers(h)) == 2


def test_a_corrupt_image_fails_installation_and_keeps_the_old_version() -> None:
    h = online()
    update(h, retries=0)
    h.advance(0)
    download(h)
    install(h, ok=False, version="", detail="image payload does not match its header's sha256")
    assert fw_statuses(h)[-1] == "InstallationFailed"
    assert "firmware.version" not in h.store.values
    assert not h.closed  # no reboot into a half-installed image
    assert statuses_of(h, 1)[-1] == "Available"  # given back after the failure
    h.feed(ev.LinkDown("x"))
    h.boot()
    assert h.calls("BootNotification")[-1][3]["firmwareVersion"] == "cpsim-0.1"


def test_a_version_the_boot_notification_cannot_carry_fails_installation() -> None:
    h = online()
    update(h, retries=0)
    h.advance(0)
    download(h)
    install(h, ok=True, version="v" * 51)
    assert fw_statuses(h)[-1] == "InstallationFailed"
    assert "firmware.version" not in h.store.values


def test_installation_waits_for_transactions_with_idle_connectors_unavailable() -> None:
    h = online(connectors=2)
    h.feed(ev.StartCharging(1, "TAG"))
    h.answer_all()
    update(h, retries=0)
    h.advance(0)
    download(h)
    assert fw_statuses(h) == ["Downloading", "Downloaded"]
    assert installs(h) == []  # §5.19: the session goes on
    assert statuses_of(h, 2)[-1] == "Unavailable"  # E3.49
    assert h.csms_call("RemoteStartTransaction", {"idTag": "X", "connectorId": 2})[2] == {
        "status": "Rejected"
    }
    h.feed(ev.StopCharging(1))
    h.answer_all()
    assert len(installs(h)) == 1
    assert statuses_of(h, 1)[-1] == "Unavailable"
    install(h)
    h.advance(10)
    reboot(h)
    assert statuses_of(h, 1)[-1] == "Preparing"  # the EV is still plugged in
    assert statuses_of(h, 2)[-1] == "Available"
    assert fw_statuses(h)[-1] == "Installed"


def test_a_power_loss_between_installing_and_the_reboot_still_reports_installed() -> None:
    h = online()
    update(h)
    h.advance(0)
    download(h)
    install(h)  # the version and "report Installed" are persisted in the same step
    h2 = h.power_loss(after=5)
    h2.boot(interval=3600)
    assert h2.calls("BootNotification")[0][3]["firmwareVersion"] == "cpsim-0.2"
    assert fw_statuses(h2) == ["Installed"]
    assert "firmware.job" not in h2.store.values
    h3 = h2.power_loss()
    h3.boot()
    assert fw_statuses(h3) == []  # reported once
    assert h3.calls("BootNotification")[0][3]["firmwareVersion"] == "cpsim-0.2"


def test_a_power_loss_while_installing_installs_again_after_the_restart() -> None:
    h = online()
    update(h)
    h.advance(0)
    download(h)
    assert h.store.values["firmware.job"]
    h2 = h.power_loss(after=5)
    assert len(installs(h2)) == 1  # the image is on disk: checked again
    install(h2)
    h2.boot(interval=3600)
    h2.advance(10)
    assert h2.calls("BootNotification")[-1][3]["firmwareVersion"] == "cpsim-0.2"


def test_a_power_loss_while_downloading_is_a_failed_attempt_reported_after_boot() -> None:
    h = online()
    update(h, retries=1, retryInterval=60)
    h.advance(0)
    h2 = h.power_loss(after=5)
    h2.boot(interval=3600)
    assert fw_statuses(h2) == ["DownloadFailed"]
    h2.advance(60)
    assert len(transfers(h2)) == 1


def test_a_scheduled_update_survives_a_power_loss() -> None:
    h = online()
    update(h, delay=3600)
    h2 = h.power_loss(after=60)
    h2.boot(interval=7200)
    h2.advance(3539)
    assert transfers(h2) == []
    h2.advance(1)
    assert len(transfers(h2)) == 1


def test_a_newer_update_replaces_a_scheduled_one_but_not_a_running_one() -> None:
    h = online()
    update(h, delay=600)
    h.csms_call("UpdateFirmware", {"location": "http://b/cpsim-0.3.bin", "retrieveDate": h.iso()})
    h.answer_all()
    h.advance(0)
    assert [t.url for t in transfers(h)] == ["http://b/cpsim-0.3.bin"]
    h.csms_call("UpdateFirmware", {"location": "http://c/cpsim-0.4.bin", "retrieveDate": h.iso()})
    h.answer_all()
    h.advance(600)
    assert len(transfers(h)) == 1
    assert any("ignored" in e for e in h.timeline if e["kind"] == "firmware")


def test_a_status_lost_with_the_link_is_sent_after_the_next_boot() -> None:
    h = online()
    update(h, retries=0)
    h.advance(0)
    h.feed(ev.LinkDown("cut"))
    download(h, ok=False, detail="host unreachable")  # the direct link's HTTP went too
    assert fw_statuses(h) == ["Downloading"]
    h.boot()
    assert fw_statuses(h) == ["Downloading", "DownloadFailed"]


def test_trigger_message_reports_the_current_firmware_status() -> None:
    h = online(connectors=2)
    assert trigger(h, "FirmwareStatusNotification") == "Idle"
    h.feed(ev.StartCharging(1, "TAG"))
    h.answer_all()
    update(h, retries=0)
    assert trigger(h, "FirmwareStatusNotification") == "Idle"  # scheduled: nothing yet
    h.advance(0)
    assert trigger(h, "FirmwareStatusNotification") == "Downloading"
    download(h)
    assert trigger(h, "FirmwareStatusNotification") == "Downloaded"
    h.feed(ev.StopCharging(1))
    h.answer_all()
    assert trigger(h, "FirmwareStatusNotification") == "Installing"


def test_the_update_is_not_supported_when_the_profile_is_off() -> None:
    h = online(feature_profiles=frozenset({"Core"}))
    answer = h.csms_call("UpdateFirmware", {"location": URL, "retrieveDate": h.iso()})
    assert answer[0] == 4 and answer[2] == "NotSupported"


def test_a_stored_job_that_makes_no_sense_is_skipped() -> None:
    h = online()
    h.store.values["firmware.job"] = json.dumps({"phase": "Downloading"})
    h.store.values["firmware.version"] = " bad "
    h2 = h.power_loss()
    h2.boot()
    assert "firmware.job" not in h2.store.values
    assert h2.calls("BootNotification")[0][3]["firmwareVersion"] == "cpsim-0.1"


def test_retrieve_date_is_wall_time_even_when_the_boot_moves_the_clock() -> None:
    h = online()
    update(h, delay=3600)  # due at wall T+3600
    h2 = h.power_loss(after=60)  # restarts with its own clock, no offset yet
    h2.feed(ev.LinkUp())
    # the CSMS's clock is 1000 s ahead of the charger's
    h2.answer({"status": "Accepted", "currentTime": iso(h2.now + 1000), "interval": 7200})
    h2.answer_all()
    h2.advance(3600 - 60 - 1000 - 1)
    assert transfers(h2) == []
    h2.advance(1)
    assert len(transfers(h2)) == 1


def test_a_retrieve_date_that_is_no_date_time_is_a_callerror_and_schedules_nothing() -> None:
    h = online()
    answer = h.csms_call(
        "UpdateFirmware", {"location": "http://h/f.bin", "retrieveDate": "tomorrow"}, uid="u"
    )
    assert answer[:3] == [4, "u", "TypeConstraintViolation"]
    h.advance(3600)
    assert transfers(h) == [] and fw_statuses(h) == []
