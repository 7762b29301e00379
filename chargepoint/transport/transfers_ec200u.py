"""File transfers of the EC200U link: HTTP/1.1 on a second QI socket (modem-at.md A.16 (a)).

The OCPP WebSocket keeps its own connectID; a transfer opens the first free
other one on the same PDP context (``AT+QIOPEN=<ctx>,<id>,"TCP",...``), and the
Quectel driver routes each ``+QIURC: "recv"``/``"closed"`` by ID, so both run
at once.  :class:`HttpClient` (h11) speaks HTTP over the socket exactly as over a
host socket: request bytes through ``AT+QISEND=<id>,<len>`` in pieces of at most
1460 (A.4), the answer drained with ``AT+QIRD`` until ``+QIRD: 0`` (A.5) and
taken by Content-Length, never line-scanned, then ``AT+QICLOSE=<id>`` (A.7).

``https://`` goes through the same TLS as the OCPP link (:mod:`.ec200u_tls`): a
QSSL client (``AT+QSSLOPEN`` on the link's SSL context: the same CA, so a file
server must present a certificate from the CA given with --ca-file) or, with
``tls_on_host``, TLS on the host over the QI socket (the CA file, else the
system's CAs).  The module's TLS without a CA file is refused with the reason.

Not carried (each refused with the reason, so UpdateFirmware / GetDiagnostics end
in DownloadFailed / UploadFailed with it in the log):

* ``ftp://`` and ``ftps://``: the module's FTP commands (``AT+QFTP*``) are only
  partly verified and their error codes not at all (A.16).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from modem.at import ATError
from modem.quectel import QuectelModem
from modem.stream import ByteStream

from .ec200u_tls import ModemTls, ModemTlsError
from .http11 import HttpClient, HttpTarget
from .tlssettings import TlsSettings
from .transfer import TransferError, UnsupportedScheme, check_scheme

log = logging.getLogger(__name__)

EC200U_SCHEMES = frozenset({"http", "https"})
_NOT_CARRIED = {
    "ftp": (
        "ftp:// through the EC200U would need the module's AT+QFTP* commands, whose "
        "details and error codes are unverified (modem-at.md A.16); give an http:// location"
    ),
}
_NOT_CARRIED["ftps"] = _NOT_CARRIED["ftp"].replace("ftp://", "ftps://", 1)

ModemGetter = Callable[[], Awaitable[QuectelModem]]
"""Brings the modem up (or returns it as the OCPP link left it)."""


def _describe(data: bytes) -> str:
    """What an HTTP write is, for the AT trace: the request line, or the body's size."""
    if data[:4] in (b"GET ", b"PUT "):
        return "http " + data.split(b"\r\n", 1)[0].decode("latin-1")[:160]
    return f"http body, {len(data)} bytes"


@dataclass
class Ec200uTransfer:
    """What :meth:`Ec200uLink.file_transfer` offers: http over a second socket."""

    modem: ModemGetter = field(repr=False)
    context: int = 1
    """The PDP context the OCPP socket uses; the transfer socket shares it."""
    ocpp_connect_id: int = 0
    """Never taken by a transfer, even while the WebSocket is reconnecting."""
    open_timeout: float = 150.0  # +QIOPEN within 150 s (A.3)
    idle_timeout: float = 60.0
    schemes: frozenset[str] = EC200U_SCHEMES
    modem_tls: ModemTls = field(default_factory=ModemTls, repr=False)
    """The link's TLS (module or host, and the module's prepared SSL context)."""
    tls: Callable[[], TlsSettings | None] = field(default=lambda: None, repr=False)
    """The link's security settings of the moment (CA file, client certificate)."""
    _one_at_a_time: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    def _check(self, url: str) -> None:
        try:
            check_scheme(url, self.schemes, "the EC200U link")
        except UnsupportedScheme as exc:
            scheme = url.partition(":")[0].lower()
            if scheme in _NOT_CARRIED:
                raise UnsupportedScheme(_NOT_CARRIED[scheme]) from None
            raise exc from None

    def _http(self, direction: str) -> HttpClient:
        """``direction``: what the AT-level log line says (``download from`` /
        ``upload to``), so a technician reading it knows which way the bytes go."""

        async def open_stream(target: HttpTarget) -> ByteStream:
            return await self._open(target, direction)

        return HttpClient(open_stream, idle_timeout=self.idle_timeout)

    async def download(self, url: str, max_bytes: int) -> bytes:
        self._check(url)
        async with self._one_at_a_time:
            return await self._http("download from").get(url, max_bytes)

    async def upload(self, url: str, filename: str, data: bytes) -> None:
        self._check(url)
        async with self._one_at_a_time:
            await self._http("upload to").put(url, filename, data)

    async def _open(self, target: HttpTarget, direction: str) -> ByteStream:
        self._check(f"{target.scheme}://")  # a redirect may point anywhere
        try:
            device = await self.modem()
            connect_id = device.free_connect_id(avoid=(self.ocpp_connect_id,))
            log.info("%s %s on connectID %d", direction, target.where, connect_id)
            if target.scheme == "https":
                return await self.modem_tls.open(
                    device,
                    target.host,
                    target.port,
                    connect_id=connect_id,
                    ctx=self.context,
                    tls=self.tls(),
                    timeout=self.open_timeout,
                )
            sock = await device.open_tcp(
                target.host,
                target.port,
                connect_id=connect_id,
                ctx=self.context,
                timeout=self.open_timeout,
            )
        except (ATError, ValueError, ModemTlsError) as exc:  # ValueError: an unquotable host
            raise TransferError(f"{target.where}: {exc}") from None
        sock.describe_writes(_describe)
        return sock
