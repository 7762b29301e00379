"""The local CSMS's HTTP side, on aiohttp: the control API, firmware files, uploads.

Why aiohttp: websockets' server parses only GET requests (it exists to upgrade
them), and this side needs POST bodies, PUT uploads streamed to disk and
downloads streamed with their faults.  aiohttp is asyncio-native (it runs in the
CSMS's own loop, beside websockets), well kept, and gives server and client in
one package (``cpsim csms call`` uses its client).

It listens on its own port (``--http-port``, by default the OCPP port + 1): the
OCPP side stays on websockets, whose handshake, keepalive and close handling
every test of the chargers relies on.

* ``/api/...``: the control API (:mod:`.control`), behind :class:`~.guard.ControlGuard`
  (token, Host, Origin);
* ``GET /firmware/<name>``: the files on offer (:mod:`.files`), no token (a charger
  has none), with the faults set for them;
* ``PUT|POST /diagnostics/<name>``: uploads (:mod:`.uploads`); a browser's cross-site
  Origin is refused (a web page must not fill the disk), a charger sends none.

Every error is JSON with the right status, never an HTML page or a bare 500.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import TYPE_CHECKING

from aiohttp import web

from .apierror import ApiError
from .control import ControlApi
from .guard import ControlGuard

if TYPE_CHECKING:
    from .server import LocalCsms

log = logging.getLogger("cpsim.csms")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(csms: LocalCsms, guard: ControlGuard) -> web.Application:
    @web.middleware
    async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            _check(request, guard)
            return await handler(request)
        except ApiError as exc:
            return _error(exc)
        except web.HTTPException as exc:  # aiohttp's own: no route, wrong method, too large
            if exc.status < 400:
                raise
            return _error(_from_http(exc, request))
        except Exception as exc:  # a bug here must still tell the client what happened
            log.exception("HTTP side: %s %s failed", request.method, request.path)
            return _error(
                ApiError(
                    HTTPStatus.INTERNAL_SERVER_ERROR,
                    "internal",
                    f"{request.method} {request.path}: {type(exc).__name__}: {exc}",
                )
            )

    app = web.Application(middlewares=[json_errors])
    app.add_routes(ControlApi(csms).routes())
    app.add_routes(
        [
            web.get("/firmware/{name}", csms.firmware.serve),
            web.put("/diagnostics/{name}", csms.uploads.receive),
            web.post("/diagnostics/{name}", csms.uploads.receive),
            web.post("/diagnostics", csms.uploads.receive),  # multipart names its file
            web.post("/diagnostics/", csms.uploads.receive),
        ]
    )
    return app


def _check(request: web.Request, guard: ControlGuard) -> None:
    path = request.path
    if path == "/api" or path.startswith("/api/"):
        guard.check(
            request.headers.get("Host"),
            request.headers.get("Origin"),
            request.headers.get("Authorization"),
        )
    elif path.startswith("/diagnostics"):
        guard.check_origin(request.headers.get("Origin"), request.headers.get("Host", ""))


def _error(exc: ApiError) -> web.Response:
    return web.json_response(exc.body(), status=exc.status, headers=exc.headers)


def _from_http(exc: web.HTTPException, request: web.Request) -> ApiError:
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        hint = " (state changes are POST with a JSON body)" if "POST" in allowed else ""
        return ApiError(
            HTTPStatus.METHOD_NOT_ALLOWED,
            "method_not_allowed",
            f"{request.method} {request.path}: use {allowed}{hint}",
            headers={"Allow": allowed},
        )
    if isinstance(exc, web.HTTPNotFound):
        return ApiError(
            HTTPStatus.NOT_FOUND,
            "unknown_route",
            f"no endpoint {request.path} (GET /api lists them; files are under /firmware/"
            " and /diagnostics/)",
        )
    return ApiError(HTTPStatus(exc.status), "http", f"{request.path}: {exc.reason}")


class HttpSide:
    """The aiohttp server of one LocalCsms: start, port, stop."""

    def __init__(self, csms: LocalCsms, guard: ControlGuard) -> None:
        self.app = build_app(csms, guard)
        # No access log: a request line is nothing a user needs, and a log of headers
        # is where tokens leak.  Shutdown waits at most 1 s for calls in flight.
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)

    async def start(self, host: str, port: int) -> int:
        """Listen; the port bound (``port`` 0: one the system chose)."""
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, host, port).start()
        except OSError:
            await self._runner.cleanup()
            raise
        return int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        await self._runner.cleanup()
