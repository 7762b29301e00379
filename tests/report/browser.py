"""Open a page in headless Chromium (Debian's ``chromium``) over the DevTools protocol.

A small CDP client on websockets (already a dependency): no browser download, no
driver.  It records every console error, uncaught exception, log error and every
request for anything but the page itself (a self-contained report makes none), then
evaluates a script in the page once it has loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

CHROMIUM_NAMES = ("chromium", "chromium-browser")
DEVTOOLS_LINE = re.compile(rb"DevTools listening on (ws://\S+)")


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageVisit:
    errors: list[str] = field(default_factory=list)
    """Console errors, uncaught exceptions and log entries of level error."""
    requests: list[str] = field(default_factory=list)
    """URLs requested other than the page's own file."""
    result: Any = None


class CdpSession:
    def __init__(self, ws: ClientConnection, session_id: str | None = None) -> None:
        self.ws = ws
        self.session_id = session_id
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def pump(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            if "id" in message and message["id"] in self._waiting:
                self._waiting.pop(message["id"]).set_result(message)
            else:
                await self.events.put(message)

    async def call(self, method: str, session: str | None = None, **params: Any) -> Any:
        ident = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = future
        message: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        await self.ws.send(json.dumps(message))
        reply = await asyncio.wait_for(future, 30)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})


def _record(event: dict[str, Any], visit: PageVisit, page_url: str) -> bool:
    """Note what matters in one CDP event; True on the page's load event."""
    method = event.get("method")
    params = event.get("params", {})
    if method == "Runtime.exceptionThrown":
        details = params.get("exceptionDetails", {})
        visit.errors.append(
            f"uncaught: {details.get('exception', {}).get('description') or details.get('text')}"
        )
    elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        texts = [str(a.get("value", a.get("description", ""))) for a in params.get("args", [])]
        visit.errors.append("console.error: " + " ".join(texts))
    elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
        visit.errors.append(f"log: {params['entry'].get('text')}")
    elif method == "Network.requestWillBeSent":
        url = params.get("request", {}).get("url", "")
        if url != page_url and not url.startswith(("data:", "about:")):
            visit.requests.append(url)
    return method == "Page.loadEventFired"


def visit_page(chromium: str, page: Path, script: str) -> PageVisit:
    """Load ``page`` and evaluate ``script`` (an expression; a promise is awaited)."""
    return asyncio.run(_visit(chromium, page.resolve().as_uri(), script))


async def _visit(chromium: str, page_url: str, script: str) -> PageVisit:
    visit = PageVisit()
    with tempfile.TemporaryDirectory(prefix="cpsim-chromium-") as profile:
        process = await asyncio.create_subprocess_exec(
            chromium,
            "--headless",
            "--no-sandbox",  # root in CI containers
            "--disable-gpu",
            "--no-first-run",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": "disabled:"},
        )
        try:
            assert process.stderr is not None
            endpoint = await asyncio.wait_for(_devtools_url(process.stderr), 60)
            async with connect(endpoint, max_size=None) as ws:
                cdp = CdpSession(ws)
                pump = asyncio.create_task(cdp.pump())
                try:
                    target = await cdp.call("Target.createTarget", url="about:blank")
                    attached = await cdp.call(
                        "Target.attachToTarget", targetId=target["targetId"], flatten=True
                    )
                    session = attached["sessionId"]
                    for domain in ("Runtime", "Log", "Page", "Network"):
                        await cdp.call(f"{domain}.enable", session)
                    await cdp.call("Page.navigate", session, url=page_url)
                    while not _record(
                        await asyncio.wait_for(cdp.events.get(), 60), visit, page_url
                    ):
                        pass
                    evaluated = await cdp.call(
                        "Runtime.evaluate",
                        session,
                        expression=script,
                        awaitPromise=True,
                        returnByValue=True,
                    )
                    if "exceptionDetails" in evaluated:
                        visit.errors.append(f"check script: {evaluated['exceptionDetails']}")
                    visit.result = evaluated.get("result", {}).get("value")
                    while not cdp.events.empty():
                        _record(cdp.events.get_nowait(), visit, page_url)
                finally:
                    pump.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await pump
        finally:
            if process.returncode is None:
                process.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 15)
            if process.returncode is None:
                process.kill()
                await process.wait()
    return visit


async def _devtools_url(stderr: asyncio.StreamReader) -> str:
    while True:
        line = await stderr.readline()
        if not line:
            raise RuntimeError("chromium exited before it opened its DevTools port")
        match = DEVTOOLS_LINE.search(line)
        if match:
            asyncio.get_running_loop().create_task(_drain(stderr))
            return match.group(1).decode()


async def _drain(stderr: asyncio.StreamReader) -> None:
    """Keep reading chromium's stderr so a full pipe never blocks it."""
    while await stderr.read(65536):
        pass
