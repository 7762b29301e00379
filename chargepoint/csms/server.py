"""A local CSMS for firmware developers, CI and the demo.

``ws://HOST:PORT/<any prefix>/<chargePointId>`` with subprotocol ocpp1.6 and
optional HTTP Basic auth (user must equal the charge-point id), on websockets.
Its HTTP side (:mod:`.httpside`, aiohttp, on ``http_port``; ``cpsim csms`` puts it
on the OCPP port + 1) has the control API (``/api/...``, :mod:`.control`: a token, Host and
Origin checked), the firmware files on offer (``/firmware/<name>``, :mod:`.files`,
with faults) and the diagnostics uploads (``/diagnostics/<name>``, :mod:`.uploads`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import gc
import logging
import ssl
from http import HTTPStatus
from pathlib import Path
from typing import Any

import ocpp.messages
from ocpp.exceptions import OCPPError
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from chargepoint.payloads import call_for, result
from chargepoint.security.tlsfiles import check_ca, check_identity, server_context

from .credentials import Credentials
from .files import FileFault, FirmwareShelf
from .framelog import FrameLog
from .guard import ControlGuard
from .handlers import Answered, CsmsPolicy, CsmsSession, ocpp_logger
from .httpside import HttpSide
from .logsecrets import masked_logger
from .tlssniff import tls_or_plain
from .transfers import TransferRecord
from .uploads import MAX_UPLOAD, UploadStore

log = logging.getLogger("cpsim.csms")
websockets_log = masked_logger("websockets.server.csms")
"""websockets logs each request header (Authorization too) at DEBUG: masked."""

# ocpp validates each payload in a thread executor by default: two thread hops per
# exchange, a quarter of the CPU of a CSMS holding a fleet, to run microseconds of
# jsonschema.  The local CSMS validates inline (the charger core does too).
ocpp.messages.ASYNC_VALIDATION = False


SERVER_GC_THRESHOLDS = (10_000, 20, 100)
"""The cyclic collector of a process that is a CSMS: a young collection every 10,000
allocations instead of 700, the older ones rarer still.  Each connection is a few
hundred long-lived objects that the default thresholds rescan again and again while a
fleet boots: 3,000 chargers took 0.69 s of collector CPU (0.23 ms per boot), 0.22 s
with these."""


def hold_many_connections() -> None:
    """Tune this process's collector for a CSMS holding thousands of connections
    (``cpsim csms`` does; a test process running a LocalCsms need not)."""
    gc.collect()
    gc.freeze()  # what start-up built (imports, the server) is never garbage
    gc.set_threshold(*SERVER_GC_THRESHOLDS)


class NotConnected(LookupError):
    pass


class LoggedConnection:
    """Records every frame in the log on its way in or out."""

    def __init__(self, ws: ServerConnection, charge_point_id: str, frames: FrameLog) -> None:
        self.ws, self.id, self.frames = ws, charge_point_id, frames

    async def send(self, message: str) -> None:
        self.frames.record("sent", self.id, message)
        await self.ws.send(message)

    async def recv(self) -> str:
        message = await self.ws.recv()
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        self.frames.record("received", self.id, text)
        return text


class LocalCsms:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 9000,
        log_path: Path | None = None,
        credentials: Credentials | None = None,
        policy: CsmsPolicy | None = None,
        *,
        http_port: int | None = None,
        api_token: str | None = None,
        allowed_hosts: tuple[str, ...] = (),
        uploads_dir: Path | None = None,
        max_upload: int = MAX_UPLOAD,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
        client_ca: Path | None = None,
        client_cert_required: bool = True,
        plain_too: bool = False,
        compression: bool = False,
    ) -> None:
        """``http_port``: the HTTP side's (None or 0: any free one; ``cpsim csms`` gives the
        OCPP port + 1), see :attr:`api_url` once started;
        ``api_token``: the control API's (None: a random one, see :attr:`api_token`);
        ``allowed_hosts``: Host names the API accepts besides IP literals, localhost and
        ``host``; ``uploads_dir``: where uploads go (None: a temp dir at the first one).

        ``tls_cert`` / ``tls_key``: serve wss:// (security profiles 2 and 3); with
        ``client_ca`` the charger's certificate is verified against it and its CN must be
        the charge-point id (WP A00.FR.404/405), and a charger presenting one needs no
        Basic auth (profile 3); ``client_cert_required`` False also lets chargers without
        one in, with Basic auth (profile 2 and 3 side by side, for a profile raise);
        ``plain_too``: ws:// on the same port as well (1 and 2 side by side, :mod:`.tlssniff`).
        A bad file: :class:`~chargepoint.security.tlsfiles.TlsFileError` naming it.

        ``compression``: accept permessage-deflate when a charger offers it (off: OCPP
        frames are small, and each deflate connection keeps a zlib pair of ~46 KiB)."""
        self.host, self._port = host, port
        self.compression = compression
        self.ssl_context: ssl.SSLContext | None = None
        if (tls_cert is None) != (tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        if client_ca is not None and tls_cert is None:
            raise ValueError("client_ca needs tls_cert and tls_key (a client certificate is TLS)")
        if tls_cert is not None and tls_key is not None:
            if client_ca is not None:
                check_ca(client_ca)
            self.ssl_context = server_context(check_identity(tls_cert, tls_key), client_ca)
            if client_ca is not None and not client_cert_required:
                self.ssl_context.verify_mode = ssl.CERT_OPTIONAL
        self._tls_or_plain = (
            tls_or_plain(self.ssl_context) if plain_too and self.ssl_context is not None else None
        )
        self._http_port = http_port or 0
        self.guard = ControlGuard(
            **({"token": api_token} if api_token is not None else {}),
            allowed_hosts=frozenset((host, *allowed_hosts)),
        )
        self.transfers: list[TransferRecord] = []
        """Every firmware download and diagnostics upload the HTTP side served."""
        self.firmware = FirmwareShelf(transfers=self.transfers)
        self.uploads = UploadStore(uploads_dir, max_upload, transfers=self.transfers)
        self._http: HttpSide | None = None
        self.credentials = credentials
        self.policy = policy or CsmsPolicy()
        self.frames = FrameLog(log_path, self.policy.clock)
        self.sessions: dict[str, CsmsSession] = {}
        self.client_serials: dict[str, str] = {}
        """Per charger, the serial of the client certificate of its latest connection
        (profile 3) in :func:`serial_hex` form: a test sees a renewed certificate
        presented (WP A02)."""
        # In the policy, so a CSMS restarted with the same policy (as a CSMS with a
        # database would) still knows what it answered.
        self.answered: dict[str, Answered] = self.policy.answered
        """Per charge-point id, its last calls' answers: a resent call gets the same one."""
        self._connected = asyncio.Condition()
        self._server: Server | None = None

    @property
    def port(self) -> int:
        if self._server is not None:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    @property
    def url(self) -> str:
        """The base URL a charger appends its id to."""
        scheme = "wss" if self.ssl_context is not None else "ws"
        return f"{scheme}://{self.host}:{self.port}/ocpp"

    @property
    def http_port(self) -> int:
        return self._http_port

    @property
    def api_url(self) -> str:
        """The HTTP side's base URL (``/api``, ``/firmware/``, ``/diagnostics/``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.http_port}"

    @property
    def api_token(self) -> str:
        """The control API's token (``Authorization: Bearer <token>``); never logged."""
        return self.guard.token

    def firmware_url(self, name: str) -> str:
        """The ``location`` of an UpdateFirmware for the offered file ``name``."""
        return f"{self.api_url}/firmware/{name}"

    @property
    def diagnostics_url(self) -> str:
        """The ``location`` of a GetDiagnostics: the charger appends its file name."""
        return f"{self.api_url}/diagnostics/"

    def offer_firmware(self, path: Path, name: str | None = None) -> str:
        """Offer a firmware file; returns its URL (ValueError: unreadable, name taken).

        Before :meth:`start` with ``http_port`` 0 the URL has no port yet: ask
        :meth:`firmware_url` again once started."""
        return self.firmware_url(self.firmware.offer(path, name))

    def set_file_fault(
        self, fault: FileFault | str, name: str | None = None, rate: int | None = None
    ) -> None:
        """A download fault (cut, slow, fail-once, none) for file ``name`` or every file."""
        self.firmware.set_fault(fault, name, rate)

    async def start(self) -> LocalCsms:
        """Listen on both ports; OSError naming the port that could not be bound."""
        try:
            self._server = await serve(
                self._handle,
                self.host,
                self._port,
                subprotocols=[Subprotocol("ocpp1.6")],
                compression="deflate" if self.compression else None,
                process_request=self._process_request,
                ssl=None if self._tls_or_plain else self.ssl_context,
                create_connection=self._tls_or_plain,
                logger=websockets_log,
            )
        except OSError as exc:
            raise OSError(exc.errno, f"OCPP port {self._port}: {exc.strerror or exc}") from exc
        http = HttpSide(self, self.guard)
        try:
            self._http_port = await http.start(self.host, self._http_port)
        except OSError as exc:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
            raise OSError(exc.errno, f"HTTP port {self._http_port}: {exc.strerror or exc}") from exc
        self._http = http
        log.info("local CSMS listening on %s (HTTP side %s)", self.url, self.api_url)
        return self

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.stop()
            self._http = None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self.frames.close()

    async def __aenter__(self) -> LocalCsms:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        if request.path.startswith("/api/") or request.path == "/api":
            return connection.respond(
                HTTPStatus.NOT_FOUND,
                f"this is the OCPP port; the control API is at {self.api_url}/api\n",
            )
        charge_point_id = request.path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        if not charge_point_id:
            return connection.respond(HTTPStatus.NOT_FOUND, "no charge-point id in the path\n")
        peer = connection.transport.get_extra_info("peercert") if self.ssl_context else None
        if peer:  # security profile 3: the certificate is the charger's credential
            common_name = _common_name(peer)
            if common_name != charge_point_id:
                log.warning(
                    "%s: client certificate is for %r, not this charge-point id",
                    charge_point_id,
                    common_name,
                )
                return connection.respond(
                    HTTPStatus.FORBIDDEN, "the client certificate's CN is not the charge-point id\n"
                )
            self.client_serials[charge_point_id] = serial_hex(peer.get("serialNumber"))
            return None
        if self.credentials is not None and not self._authorised(request, charge_point_id):
            log.warning("%s: HTTP Basic auth failed", charge_point_id)
            response = connection.respond(HTTPStatus.UNAUTHORIZED, "unauthorized\n")
            response.headers["WWW-Authenticate"] = 'Basic realm="ocpp", charset="UTF-8"'
            return response
        return None

    @property
    def security_profile(self) -> int:
        """What this CSMS asks of a charger: 3 client certificate, 2 TLS + Basic auth,
        1 Basic auth, 0 nothing."""
        if self.ssl_context is not None:
            return 3 if self.ssl_context.verify_mode == ssl.CERT_REQUIRED else 2
        return 1 if self.credentials is not None else 0

    def _authorised(self, request: Request, charge_point_id: str) -> bool:
        assert self.credentials is not None
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(token, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return self.credentials.check(charge_point_id, user, password)

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        charge_point_id = ws.request.path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
        session = CsmsSession(
            charge_point_id,
            LoggedConnection(ws, charge_point_id, self.frames),
            self.policy,
            self.answered.setdefault(charge_point_id, Answered()).new_link(),
        )
        session.logger = ocpp_logger
        self.sessions[charge_point_id] = session
        async with self._connected:
            self._connected.notify_all()
        log.info("%s connected", charge_point_id)
        try:
            await session.start()
        except ConnectionClosed as exc:
            log.info("%s disconnected (%s)", charge_point_id, exc.rcvd.code if exc.rcvd else 1006)
        finally:
            if self.sessions.get(charge_point_id) is session:
                del self.sessions[charge_point_id]

    async def wait_connected(self, charge_point_id: str, timeout: float = 10) -> None:
        async def wait() -> None:
            async with self._connected:
                await self._connected.wait_for(lambda: charge_point_id in self.sessions)

        async with asyncio.timeout(timeout):
            await wait()

    async def call(
        self,
        charge_point_id: str,
        action: str,
        payload: dict[str, Any],
        timeout: float = 30,
        unique_id: str | None = None,
    ) -> dict[str, Any]:
        """Send a CSMS-initiated call; raises NotConnected, OCPPError (CALLERROR), TimeoutError.

        ``unique_id`` lets a caller find the call and its answer in the frame log.
        """
        session = self.sessions.get(charge_point_id)
        if session is None:
            raise NotConnected(f"{charge_point_id} is not connected")
        session._response_timeout = timeout
        response = await session.call(
            call_for(action, payload), suppress=False, unique_id=unique_id
        )
        answer = result(response)
        if action == "ChangeConfiguration" and self.credentials is not None:
            # a new AuthorizationKey the charger took is the one it reconnects with
            self.credentials.adopt(charge_point_id, payload, answer)
        return answer

    async def send_raw(self, charge_point_id: str, text: str) -> None:
        """Send any text frame, valid OCPP or not (to test a charger's error handling)."""
        session = self.sessions.get(charge_point_id)
        if session is None:
            raise NotConnected(f"{charge_point_id} is not connected")
        await session._connection.send(text)

    async def disconnect(self, charge_point_id: str, code: int = 1000) -> None:
        session = self.sessions.get(charge_point_id)
        if session is not None:
            with contextlib.suppress(ConnectionClosed):
                await session._connection.ws.close(code)

    def drop(self, charge_point_id: str) -> bool:
        """Cut the charger's TCP connection without a close frame, as a network failure does.

        False when the charger is not connected.
        """
        session = self.sessions.get(charge_point_id)
        if session is None:
            return False
        session._connection.ws.transport.abort()
        return True


__all__ = ["Credentials", "FileFault", "LocalCsms", "NotConnected", "OCPPError"]


def serial_hex(serial: object) -> str:
    """A certificate serial as ``format(serial_number, "X")`` writes it.  ssl writes it a
    byte at a time, so a serial of an odd number of hex digits gets a leading 0
    ("0F1B..." for 0xF1B...), which a plain comparison with the issued serial misses."""
    try:
        return format(int(str(serial), 16), "X")
    except ValueError:
        return ""


def _common_name(peer: dict[str, Any]) -> str | None:
    """The subject CN of a certificate as ``SSLSocket.getpeercert()`` gives it."""
    for rdn in peer.get("subject", ()):
        for name, value in rdn:
            if name == "commonName":
                return str(value)
    return None
