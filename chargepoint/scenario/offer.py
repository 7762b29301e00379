"""Running ``offer_firmware`` (see :mod:`.files`): a generated image on the local CSMS."""

from __future__ import annotations

import asyncio
from pathlib import Path

from chargepoint.csms.files import FileFault
from chargepoint.firmware_image import pack

from .context import StepFailed, StepRunner
from .files import OfferFirmware

IMAGE_PAYLOAD = b"cpsim firmware image built by a scenario\n" * 64


class FirmwareFiles(StepRunner):
    async def offer_firmware(self, spec: OfferFirmware, timeout: float) -> None:
        csms = self.ctx.csms
        if csms is None:
            raise StepFailed("offer_firmware needs the local CSMS")
        data = pack(IMAGE_PAYLOAD, spec.version)
        if spec.corrupt:
            data = data[:-1] + bytes([data[-1] ^ 0xFF])
        state_dir = self.ctx.station.options.state_dir
        if state_dir is None:
            raise StepFailed("offer_firmware needs the run's state dir for the file")
        path = state_dir / "offered-by-csms" / spec.name  # removed with the run's dir
        await asyncio.to_thread(_write, path, data)
        try:
            csms.offer_firmware(path, spec.name)
        except ValueError as exc:
            raise StepFailed(f"the CSMS cannot offer {spec.name}: {exc}") from None
        csms.set_file_fault(FileFault(spec.fault), spec.name)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
