"""Firmware files the local CSMS offers at ``/firmware/<name>``, with faults for tests.

``cpsim csms --firmware FILE`` (or :meth:`FirmwareShelf.offer`) puts a file on the
shelf; a charger told ``UpdateFirmware location=http://HOST:PORT/firmware/<name>``
fetches it (OCPP 1.6 §5.19).  Each download is streamed from disk with its full
Content-Length, so a charger can tell a cut download from a whole one, and each is
recorded as a :class:`TransferRecord` (``/api/files``, the log).

Faults, per file or for every file, so tests and scenarios exercise the charger's
retries and DownloadFailed (§4.4's FirmwareStatusNotification):

* ``cut``: send half the body, then drop the connection;
* ``slow``: send at ``rate`` bytes per second;
* ``fail-once``: the first request for a file gets 503, later ones work.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

from aiohttp import web

from .apierror import ApiError, bad_input
from .transfers import TransferRecord, safe_name, utc_stamp

log = logging.getLogger("cpsim.csms")

CHUNK = 16 * 1024
DEFAULT_SLOW_RATE = 8 * 1024
"""Bytes per second of the ``slow`` fault unless told otherwise."""
PACE_STEP = 0.1
"""Seconds between the slow fault's chunks."""


class FileFault(enum.Enum):
    NONE = "none"
    CUT = "cut"
    SLOW = "slow"
    FAIL_ONCE = "fail-once"

    @classmethod
    def parse(cls, text: str, field: str = "fault") -> FileFault:
        try:
            return cls(text)
        except ValueError:
            choices = ", ".join(f.value for f in cls)
            raise bad_input(field, f"{text!r} is not one of {choices}") from None


@dataclass(frozen=True)
class FaultSetting:
    fault: FileFault = FileFault.NONE
    rate: int = DEFAULT_SLOW_RATE
    """Bytes per second, for ``slow``."""


@dataclass
class FirmwareShelf:
    """The firmware files on offer, their faults, and the transfers served."""

    files: dict[str, Path] = field(default_factory=dict)
    default_fault: FaultSetting = field(default_factory=FaultSetting)
    faults: dict[str, FaultSetting] = field(default_factory=dict)
    transfers: list[TransferRecord] = field(default_factory=list)
    """Every download served (the CSMS shares this list with its uploads)."""
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    """How the slow fault waits (a test or scenario may give its clock's)."""
    _failed_once: set[str] = field(default_factory=set)

    def offer(self, path: Path, name: str | None = None) -> str:
        """Offer ``path`` as ``name`` (default its file name); returns the name.

        ValueError when the file cannot be read or the name is taken by another file.
        """
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"{path}: not a readable file")
        name = safe_name(name or path.name)
        if name in self.files and self.files[name].resolve() != path.resolve():
            raise ValueError(f"{path}: the name {name!r} is already offered for {self.files[name]}")
        self.files[name] = path
        return name

    def set_fault(
        self, fault: FileFault | str, name: str | None = None, rate: int | None = None
    ) -> None:
        """The fault for file ``name`` (``None``: every file without its own)."""
        fault = fault if isinstance(fault, FileFault) else FileFault.parse(fault)
        if rate is not None and rate <= 0:
            raise bad_input("rate", "must be a positive number of bytes per second")
        setting = FaultSetting(fault, rate or DEFAULT_SLOW_RATE)
        if name is None:
            self.default_fault = setting
            self._failed_once.clear()
        else:
            self.faults[name] = setting
            self._failed_once.discard(name)

    def fault_of(self, name: str) -> FaultSetting:
        return self.faults.get(name, self.default_fault)

    def describe(self) -> dict[str, Any]:
        return {
            "firmware": {
                name: {"size": path.stat().st_size if path.exists() else None}
                for name, path in self.files.items()
            },
            "fault": _fault_dict(self.default_fault),
            "faults": {name: _fault_dict(s) for name, s in self.faults.items()},
        }

    async def serve(self, request: web.Request) -> web.StreamResponse:
        """GET/HEAD ``/firmware/<name>``."""
        name = request.match_info["name"]
        path = self.files.get(name)
        if path is None:
            raise ApiError(
                HTTPStatus.NOT_FOUND,
                "unknown_file",
                f"no firmware file {name!r} on offer (offered: {', '.join(self.files) or 'none'};"
                " start cpsim csms with --firmware FILE)",
            )
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ApiError(
                HTTPStatus.INTERNAL_SERVER_ERROR, "file_gone", f"{name}: {exc.strerror}"
            ) from None
        setting = self.fault_of(name)
        record = TransferRecord(
            "download",
            name,
            request.remote or "?",
            utc_stamp(),
            size=size,
            fault=setting.fault.value,
        )
        if request.method == "HEAD":
            return web.Response(headers=_file_headers(size))
        self.transfers.append(record)
        if setting.fault is FileFault.FAIL_ONCE and name not in self._failed_once:
            self._failed_once.add(name)
            record.outcome = "refused (503, fail-once)"
            log.info("firmware %s to %s: 503 (fault fail-once)", name, record.peer)
            raise ApiError(
                HTTPStatus.SERVICE_UNAVAILABLE,
                "fault_fail_once",
                f"{name}: refused once on purpose (fault fail-once); try again",
                headers={"Retry-After": "1"},
            )
        response = web.StreamResponse(headers=_file_headers(size))
        await response.prepare(request)
        limit = size // 2 if setting.fault is FileFault.CUT else size
        try:
            await self._send(response, path, limit, setting, record)
        except OSError as exc:  # the charger went away (ConnectionResetError), a disk error
            record.outcome = f"failed after {record.bytes} bytes: {exc}"
            log.info("firmware %s to %s: %s", name, record.peer, record.outcome)
            return response  # nothing more can be said on this connection
        except asyncio.CancelledError:
            record.outcome = f"failed after {record.bytes} bytes: cancelled"
            raise
        if setting.fault is FileFault.CUT:
            record.outcome = "cut"
            log.info("firmware %s to %s: cut after %d of %d bytes", name, record.peer, limit, size)
            if request.transport is not None:
                request.transport.abort()  # no terminating chunk, no clean close: a cut link
            return response
        await response.write_eof()
        record.outcome = "complete"
        log.info("firmware %s to %s: %d bytes sent", name, record.peer, size)
        return response

    async def _send(
        self,
        response: web.StreamResponse,
        path: Path,
        limit: int,
        setting: FaultSetting,
        record: TransferRecord,
    ) -> None:
        slow = setting.fault is FileFault.SLOW
        chunk = max(1, int(setting.rate * PACE_STEP)) if slow else CHUNK
        with path.open("rb") as source:
            while record.bytes < limit:
                data = source.read(min(chunk, limit - record.bytes))
                if not data:
                    raise OSError(f"{path} shrank while being sent")
                await response.write(data)
                record.bytes += len(data)
                if slow:
                    pause = len(data) / setting.rate
                    record.paced_s += pause
                    await self.sleep(pause)


def _file_headers(size: int) -> dict[str, str]:
    return {"Content-Type": "application/octet-stream", "Content-Length": str(size)}


def _fault_dict(setting: FaultSetting) -> dict[str, Any]:
    return {"fault": setting.fault.value, "rate": setting.rate}
