"""File transfers of the ESP-AT link: the module's own HTTP client (modem-at.md B.6).

The module fetches and sends the file itself (``AT+HTTPGETSIZE`` + ``AT+HTTPCGET``,
``AT+HTTPCPUT``); the host moves the body over the UART while the OCPP WebSocket
stays up on the same module (see :mod:`modem.espat.http` for the details and
what ESP-AT leaves unsaid).  Worth knowing when reading a DownloadFailed:

* ESP-AT prints **no HTTP status for 2xx and 3xx** and follows no redirect: a
  location that redirects downloads the redirect page.  A status >= 400 is
  known only as "an error status" (its code shows with ``AT+SYSLOG=1`` only).
* A cut download also ends in OK; it is caught by comparing the bytes with
  the size ``AT+HTTPGETSIZE`` announced, which is also how a file over the
  charger's free space is refused before any of it is fetched.
* While a transfer runs the module takes no other command: OCPP messages to
  the CSMS wait for it (messages from the CSMS still arrive).

https:// is verified by the module only when ``tls`` gives it something to verify
with (EspAtSettings.https_verify): the CA (and for profile 3 the charger's
certificate) go to the https_* namespaces and ``AT+HTTPCFG=2|3,0,0`` is set
(:meth:`modem.espat.EspAtTls.configure_https`).  Otherwise ESP-AT's default
auth_mode 0 applies: https without verification, as before.

Not carried: ``ftp://`` and ``ftps://`` (ESP-AT has no FTP client commands).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import quote, urlsplit, urlunsplit

from chargepoint.logmask import mask_text
from modem.at import ATError
from modem.espat import EspAtModem, ModuleTls
from modem.espat.errors import HttpBodyTooLarge, HttpTransferError

from .transfer import TransferError, TransferTooLarge, UnsupportedScheme, check_scheme

log = logging.getLogger(__name__)

ESPAT_SCHEMES = frozenset({"http", "https"})
LINK_NAME = "the ESP-AT module's HTTP client"
_NOT_CARRIED = (
    "{scheme}:// through the ESP-AT module: its firmware has an HTTP client "
    "(AT+HTTPCGET / AT+HTTPCPUT) but no FTP commands; give an http:// or https:// location"
)

ModemGetter = Callable[[], Awaitable[EspAtModem]]
"""Brings the module up (or returns it as the OCPP link left it)."""


def upload_url(directory: str, filename: str) -> str:
    """``filename`` appended to the directory OCPP gives (percent-encoded, one path
    segment); the query, if any, is kept."""
    if not filename or "/" in filename or filename in (".", ".."):
        raise TransferError(f"bad file name for an upload: {filename!r}")
    parts = urlsplit(directory)
    path = parts.path.rstrip("/") + "/" + quote(filename, safe="")
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


@dataclass
class EspAtTransfer:
    """What :meth:`EspAtLink.file_transfer` offers: http and https through the module."""

    modem: ModemGetter
    schemes: frozenset[str] = ESPAT_SCHEMES
    tls: Callable[[], ModuleTls | None] = lambda: None
    """How https:// is verified (None: not, the module's default)."""

    def _check(self, url: str) -> None:
        scheme = urlsplit(url).scheme.lower()
        if scheme in ("ftp", "ftps"):
            raise UnsupportedScheme(_NOT_CARRIED.format(scheme=scheme))
        check_scheme(url, self.schemes, LINK_NAME)

    async def download(self, url: str, max_bytes: int) -> bytes:
        self._check(url)
        device = await self._device(url)
        try:
            return await device.http.download(url, max_bytes)
        except HttpBodyTooLarge as exc:
            raise TransferTooLarge(str(exc)) from None
        except HttpTransferError as exc:
            raise TransferError(str(exc)) from None
        except ATError as exc:
            raise TransferError(f"{LINK_NAME}: {mask_text(str(exc))}") from None

    async def upload(self, url: str, filename: str, data: bytes) -> None:
        self._check(url)
        target = upload_url(url, filename)
        device = await self._device(url)
        try:
            await device.http.upload(target, data)
        except HttpTransferError as exc:
            raise TransferError(str(exc)) from None
        except ATError as exc:
            raise TransferError(f"{LINK_NAME}: {mask_text(str(exc))}") from None

    async def _device(self, url: str) -> EspAtModem:
        try:
            device = await self.modem()
        except (ATError, ValueError) as exc:
            raise TransferError(
                f"{LINK_NAME}: the module is not up: {mask_text(str(exc))}"
            ) from None
        tls = self.tls() if urlsplit(url).scheme.lower() == "https" else None
        if tls is not None:
            try:
                await device.tls.configure_https(tls)
            except ATError as exc:
                raise TransferError(f"{LINK_NAME}: https set-up: {mask_text(str(exc))}") from None
        return device
