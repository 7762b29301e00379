"""File transfers over the charger's own link: firmware downloads, diagnostics uploads.

Real firmware fetches its image and sends its logs over the same link it talks
OCPP on (OCPP 1.6 §5.9, §5.19, §8): a direct charger over the host's network, an
EC200U over a second socket on the same PDP context, an ESP-AT module with its
own HTTP client.  Each link offers one :class:`FileTransfer`; the station's shell
asks it for a transfer when the charger core emits one, and feeds the outcome
back to the core as an event.  The core never sees bytes or sockets.

A transfer either returns (the whole file was fetched, or the server confirmed
the upload) or raises :class:`TransferError` with a reason a technician can act
on.  Nothing is ever half-done silently: a cut download, a body shorter than its
Content-Length, a file over ``max_bytes``, a scheme the link cannot carry, all
raise.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlsplit

__all__ = [
    "FileTransfer",
    "NoTransfer",
    "TransferError",
    "TransferTooLarge",
    "UnsupportedScheme",
    "check_scheme",
]


class TransferError(Exception):
    """A transfer failed; ``reason`` is one line naming what and where (never a password)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnsupportedScheme(TransferError):
    """The URL's scheme is one this link cannot carry (e.g. ftp:// through an ESP-AT)."""


class TransferTooLarge(TransferError):
    """The file is larger than the charger may keep (its free space for an image)."""


def check_scheme(url: str, schemes: frozenset[str], link: str) -> str:
    """The URL's scheme, lower case, or :class:`UnsupportedScheme` naming the link and
    what it can carry."""
    scheme = urlsplit(url).scheme.lower()
    if scheme not in schemes:
        raise UnsupportedScheme(
            f"{link} cannot carry {scheme or 'a URL without a scheme'}:// "
            f"(it can: {', '.join(sorted(schemes))})"
        )
    return scheme


class FileTransfer(Protocol):
    """What a link offers for files.  Credentials in the URL (``ftp://user:pw@host/``)
    are used, never logged."""

    @property
    def schemes(self) -> frozenset[str]:
        """The URL schemes this link can carry (``http``, ``https``, ``ftp``, ``ftps``)."""
        ...

    async def download(self, url: str, max_bytes: int) -> bytes:
        """The whole file at ``url``; :class:`TransferTooLarge` as soon as it is known to
        exceed ``max_bytes`` (from Content-Length, or while reading)."""
        ...

    async def upload(self, url: str, filename: str, data: bytes) -> None:
        """Put ``data`` as ``filename`` at ``url`` (OCPP gives a directory: the file name is
        appended to it; HTTP uses PUT, FTP STOR)."""
        ...


class NoTransfer:
    """A link that carries no files: every transfer fails with the reason."""

    schemes: frozenset[str] = frozenset()

    def __init__(self, why: str) -> None:
        self.why = why

    async def download(self, url: str, max_bytes: int) -> bytes:
        raise UnsupportedScheme(self.why)

    async def upload(self, url: str, filename: str, data: bytes) -> None:
        raise UnsupportedScheme(self.why)
