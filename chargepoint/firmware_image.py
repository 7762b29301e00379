"""The firmware image format the simulated charger installs (UpdateFirmware, OCPP 1.6 §5.19).

An image is one header line, then the payload::

    CPSIM-FIRMWARE/1 {"version": "cpsim-0.2", "sha256": "<64 hex digits>", "size": 1234}\\n
    <size bytes of payload>

The charger installs it only when the payload's SHA-256 and size match the header
(§8.1 recommends signed firmware; a checksum is what this simulator checks), and
then boots with ``version`` as BootNotification's ``firmwareVersion`` (§6.3,
CiString50).  A plain file without the header is accepted too, as a real charger
would take a vendor's unsigned image: its version is its file name without the
extension (``cpsim-0.2.bin`` -> ``cpsim-0.2``).  ``cpsim firmware pack`` makes one.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote, urlsplit

__all__ = [
    "MAGIC",
    "FirmwareImage",
    "ImageCorrupt",
    "ImageError",
    "check_version",
    "pack",
    "read_image",
    "version_from_name",
]

MAGIC: Final = b"CPSIM-FIRMWARE/1 "
HEADER_MAX: Final = 1024
"""Bytes a header line may take, newline included: read no further for it."""
VERSION_MAX: Final = 50
"""BootNotification.firmwareVersion is a CiString50 (§6.3)."""
PLAIN_SUFFIXES: Final = (".tar.gz", ".bin", ".img", ".fw", ".hex", ".zip", ".gz", ".tar")

_VERSION = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ImageError(ValueError):
    """The file is not an image this charger can install; the message says why."""


class ImageCorrupt(ImageError):
    """The payload does not match its header's checksum or size (cut, or altered)."""


@dataclass(frozen=True)
class FirmwareImage:
    version: str
    payload: bytes
    checked: bool
    """The header's checksum was verified (False: a plain file, taken as it is)."""


def check_version(version: str) -> str:
    """``version``, or :class:`ImageError`: 1-50 printable ASCII characters, no edge spaces."""
    if not 0 < len(version) <= VERSION_MAX or not _VERSION.fullmatch(version):
        raise ImageError(
            f"firmware version {version[:60]!r} is not 1-{VERSION_MAX} printable ASCII "
            "characters (BootNotification.firmwareVersion, CiString50)"
        )
    return version


def pack(payload: bytes, version: str) -> bytes:
    """An image of ``payload`` that boots as ``version``."""
    header = {
        "version": check_version(version),
        "sha256": hashlib.sha256(payload).hexdigest(),
        "size": len(payload),
    }
    return MAGIC + json.dumps(header, separators=(", ", ": ")).encode() + b"\n" + payload


def version_from_name(location: str) -> str:
    """The version a plain image's file name gives: its last path segment of the URL (or
    path) without a known extension."""
    path = urlsplit(location).path if "://" in location else location
    name = unquote(path.rsplit("/", 1)[-1])
    for suffix in PLAIN_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    if not name:
        raise ImageError(
            f"a plain image (no {MAGIC.decode().strip()} header) needs a file name that gives "
            "its version, and this location has none"
        )
    return check_version(name)


def read_image(data: bytes, location: str) -> FirmwareImage:
    """The image in ``data`` (fetched from ``location``), verified; :class:`ImageError` or
    :class:`ImageCorrupt` naming the rule broken."""
    if not data.startswith(MAGIC):
        return FirmwareImage(version_from_name(location), data, checked=False)
    end = data.find(b"\n", 0, HEADER_MAX)
    if end < 0:
        raise ImageError(f"image header: no end of line within its first {HEADER_MAX} bytes")
    try:
        header = json.loads(data[len(MAGIC) : end])
    except (ValueError, RecursionError) as exc:
        raise ImageError(f"image header: not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise ImageError("image header: not a JSON object")
    version, digest, size = header.get("version"), header.get("sha256"), header.get("size")
    if not isinstance(version, str):
        raise ImageError("image header: version missing or not a string")
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        raise ImageError("image header: sha256 missing or not 64 lower-case hex digits")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ImageError("image header: size missing or not a non-negative integer")
    payload = data[end + 1 :]
    if len(payload) != size:
        raise ImageCorrupt(f"image payload is {len(payload)} bytes, its header says {size}")
    if hashlib.sha256(payload).hexdigest() != digest:
        raise ImageCorrupt("image payload does not match its header's sha256")
    return FirmwareImage(check_version(version), payload, checked=True)
