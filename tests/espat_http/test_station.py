"""A firmware update and a diagnostics upload by a charger whose link is the emulated
ESP-AT module: the local CSMS serves the image (failing once) and takes the upload."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from espat.helpers import PASSWORD, SSID, esp_emulator

from chargepoint.assembly import LinkSpec
from chargepoint.csms.files import FileFault
from chargepoint.firmware_image import pack
from chargepoint.timefmt import format_epoch
from chargepoint.transport.espat import EspAtSettings


async def statuses(charger: Any, action: str, until: str, timeout: float = 30) -> list[str]:
    await charger.received(action, timeout, lambda p: p["status"] == until)
    return [
        f.payload["status"]
        for f in charger.csms.frames.frames
        if f.direction == "received" and f.action == action and f.charge_point == charger.id
    ]


async def test_firmware_and_diagnostics_through_the_module(
    start_charger: Any, csms: Any, tmp_path: Path
) -> None:
    image = tmp_path / "cpsim-9.9.img"
    image.write_bytes(pack(b"\r\nOK\r\n+HTTPCGET:1,\x00 firmware " * 800, "cpsim-9.9"))
    async with esp_emulator(baud=921600) as emu:
        modem = EspAtSettings(emu.port_url, SSID, PASSWORD, baud=921600)
        charger = await start_charger(link_spec=LinkSpec("esp-at", csms.url, modem=modem))
        await charger.booted()
        answer = await charger.call("GetDiagnostics", {"location": csms.diagnostics_url})
        assert await statuses(charger, "DiagnosticsStatusNotification", "Uploaded") == [
            "Uploading",
            "Uploaded",
        ]
        (record,) = csms.uploads.received
        assert record.name == answer["fileName"]
        url = csms.offer_firmware(image)
        csms.set_file_fault(FileFault.FAIL_ONCE, image.name)
        now = format_epoch(charger.station.core.wall())
        await charger.call(
            "UpdateFirmware",
            {"location": url, "retrieveDate": now, "retries": 1, "retryInterval": 1},
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
        kept = tmp_path / "CP001" / "firmware" / "image.bin"
        assert kept.read_bytes() == image.read_bytes()
    timeline = (tmp_path / "CP001" / "timeline.jsonl").read_text().splitlines()
    (failed,) = [e for e in map(json.loads, timeline) if e.get("status") == "DownloadFailed"]
    # The CSMS failed the first request, which was AT+HTTPGETSIZE's: it sized the error page.
    assert f"{image.stat().st_size} bytes came where AT+HTTPGETSIZE announced" in failed["reason"]
    assert "different answers" in failed["reason"]
