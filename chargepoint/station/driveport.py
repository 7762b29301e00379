"""The control port of ``cpsim run --control socket://127.0.0.1:PORT``: one JSON
request per line in, one JSON answer per line out, in order (:mod:`.drive` says what
a request is).  It has no authentication, so it only listens on a loopback address.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable

from chargepoint.logmask import mask_text

from .drive import MAX_LINE, answer
from .shell import Station

log = logging.getLogger("cpsim.drive")


def loopback_problem(host: str) -> str | None:
    """Why ``host`` is not a loopback address the control port may listen on, or None."""
    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host.strip("[]")).is_loopback:
            return None
    except ValueError:
        pass
    return (
        f"{host}: the control port has no authentication, so it listens on a loopback "
        "address only (127.0.0.1 or [::1])"
    )


class DrivePort:
    """The line server: one task per client, requests answered in order."""

    def __init__(self, station: Station, host: str, port: int) -> None:
        self.station, self.host, self.port = station, host, port
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"

    async def start(self) -> DrivePort:
        self._server = await asyncio.start_server(
            self._client, self.host.strip("[]"), self.port, limit=MAX_LINE + 1
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        try:
            await self._serve(reader, writer.write, writer.drain)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:
            # aclose() cancels a client still connected at Ctrl+C; the task ends here
            # normally because asyncio's start_server (3.11) calls task.exception() on
            # the finished task, which re-raises a cancellation as a logged traceback.
            pass
        finally:
            self._clients.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(
        self,
        reader: asyncio.StreamReader,
        write: Callable[[bytes], None],
        drain: Callable[[], Awaitable[None]],
    ) -> None:
        while True:
            try:
                line = await reader.readuntil(b"\n")
            except asyncio.LimitOverrunError:
                write(json.dumps({"ok": False, "error": "request line too long"}).encode())
                write(b"\n")
                await drain()
                return  # the rest of that line cannot be told from the next request
            except asyncio.IncompleteReadError:
                return
            if not line.strip():
                continue
            reply = await answer(self.station, line)
            text = json.dumps(reply, default=str)
            if log.isEnabledFor(logging.INFO):
                request = line.strip()[:200].decode(errors="replace")
                log.info("control: %s -> %s", mask_text(request), mask_text(text[:200]))
            write(text.encode() + b"\n")
            await drain()

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._clients):
            task.cancel()
        for task in list(self._clients):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            await self._server.wait_closed()
