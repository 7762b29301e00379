"""Diagnostics uploads the local CSMS receives at ``/diagnostics/<name>``.

GetDiagnostics gives the charger a directory URI (OCPP 1.6 §5.9): it appends its
file name and sends the file there, by PUT with the raw body (what most chargers
and ``curl -T`` do) or POST, raw or ``multipart/form-data`` (an HTML form, an
ESP-AT module's HTTP client).  Bad input is bounded before use:

* the name must be a plain file name (:func:`~.transfers.safe_name`): a path is
  refused with 400;
* the body may be at most ``max_bytes`` (64 MiB by default): 413 as soon as a
  Content-Length says more, or when the stream passes the bound, and the partial
  file is removed;
* nothing accepted is lost: a name already stored gets ``.1``, ``.2``... appended.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import IO
from urllib.parse import unquote

from aiohttp import BodyPartReader, web

from .apierror import ApiError, bad_input
from .transfers import TransferRecord, safe_name, utc_stamp

log = logging.getLogger("cpsim.csms")

MAX_UPLOAD = 64 * 1024 * 1024
CHUNK = 64 * 1024

Reader = Callable[[int], Awaitable[bytes]]


@dataclass
class UploadStore:
    """Where uploads go: ``directory``, or a temp dir made at the first upload."""

    directory: Path | None = None
    max_bytes: int = MAX_UPLOAD
    transfers: list[TransferRecord] = field(default_factory=list)
    """Every upload received (the CSMS shares this list with its downloads)."""

    def ensure_directory(self) -> Path:
        if self.directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="cpsim-uploads-"))
            log.info("diagnostics uploads are stored in %s", self.directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.directory

    @property
    def received(self) -> list[TransferRecord]:
        return [t for t in self.transfers if t.kind == "upload" and t.outcome == "complete"]

    async def receive(self, request: web.Request) -> web.Response:
        """PUT or POST ``/diagnostics/<name>`` (raw or multipart): 201 and the stored name."""
        raw_name = request.match_info.get("name", "")
        length = request.content_length
        if length is not None and length > self.max_bytes:
            raise self._too_large(length)
        record = TransferRecord("upload", raw_name[:128], request.remote or "?", utc_stamp())
        try:
            if request.content_type == "multipart/form-data":
                stored = await self._receive_multipart(request, raw_name, record)
            else:
                stored = await self._store(safe_name(raw_name), request.content.read, record)
        except ApiError as exc:
            record.outcome = f"refused: {exc.message}"
            self.transfers.append(record)
            raise
        except OSError as exc:  # the sender went away mid-body (ConnectionResetError)
            record.outcome = f"failed after {record.bytes} bytes: {exc}"
            self.transfers.append(record)
            log.info("diagnostics upload from %s: %s (nothing kept)", record.peer, record.outcome)
            raise ApiError(HTTPStatus.BAD_REQUEST, "incomplete", record.outcome) from None
        record.outcome, record.name, record.path = "complete", stored.name, str(stored)
        self.transfers.append(record)
        log.info("diagnostics upload from %s: %s (%d bytes)", record.peer, stored, record.bytes)
        return web.json_response(
            {"stored": stored.name, "bytes": record.bytes}, status=HTTPStatus.CREATED
        )

    async def _receive_multipart(
        self, request: web.Request, raw_name: str, record: TransferRecord
    ) -> Path:
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                raise bad_input("body", "a multipart upload needs a file part (filename=...)")
            if isinstance(part, BodyPartReader) and (part.filename or raw_name):
                # Clients percent-encode the filename parameter (aiohttp, RFC 7578 §4.2).
                name = safe_name(raw_name or unquote(part.filename or ""), "filename")
                return await self._store(name, part.read_chunk, record)

    async def _store(self, name: str, read: Reader, record: TransferRecord) -> Path:
        out, path = self._create(name)
        try:
            with out:
                await self._copy(read, out, record)
        except BaseException:
            path.unlink(missing_ok=True)  # nothing half-stored
            raise
        return path

    def _create(self, name: str) -> tuple[IO[bytes], Path]:
        """A new file ``name`` (or ``name.N``): an earlier upload is never overwritten."""
        directory = self.ensure_directory()
        for number in range(10_000):
            path = directory / (f"{name}.{number}" if number else name)
            try:
                return path.open("xb"), path
            except FileExistsError:
                continue
        raise ApiError(HTTPStatus.CONFLICT, "name_taken", f"{name}: 10000 uploads of this name")

    async def _copy(self, read: Reader, out: IO[bytes], record: TransferRecord) -> None:
        while chunk := await read(CHUNK):
            record.bytes += len(chunk)
            if record.bytes > self.max_bytes:
                raise self._too_large(record.bytes)
            out.write(chunk)

    def _too_large(self, seen: int) -> ApiError:
        return ApiError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            "too_large",
            f"upload of {seen} bytes or more is larger than the {self.max_bytes} allowed",
        )
