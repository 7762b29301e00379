"""File transfers of the direct link: the host's own network, as a charger on Ethernet.

http and https go through :class:`HttpClient` (h11) over a host TCP socket, TLS by
asyncio's ``ssl`` with certificate verification against the system's CAs (or the
context given, e.g. built from a ``--ca-file``).  ftp and ftps go through the
standard library's :mod:`ftplib` in a worker thread, passive mode, binary type
(ftps is explicit FTPS, ``AUTH TLS`` on the control port as ``FTP_TLS`` does;
implicit FTPS on port 990 is not spoken).
The user and password of an ``ftp://user:pw@host/`` URL are used to log in and
never appear in a message: every reason names the URL without them.
"""

from __future__ import annotations

import asyncio
import contextlib
import ftplib
import io
import logging
import os
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import unquote, urlsplit

from modem.stream import ByteStream

from .http11 import URL_MAX, HttpClient, HttpTarget
from .tcp import TcpByteStream
from .transfer import TransferError, TransferTooLarge, check_scheme

log = logging.getLogger(__name__)

DIRECT_SCHEMES = frozenset({"http", "https", "ftp", "ftps"})
FTP_BLOCK = 16 * 1024
T = TypeVar("T")


@dataclass
class DirectTransfer:
    """What :meth:`DirectLink.file_transfer` offers: http, https, ftp, ftps."""

    connect_timeout: float = 15.0
    idle_timeout: float = 60.0
    """Longest silence within a transfer (HTTP: between reads; FTP: per socket operation)."""
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)
    """For https and ftps; ``None``: the system's CAs, hostname checked."""

    schemes: frozenset[str] = DIRECT_SCHEMES

    def _tls(self) -> ssl.SSLContext:
        if self.ssl_context is None:
            self.ssl_context = ssl.create_default_context()
        return self.ssl_context

    def _http(self) -> HttpClient:
        return HttpClient(self._open, idle_timeout=self.idle_timeout)

    async def download(self, url: str, max_bytes: int) -> bytes:
        scheme = check_scheme(url, self.schemes, "the direct link")
        if scheme in ("ftp", "ftps"):
            return await asyncio.to_thread(self._ftp_download, url, max_bytes)
        return await self._http().get(url, max_bytes)

    async def upload(self, url: str, filename: str, data: bytes) -> None:
        scheme = check_scheme(url, self.schemes, "the direct link")
        if scheme in ("ftp", "ftps"):
            await asyncio.to_thread(self._ftp_upload, url, filename, data)
            return
        await self._http().put(url, filename, data)

    async def _open(self, target: HttpTarget) -> ByteStream:
        check_scheme(f"{target.scheme}://", self.schemes, "the direct link")
        tls = self._tls() if target.scheme == "https" else None
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(
                    target.host, target.port, ssl=tls, server_hostname=target.host if tls else None
                )
        except TimeoutError:
            raise TransferError(
                f"{target.where}: no connection within {self.connect_timeout:g} s"
            ) from None
        except ssl.SSLError as exc:
            raise TransferError(f"{target.where}: TLS failed: {exc.reason or exc}") from None
        except OSError as exc:  # asyncio's strerror is "Connect call failed (...)"
            why = os.strerror(exc.errno) if exc.errno else str(exc)
            raise TransferError(f"{target.where}: cannot connect: {why}") from None
        return TcpByteStream(reader, writer)

    # -- FTP (runs in a worker thread) -------------------------------------

    def _ftp_download(self, url: str, max_bytes: int) -> bytes:
        place = FtpPlace.parse(url)
        with self._ftp_session(place) as ftp:
            try:
                ftp.voidcmd("TYPE I")  # SIZE counts octets only in binary type (RFC 3659 §4)
                size = ftp.size(place.path)
            except ftplib.all_errors:
                size = None  # SIZE is optional (RFC 3659): the count below still bounds it
            if size is not None and size > max_bytes:
                raise TransferTooLarge(
                    f"{place.where}: {size} bytes, more than the {max_bytes} bytes allowed"
                )
            received = bytearray()

            def take(block: bytes) -> None:
                received.extend(block)
                if len(received) > max_bytes:
                    raise TransferTooLarge(
                        f"{place.where}: more than the {max_bytes} bytes allowed"
                    )

            _ftp_call(place, lambda: ftp.retrbinary(f"RETR {place.path}", take, FTP_BLOCK))
            if size is not None and len(received) != size:
                raise TransferError(f"{place.where}: cut after {len(received)} of {size} bytes")
            return bytes(received)

    def _ftp_upload(self, url: str, filename: str, data: bytes) -> None:
        if not filename or filename in (".", "..") or any(c in filename for c in "/\r\n\0"):
            raise TransferError(f"bad file name for an upload: {filename!r}")
        place = FtpPlace.parse(url)
        path = f"{place.path.rstrip('/')}/{filename}" if place.path else filename
        with self._ftp_session(place) as ftp:
            _ftp_call(place, lambda: ftp.storbinary(f"STOR {path}", io.BytesIO(data), FTP_BLOCK))

    @contextlib.contextmanager
    def _ftp_session(self, place: FtpPlace) -> Iterator[ftplib.FTP]:
        """Logged in, passive, binary; closed afterwards (QUIT only after success, so a
        server's late reply can never hide the error that ended the transfer)."""
        ftp: ftplib.FTP
        if place.secure:
            ftp = ftplib.FTP_TLS(context=self._tls(), timeout=self.idle_timeout)
        else:
            ftp = ftplib.FTP(timeout=self.idle_timeout)
        try:
            _ftp_call(place, lambda: ftp.connect(place.host, place.port))
            _ftp_call(place, lambda: ftp.login(place.user, place.password))
            if isinstance(ftp, ftplib.FTP_TLS):
                _ftp_call(place, ftp.prot_p)  # the data connection encrypted too
            ftp.set_pasv(True)  # passive: the charger dials out, as behind NAT it must
            yield ftp
            with contextlib.suppress(*ftplib.all_errors):
                ftp.quit()
        finally:
            ftp.close()


def _ftp_call(place: FtpPlace, call: Callable[[], T]) -> T:
    """Run one ftplib step; its errors as :class:`TransferError` naming the place."""
    try:
        return call()
    except TransferError:
        raise
    except ftplib.error_perm as exc:
        raise TransferError(f"{place.where}: FTP refused: {_ftp_text(exc)}") from None
    except (ftplib.Error, EOFError) as exc:
        raise TransferError(f"{place.where}: FTP failed: {_ftp_text(exc)}") from None
    except ssl.SSLError as exc:
        raise TransferError(f"{place.where}: TLS failed: {exc.reason or exc}") from None
    except TimeoutError:
        raise TransferError(f"{place.where}: FTP server silent (timeout)") from None
    except OSError as exc:
        raise TransferError(f"{place.where}: {exc.strerror or exc}") from None


def _ftp_text(exc: BaseException) -> str:
    """A server reply, one line, bounded (it is text from outside)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


@dataclass(frozen=True)
class FtpPlace:
    """An ``ftp[s]://[user[:pw]@]host[:port]/path`` URL; :attr:`where` never shows the
    password.  The path is taken relative to the login directory (RFC 1738 §3.2.2)."""

    secure: bool
    host: str
    port: int
    path: str
    user: str = "anonymous"
    password: str = field(default="anonymous@", repr=False)

    @classmethod
    def parse(cls, url: str) -> FtpPlace:
        if len(url) > URL_MAX:
            raise TransferError(f"URL of {len(url)} characters (more than {URL_MAX})")
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("ftp", "ftps"):
            raise TransferError(f"not an ftp:// or ftps:// URL: {scheme or '(no scheme)'}://")
        try:
            port = parts.port or 21
        except ValueError:
            raise TransferError(f"{scheme}://{parts.hostname}: bad port number") from None
        if not parts.hostname:
            raise TransferError(f"{scheme}:// URL without a host")
        path = unquote(parts.path.split(";", 1)[0]).lstrip("/")  # ;type=i is ours anyway
        if any(c in path for c in "\r\n\0"):
            raise TransferError(f"{scheme}://{parts.hostname}: line break in the path")
        user = unquote(parts.username) if parts.username else "anonymous"
        password = unquote(parts.password) if parts.password is not None else "anonymous@"
        return cls(scheme == "ftps", parts.hostname, port, path, user, password)

    @property
    def where(self) -> str:
        scheme = "ftps" if self.secure else "ftp"
        port = "" if self.port == 21 else f":{self.port}"
        return f"{scheme}://{self.host}{port}/{self.path}"
