"""What the HTTP side's file transfers share: the record of each one, and safe file names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .apierror import bad_input

MAX_NAME = 128
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def safe_name(name: str, field_name: str = "name") -> str:
    """``name`` as a plain file name, or ApiError 400 naming the rule it breaks.

    A path (``../x``, ``a/b``, ``a\\b``) is refused, not cleaned: the sender meant a
    place outside the directory.  Characters outside ``[A-Za-z0-9._-]`` become ``_``
    and a leading dot too (no hidden files).
    """
    if not name:
        raise bad_input(field_name, "a file name is needed")
    if "/" in name or "\\" in name or name in (".", ".."):
        raise bad_input(field_name, f"{name[:MAX_NAME]!r} is a path, not a file name (refused)")
    if len(name) > MAX_NAME:
        raise bad_input(field_name, f"longer than {MAX_NAME} characters")
    cleaned = _UNSAFE.sub("_", name)
    return "_" + cleaned[1:] if cleaned.startswith(".") else cleaned


def utc_stamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class TransferRecord:
    """One download or upload the HTTP side served: what, with whom, how it ended."""

    kind: str  # "download" or "upload"
    name: str
    peer: str
    time: str
    bytes: int = 0
    size: int | None = None
    """Downloads: the whole file's size, announced as Content-Length before sending."""
    outcome: str = "in progress"  # complete, cut, refused (503, fail-once), failed: <why>
    fault: str = "none"
    paced_s: float = 0.0
    """Seconds the slow fault waited in all: bytes sent / rate."""
    path: str | None = None
    """Uploads: where the file was stored."""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)
