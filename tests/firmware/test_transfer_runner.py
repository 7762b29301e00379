"""The shell's transfers (chargepoint.station.transfers): outcomes fed back, images kept whole
or not at all, a link without transfers failing with its reason.  The links' own transfers
are tested by their helpers and end to end in test_firmware_e2e; here a scripted one."""

from __future__ import annotations

import asyncio
from pathlib import Path

from chargepoint.core import actions as act
from chargepoint.core import events as ev
from chargepoint.firmware_image import pack
from chargepoint.station.transfers import IMAGE_SPACE, TransferRunner
from chargepoint.transport.transfer import TransferError, TransferTooLarge


class ScriptedTransfer:
    """Answers each download with the next item: bytes, or an exception to raise."""

    schemes = frozenset({"http"})

    def __init__(self, *script: bytes | Exception) -> None:
        self.script = list(script)
        self.uploaded: list[tuple[str, str, bytes]] = []
        self.hold = asyncio.Event()
        self.hold.set()

    async def download(self, url: str, max_bytes: int) -> bytes:
        await self.hold.wait()
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    async def upload(self, url: str, filename: str, data: bytes) -> None:
        self.uploaded.append((url, filename, data))


class LinkWith:
    description = "test link"

    def __init__(self, transfer: ScriptedTransfer) -> None:
        self.transfer = transfer

    def file_transfer(self) -> ScriptedTransfer:
        return self.transfer


def runner(state_dir: Path | None) -> tuple[TransferRunner, list[ev.Event]]:
    fed: list[ev.Event] = []
    return TransferRunner(fed.append, "CP1", state_dir, lambda: 0.0, lambda: ["s3cr3t-key"]), fed


async def settle(fed: list[ev.Event], count: int) -> None:
    async with asyncio.timeout(5):
        while len(fed) < count:
            await asyncio.sleep(0.01)


async def test_a_link_without_transfers_fails_with_a_reason(tmp_path: Path) -> None:
    transfers, fed = runner(tmp_path)
    transfers.use_link(object())
    transfers.start(act.StartTransfer("firmware:1", "firmware", "http://h/fw.bin"))
    await settle(fed, 1)
    assert fed == [ev.TransferFinished("firmware:1", False, "this charger's link carries no files")]


async def test_an_image_is_kept_whole_and_a_failed_download_leaves_the_old_one(
    tmp_path: Path,
) -> None:
    image = pack(b"new", "v2")
    transfer = ScriptedTransfer(image, TransferError("http://h/fw.bin: cut after 10 bytes"))
    transfers, fed = runner(tmp_path)
    transfers.use_link(LinkWith(transfer))
    transfers.start(act.StartTransfer("firmware:1", "firmware", "http://h/fw.bin"))
    await settle(fed, 1)
    kept = tmp_path / "firmware" / "image.bin"
    assert fed[0] == ev.TransferFinished("firmware:1", True, f"{len(image)} bytes")
    assert kept.read_bytes() == image and kept.stat().st_mode & 0o777 == 0o600
    transfers.start(act.StartTransfer("firmware:2", "firmware", "http://h/fw.bin"))
    await settle(fed, 2)
    assert fed[1] == ev.TransferFinished("firmware:2", False, "http://h/fw.bin: cut after 10 bytes")
    assert kept.read_bytes() == image
    assert sorted(p.name for p in kept.parent.iterdir()) == ["image.bin"]  # no .part left
    transfers.install(act.InstallFirmware("install:3", "http://h/fw.bin"))
    await settle(fed, 3)
    assert fed[2] == ev.InstallFinished("install:3", True, "v2")


async def test_too_large_and_corrupt_images_fail_with_their_reasons() -> None:
    corrupt = pack(b"payload", "v2")[:-1] + b"X"
    transfer = ScriptedTransfer(TransferTooLarge("image is 9 MiB, 1 MiB free"), corrupt)
    transfers, fed = runner(None)  # no state dir: kept in memory
    transfers.use_link(LinkWith(transfer))
    transfers.start(act.StartTransfer("firmware:1", "firmware", "http://h/fw.bin"))
    await settle(fed, 1)
    assert fed[0] == ev.TransferFinished(
        "firmware:1",
        False,
        f"too large for the charger's {IMAGE_SPACE} bytes of image space: "
        "image is 9 MiB, 1 MiB free",
    )
    transfers.install(act.InstallFirmware("install:2", "http://h/fw.bin"))
    await settle(fed, 2)
    assert fed[1] == ev.InstallFinished("install:2", False, "", "no downloaded image to install")
    transfers.start(act.StartTransfer("firmware:3", "firmware", "http://h/fw.bin"))
    await settle(fed, 3)
    transfers.install(act.InstallFirmware("install:4", "http://h/fw.bin"))
    await settle(fed, 4)
    assert isinstance(fed[3], ev.InstallFinished) and "sha256" in fed[3].detail


async def test_a_cancelled_transfer_feeds_nothing() -> None:
    transfer = ScriptedTransfer(b"late")
    transfer.hold.clear()
    transfers, fed = runner(None)
    transfers.use_link(LinkWith(transfer))
    transfers.start(act.StartTransfer("firmware:1", "firmware", "http://h/fw.bin"))
    await asyncio.sleep(0)
    transfers.cancel("firmware:1")
    transfer.hold.set()
    await transfers.aclose()
    assert fed == []


async def test_an_upload_sends_the_archive_under_its_file_name(tmp_path: Path) -> None:
    transfer = ScriptedTransfer()
    transfers, fed = runner(tmp_path)
    transfers.use_link(LinkWith(transfer))
    transfers.start(
        act.StartTransfer("diagnostics:1", "diagnostics", "http://h/up/", file_name="d.tar.gz")
    )
    await settle(fed, 1)
    ((url, name, data),) = transfer.uploaded
    assert (url, name, data[:2]) == ("http://h/up/", "d.tar.gz", b"\x1f\x8b")  # gzip
    assert fed == [ev.TransferFinished("diagnostics:1", True, f"{len(data)} bytes")]
