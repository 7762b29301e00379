"""The shell's side of Firmware Management: files over the charger's own link.

The core asks (``StartTransfer``, ``CancelTransfer``, ``InstallFirmware``); this
moves the bytes with the link's :class:`~chargepoint.transport.transfer.FileTransfer`
and feeds the outcome back (``TransferFinished``, ``InstallFinished``).  A link
that offers no transfers (yet) gets :class:`NoTransfer`, so a request fails with a
reason instead of silence.  Every failure is logged here with its reason; the core
puts the same reason on the timeline.

A downloaded image is written whole or not at all: to ``firmware/image.bin.part``
in the state dir (mode 0600), flushed, then renamed over ``firmware/image.bin``.
Without a state dir it is kept in memory.  "Installing" checks that image
(:func:`chargepoint.firmware_image.read_image`): its checksum and its version.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any, Final

from chargepoint.core import actions as act
from chargepoint.core import events as ev
from chargepoint.firmware_image import ImageError, read_image
from chargepoint.logmask import mask_text
from chargepoint.security import certstore
from chargepoint.timefmt import parse_epoch
from chargepoint.transport.transfer import (
    FileTransfer,
    NoTransfer,
    TransferError,
    TransferTooLarge,
)

from .diagnostics import ARCHIVE_MAX, DiagnosticsWindow, LogSource, build_archive

log = logging.getLogger("cpsim.transfer")

IMAGE_SPACE: Final = 32 * 1024 * 1024
"""Default free space for a firmware image: a larger one fails its download ("too large")."""
IMAGE_DIR: Final = "firmware"
IMAGE_NAME: Final = "image.bin"

Feed = Callable[[ev.Event], None]
Work = Callable[[], Coroutine[Any, Any, ev.Event]]


class TransferRunner:
    """Carries out one charger's transfers, each in its own task."""

    def __init__(
        self,
        feed: Feed,
        charge_point_id: str,
        state_dir: Path | None,
        wall: Callable[[], float],
        secrets: Callable[[], Iterable[str]],
        image_space: int = IMAGE_SPACE,
        archive_max: int = ARCHIVE_MAX,
    ) -> None:
        self._feed = feed
        self.charge_point_id = charge_point_id
        self.state_dir = state_dir
        self._wall = wall
        self._secrets = secrets
        self.image_space = image_space
        self.archive_max = archive_max
        self.sources: list[LogSource] = []
        """The logs a diagnostics archive is made of."""
        self.known_secrets: list[str] = []
        """Fixed secrets masked in the archive (an APN or Wi-Fi password), besides
        ``secrets()`` (the AuthorizationKey, which may change)."""
        self.link: object | None = None
        self._image: bytes | None = None
        """The downloaded image, when there is no state dir to keep it in."""
        self._tasks: dict[str, asyncio.Task[None]] = {}

    # --- set-up -----------------------------------------------------------------------

    def use_link(self, link: object) -> None:
        """The link whose transfers to use (the assembly calls this once it is built)."""
        self.link = link

    def add_source(self, source: LogSource) -> None:
        if all(s.path != source.path for s in self.sources):
            self.sources.append(source)

    def file_transfer(self) -> FileTransfer:
        offer = getattr(self.link, "file_transfer", None)
        if offer is None:
            what = getattr(self.link, "description", None) or "this charger's link"
            return NoTransfer(f"{what} carries no files")
        transfer: FileTransfer = offer()
        return transfer

    @property
    def image_path(self) -> Path | None:
        return self.state_dir / IMAGE_DIR / IMAGE_NAME if self.state_dir else None

    # --- what the core asks -----------------------------------------------------------

    def start(self, action: act.StartTransfer) -> None:
        work = self._download if action.kind == "firmware" else self._upload
        self._run(action.transfer_id, f"{action.kind} transfer", lambda: work(action))

    def install(self, action: act.InstallFirmware) -> None:
        self._run(action.transfer_id, "firmware installation", lambda: self._install(action))

    def verify_signature(self, action: act.VerifyFirmwareSignature) -> None:
        self._run(action.transfer_id, "signature check", lambda: self._verify(action))

    def cancel(self, transfer_id: str) -> None:
        task = self._tasks.pop(transfer_id, None)
        if task is not None:
            task.cancel()
            log.info("%s: transfer %s cancelled", self.charge_point_id, transfer_id)

    async def aclose(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # --- the work ---------------------------------------------------------------------

    def _run(
        self, transfer_id: str, what: str, work: Callable[[], Coroutine[Any, Any, ev.Event]]
    ) -> None:
        async def run() -> None:
            try:
                finished = await work()
            except asyncio.CancelledError:
                raise
            except TransferTooLarge as exc:
                space = f"the charger's {self.image_space} bytes of image space"
                finished = self._failed(transfer_id, what, f"too large for {space}: {exc.reason}")
            except TransferError as exc:
                finished = self._failed(transfer_id, what, exc.reason)
            except OSError as exc:
                finished = self._failed(transfer_id, what, f"state dir: {exc.strerror or exc}")
            except Exception as exc:  # a bug must end the transfer, loudly, not hang it
                log.exception("%s: %s failed", self.charge_point_id, what)
                finished = self._failed(transfer_id, what, f"internal error ({type(exc).__name__})")
            if self._tasks.pop(transfer_id, None) is not None:
                self._feed(finished)

        self._tasks[transfer_id] = asyncio.get_running_loop().create_task(
            run(), name=f"transfer {transfer_id}"
        )

    def _failed(self, transfer_id: str, what: str, reason: str) -> ev.Event:
        reason = mask_text(reason)
        log.warning("%s: %s failed: %s", self.charge_point_id, what, reason)
        if transfer_id.startswith("install:"):
            return ev.InstallFinished(transfer_id, False, "", reason)
        if transfer_id.startswith("signature:"):
            return ev.SignatureChecked(transfer_id, False, reason)
        return ev.TransferFinished(transfer_id, False, reason)

    async def _download(self, action: act.StartTransfer) -> ev.Event:
        data = await self.file_transfer().download(action.url, self.image_space)
        if len(data) > self.image_space:  # whatever the link's own check did
            raise TransferTooLarge(f"{action.url}: {len(data)} bytes")
        await asyncio.to_thread(self._keep_image, data)
        log.info("%s: firmware image of %d bytes downloaded", self.charge_point_id, len(data))
        return ev.TransferFinished(action.transfer_id, True, f"{len(data)} bytes")

    def _keep_image(self, data: bytes) -> None:
        path = self.image_path
        if path is None:
            self._image = data
            return
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        part = path.with_name(path.name + ".part")
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(part, path)  # whole or not at all
        except BaseException:
            with contextlib.suppress(OSError):
                part.unlink()
            raise

    async def _install(self, action: act.InstallFirmware) -> ev.Event:
        def check() -> ev.Event:
            data = self._stored_image("install")
            try:
                image = read_image(data, action.location)
            except ImageError as exc:
                raise TransferError(str(exc)) from None
            return ev.InstallFinished(action.transfer_id, True, image.version)

        finished = await asyncio.to_thread(check)
        log.info("%s: firmware image checked", self.charge_point_id)
        return finished

    async def _verify(self, action: act.VerifyFirmwareSignature) -> ev.Event:
        """WP L01.FR.04: the signature over the entire stored image."""

        def check() -> ev.Event:
            data = self._stored_image("check")
            try:
                cert = certstore.load_one(action.signing_certificate)
            except certstore.CertificateProblem as exc:
                return ev.SignatureChecked(action.transfer_id, False, str(exc))
            ok = certstore.verify_firmware_signature(cert, action.signature, data)
            detail = "" if ok else "the signature does not match the image (L01.FR.04)"
            return ev.SignatureChecked(action.transfer_id, ok, detail)

        return await asyncio.to_thread(check)

    def _stored_image(self, purpose: str) -> bytes:
        """The downloaded image (kept in memory, or its file under the state dir)."""
        data = self._image
        path = self.image_path
        if path is not None:
            try:
                if path.stat().st_size > self.image_space:
                    raise TransferError("the stored image is larger than the image space")
                data = path.read_bytes()
            except FileNotFoundError:
                data = None
        if data is None:
            raise TransferError(f"no downloaded image to {purpose}")
        return data

    async def _upload(self, action: act.StartTransfer) -> ev.Event:
        window = DiagnosticsWindow(
            parse_epoch(action.start_time) if action.start_time else None,
            parse_epoch(action.stop_time) if action.stop_time else None,
        )
        archive = await asyncio.to_thread(
            build_archive,
            list(self.sources),
            window,
            self._wall(),
            self.charge_point_id,
            [*self._secrets(), *self.known_secrets],
            self.archive_max,
        )
        name = action.file_name or f"{self.charge_point_id}-diagnostics.tar.gz"
        await self.file_transfer().upload(action.url, name, archive)
        log.info("%s: diagnostics %s (%d bytes) uploaded", self.charge_point_id, name, len(archive))
        return ev.TransferFinished(action.transfer_id, True, f"{len(archive)} bytes")
