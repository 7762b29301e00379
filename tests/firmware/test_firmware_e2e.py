"""Firmware and diagnostics end to end over a direct link: the local CSMS's own HTTP side
serves the image (with its faults) and receives the upload, over real loopback TCP."""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
from pathlib import Path
from typing import Any

from chargepoint.csms.files import FileFault
from chargepoint.firmware_image import pack
from chargepoint.timefmt import format_epoch

PASSWORD = "0123456789abcdef0123456789abcdef01234567"


async def statuses(charger: Any, action: str, until: str, timeout: float = 20) -> list[str]:
    """Every ``action`` status the CSMS received until ``until`` came."""
    await charger.received(action, timeout, lambda p: p["status"] == until)
    return [
        f.payload["status"]
        for f in charger.csms.frames.frames
        if f.direction == "received" and f.action == action and f.charge_point == charger.id
    ]


async def test_an_update_that_fails_once_is_retried_installed_and_booted(
    start_charger: Any, tmp_path: Path
) -> None:
    image = tmp_path / "cpsim-9.9.img"
    image.write_bytes(pack(b"\x7fELF new firmware " * 1000, "cpsim-9.9"))
    charger = await start_charger()
    await charger.booted()
    url = charger.csms.offer_firmware(image)
    charger.csms.set_file_fault(FileFault.FAIL_ONCE, image.name)
    now = format_epoch(charger.station.core.wall())
    await charger.call(
        "UpdateFirmware", {"location": url, "retrieveDate": now, "retries": 1, "retryInterval": 1}
    )
    seen = await statuses(charger, "FirmwareStatusNotification", "Installed")
    assert seen == [
        "Downloading",
        "DownloadFailed",
        "Downloading",
        "Downloaded",
        "Installing",
        "Installed",
    ]
    boots = [
        f.payload
        for f in charger.csms.frames.frames
        if f.direction == "received" and f.action == "BootNotification"
    ]
    assert [b["firmwareVersion"] for b in boots] == ["cpsim-0.1", "cpsim-9.9"]
    failed = [
        e
        for e in map(json.loads, (tmp_path / "CP001" / "timeline.jsonl").read_text().splitlines())
        if e.get("status") == "DownloadFailed"
    ]
    assert "503" in failed[0]["reason"]
    kept = tmp_path / "CP001" / "firmware" / "image.bin"
    assert kept.read_bytes() == image.read_bytes() and kept.stat().st_mode & 0o777 == 0o600


async def test_a_corrupt_image_fails_installation_and_the_charger_keeps_its_version(
    start_charger: Any, tmp_path: Path
) -> None:
    good = pack(b"payload " * 100, "cpsim-9.9")
    image = tmp_path / "cpsim-9.9.img"
    image.write_bytes(good[:-1] + b"X")  # one byte altered after packing
    charger = await start_charger()
    await charger.booted()
    url = charger.csms.offer_firmware(image)
    now = format_epoch(charger.station.core.wall())
    await charger.call("UpdateFirmware", {"location": url, "retrieveDate": now, "retries": 0})
    seen = await statuses(charger, "FirmwareStatusNotification", "InstallationFailed")
    assert seen == ["Downloading", "Downloaded", "Installing", "InstallationFailed"]
    assert charger.station.core.firmware_version == "cpsim-0.1"


async def test_an_image_larger_than_the_charger_can_keep_fails_its_download(
    start_charger: Any, tmp_path: Path
) -> None:
    image = tmp_path / "cpsim-9.9.bin"
    image.write_bytes(b"x" * 4096)
    charger = await start_charger(image_space=1024)
    await charger.booted()
    url = charger.csms.offer_firmware(image)
    now = format_epoch(charger.station.core.wall())
    await charger.call("UpdateFirmware", {"location": url, "retrieveDate": now, "retries": 0})
    seen = await statuses(charger, "FirmwareStatusNotification", "DownloadFailed")
    assert seen == ["Downloading", "DownloadFailed"]
    assert not (tmp_path / "CP001" / "firmware" / "image.bin").exists()
    timeline = (tmp_path / "CP001" / "timeline.jsonl").read_text().splitlines()
    (failed,) = [e for e in map(json.loads, timeline) if e.get("status") == "DownloadFailed"]
    assert failed["reason"].startswith("too large for the charger's 1024 bytes of image space")


async def test_diagnostics_are_uploaded_as_an_archive_without_the_password(
    start_charger: Any, tmp_path: Path
) -> None:
    ocpp_log = tmp_path / "ocpp.log"
    ocpp_log.write_text(f"2030-01-01 00:00:00.000 the key is {PASSWORD} (unmasked by a bug)\n")
    charger = await start_charger(password=PASSWORD, log_files=(ocpp_log,))
    await charger.booted()
    answer = await charger.call("GetDiagnostics", {"location": charger.csms.diagnostics_url})
    name = answer["fileName"]
    seen = await statuses(charger, "DiagnosticsStatusNotification", "Uploaded")
    assert seen == ["Uploading", "Uploaded"]
    (record,) = charger.csms.uploads.received
    assert record.name == name
    data = await asyncio.to_thread(Path(record.path).read_bytes)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
        members = {n: tar.extractfile(n).read() for n in names}  # type: ignore[union-attr]
    assert names == ["manifest.json", "timeline.jsonl", "ocpp.log"]
    assert b'"kind":"session"' in members["timeline.jsonl"]
    assert b"the key is ***" in members["ocpp.log"]
    assert PASSWORD.encode() not in b"".join(members.values())
