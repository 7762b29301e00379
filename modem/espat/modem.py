"""An ESP32 running ESP-AT (with WebSocket commands): Wi-Fi station and WebSocket links.

The sequence is the reference's OCPP recipe (shared/reference/modem-at.md,
B.5): ``ATE0``, ``AT+CWMODE=1``, ``AT+CWJAP``, then per connection
``AT+WSCFG`` (before ``AT+WSOPEN``, or it is ignored), ``AT+WSHEAD`` for each
header, ``AT+WSOPEN`` with subprotocol ocpp1.6.  What the module leaves to the
host is handled here: ``+CWJAP:<code>`` turned into a reason, the 256-byte
command limit checked before anything is written, a link the module keeps
after ``+WS_DISCONNECTED`` (it may reconnect by itself) released with
``AT+WSCLOSE``, and ``busy p...`` retried.  wss:// with certificates (security
profiles 2 and 3): :mod:`.tls` stores them with ``AT+SYSMFG``, sets the clock by SNTP
and adds the auth mode to ``AT+WSCFG``; a failed TLS open lists the causes to check.

A link whose state is in doubt (an ``AT+WSSEND`` that got no answer in time,
an ``ERROR`` after the prompt, a drop) is *settled* before that id is opened
again: ``AT+WSCLOSE`` until the module answers it, so the next ``AT+WSOPEN``
never meets "already open" and the CSMS sees the old WebSocket go.  A module
that answers nothing at all is reset by the watchdog (:meth:`recover`):
``AT`` retries, then ``AT+RST`` and a wait for ``ready``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from modem.at import (
    ATCommandError,
    ATDriver,
    ATError,
    ATPortError,
    ATRestarted,
    ATTimeout,
    Response,
    Urc,
)
from modem.serialport import open_driver

from .dialect import (
    BUSY,
    CWJAP_REASONS,
    ESP_AT,
    MAX_BUFFER,
    MAX_COMMAND,
    SEND_OVERHEAD,
    TIME_UPDATED,
    command_bytes,
    quote,
)
from .errors import (
    CommandTooLong,
    EspAtError,
    NoWebSocketSupport,
    WebSocketOpenError,
    WifiError,
)
from .http import EspAtHttp
from .tls import EspAtTls, ModuleTls, tls_open_failure
from .websocket import EspAtWebSocket

log = logging.getLogger(__name__)

SUBPROTOCOL = "ocpp1.6"
LINK_IDS = range(3)  # link_id 0..2
# How long a link in doubt may keep answering busy p... (a WSSEND's <timeout_ms> is at
# most 60 s, a WSOPEN's 180 s) before the watchdog resets the module.
SETTLE_TIMEOUT = 75.0
CLOSE_BUDGET = 8.0  # aclose(): every link closed (or given up) within this, then the port


class ModuleUnresponsive(EspAtError):
    """The module answered neither ``AT`` nor ``AT+RST`` (no ``ready``): power-cycle it."""


def _link_id(urc_text: str) -> int | None:
    """``+WS_DATA:0,12,`` / ``+WS_CLOSED:1`` -> the link id."""
    value = urc_text.split(":", 1)[1].split(",", 1)[0].strip()
    return int(value) if value.isdigit() else None


def _first_quoted(value: str) -> str | None:
    """The first quoted string of a response value, backslash escapes undone."""
    start = value.find('"')
    if start < 0:
        return None
    out: list[str] = []
    i = start + 1
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value):
            out.append(value[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(out)
        out.append(c)
        i += 1
    return None


def _cwjap_code(lines: list[str]) -> int | None:
    """The reason of a failed join: ``+CWJAP:2`` -> 2 (it comes before ``ERROR``)."""
    for line in lines:
        value = line.removeprefix("+CWJAP:").strip()
        if line.startswith("+CWJAP:") and value.isdigit():
            return int(value)
    return None


def _is_busy(exc: ATCommandError) -> bool:
    return exc.final.text == BUSY


def _open_failure(reason: str, elapsed: float, timeout: float) -> str:
    """What a failed AT+WSOPEN says: when it failed decides which causes come first."""
    upgrade = (
        "it refused the upgrade (unknown charge-point id, or a wrong password: ESP-AT does "
        f"not show the HTTP 401), or it does not speak subprotocol {SUBPROTOCOL}"
    )
    if elapsed >= 0.9 * timeout:
        return (
            f"AT+WSOPEN -> {reason}: timed out after {elapsed:.0f} s (its {timeout:g} s "
            "<timeout_ms>). ESP-AT gives no reason; the usual ones: the CSMS is not reachable "
            f"from this Wi-Fi (host, port, firewall dropping packets), or {upgrade}"
        )
    return (
        f"AT+WSOPEN -> {reason} after {elapsed:.1f} s, refused before its {timeout:g} s "
        "timeout. ESP-AT gives no reason; the usual ones: nothing listens at that host and "
        f"port, the host name does not resolve, or {upgrade}"
    )


class EspAtModem:
    """An ESP-AT module on an :class:`ATDriver`.

    Typical use::

        modem = await EspAtModem.open("/dev/ttyUSB0", at_log="at.log")
        await modem.bring_up("lab-ap", "secret")
        ws = await modem.open_websocket("ws://csms:9000/ocpp/CP001", headers=[...])
        await ws.send('[2,"1","Heartbeat",{}]')
    """

    def __init__(
        self,
        driver: ATDriver,
        *,
        busy_backoff: Sequence[float] = (0.2, 0.5, 1.0),
        probe_within: float = 4.0,
        ready_timeout: float = 10.0,
        settle_timeout: float = SETTLE_TIMEOUT,
        baud: int | None = None,
    ):
        self.driver = driver
        self.baud = baud  # the UART's speed (None: unknown or USB), for transfer budgets
        self.busy_backoff = tuple(busy_backoff)
        self.probe_within = probe_within  # watchdog: AT retries for this long
        self.ready_timeout = ready_timeout  # watchdog: AT+RST until "ready"
        self.settle_timeout = settle_timeout
        self.dead: str | None = None  # set when even AT+RST brought no "ready"
        self.suspect = False  # a command timed out since the module last answered
        self.resets = 0  # AT+RST sent by the watchdog
        self.needs_init = True  # after open and after a module restart ("ready")
        self.wifi_up = False
        self._joined: tuple[str, str] | None = None  # credentials an AT+CWJAP here confirmed
        self._links: dict[int, EspAtWebSocket] = {}
        # link ids the module may still hold (unknown after open: a previous run's link)
        self._maybe_allocated = set(LINK_IDS)
        self._releasing: dict[int, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._ready = asyncio.Event()  # set by every "ready" (module restart)
        self._recovering: asyncio.Task[bool] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self.http = EspAtHttp(self, baud=baud)  # the module's HTTP client (reference B.6)
        self.tls = EspAtTls(self)  # certificates in its NVS and its clock (wss://)
        driver.add_urc_handler(self._on_urc)
        driver.add_lost_handler(self._on_lost)
        driver.start()

    @classmethod
    async def open(
        cls,
        port: str,
        baudrate: int = 115200,
        *,
        rtscts: bool = False,
        at_log: str | Path | None = None,
        timeouts: Mapping[str, float] | None = None,
    ) -> EspAtModem:
        """Open ``port`` (device or ``socket://host:port``) and check it answers ``AT``."""
        driver = await open_driver(
            port, ESP_AT, baudrate=baudrate, rtscts=rtscts, at_log=at_log, timeouts=timeouts
        )
        return cls(driver, baud=baudrate)

    async def aclose(self, budget: float = CLOSE_BUDGET) -> None:
        """Close every link (close frame, ``AT+WSCLOSE``), then the port.

        Bounded by ``budget`` seconds whatever the module does: a module that
        stopped answering must not keep a stopping charger alive (each command
        would otherwise wait out its own timeout).  Commands still running are
        cancelled with the port.
        """
        links = [ws for ws in self._links.values() if not ws.closing]
        if links and self.driver.lost is None and self.dead is None:
            try:
                async with asyncio.timeout(budget):
                    for ws in links:
                        with contextlib.suppress(ATError):
                            await ws.close()
            except TimeoutError:
                log.warning("links not closed within %g s: closing the port anyway", budget)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.driver.aclose()

    # -- commands ----------------------------------------------------------------

    async def command(self, command: str, timeout: float | None = None) -> Response:
        """``driver.command`` with the 256-byte limit checked and ``busy p...`` retried."""
        return await self._submit(command, None, timeout)

    async def command_with_payload(
        self, command: str, payload: bytes, timeout: float | None = None, note: str | None = None
    ) -> Response:
        """``note`` is shown in the AT trace instead of the bytes (what they carry)."""
        return await self._submit(command, payload, timeout, note)

    async def _submit(
        self, command: str, payload: bytes | None, timeout: float | None, note: str | None = None
    ) -> Response:
        size = command_bytes(command)
        if size > MAX_COMMAND:
            raise CommandTooLong(command.split("=", 1)[0], size, "shorten its parameters")
        retries = iter(self.busy_backoff)
        while True:
            try:
                if payload is None:
                    response = await self.driver.command(command, timeout)
                else:
                    response = await self.driver.send_payload(command, payload, timeout, note)
                self.suspect = False
                return response
            except ATTimeout:
                self.suspect = True
                raise
            except ATCommandError as exc:
                self.suspect = False  # it answered
                delay = next(retries, None) if _is_busy(exc) else None
                if delay is None:
                    raise
                log.info("%s; retrying in %g s", exc, delay)
                await asyncio.sleep(delay)

    # -- Wi-Fi -------------------------------------------------------------------

    async def initialise(self) -> None:
        """Echo off (ESP-AT has spliced URCs into echoes), station mode."""
        await self.command("ATE0")
        await self.command("AT+CWMODE=1")
        self.needs_init = False

    async def current_ssid(self) -> str | None:
        """The SSID the station is connected to (``AT+CWJAP?``), ``None`` if none."""
        value = (await self.command("AT+CWJAP?")).value("+CWJAP:")
        return None if value is None else _first_quoted(value)

    async def join_wifi(self, ssid: str, password: str) -> None:
        """``AT+CWJAP``; :class:`WifiError` naming the network and the reason on failure."""
        self._joined = None  # the module leaves its AP first: nothing is confirmed until OK
        try:
            await self.command(f"AT+CWJAP={quote(ssid)},{quote(password)}")
        except ATCommandError as exc:
            code = _cwjap_code(exc.lines)
            if code is None:
                reason = f"AT+CWJAP -> {exc.reason} (no +CWJAP:<code> given)"
            else:
                reason = f"{CWJAP_REASONS.get(code, 'unknown reason')} (+CWJAP:{code})"
            raise WifiError(ssid, reason, code) from exc
        except ATTimeout as exc:
            raise WifiError(
                ssid, f"no answer to AT+CWJAP within {exc.seconds:g} s; check the signal"
            ) from exc
        self.wifi_up = True
        self._joined = (ssid, password)

    async def bring_up(self, ssid: str, password: str) -> None:
        """Initialise after open or a restart; join ``ssid`` with ``password``.

        The first bring-up of this object always sends ``AT+CWJAP``, even if
        the module is already on ``ssid`` (it keeps its AP in flash): only a
        join checks the password, and a charger given credentials must find
        out at once when they are wrong.  Later bring-ups (after a module
        restart or a dropped link) keep an association those same credentials
        made, which spares a Wi-Fi re-join on every reconnect.
        """
        confirmed = self._joined == (ssid, password)
        if self.needs_init:
            await self.initialise()
            if confirmed and await self.current_ssid() == ssid:
                log.info('Wi-Fi: still connected to "%s"', ssid)
                self.wifi_up = True
        if not (confirmed and self.wifi_up):
            await self.join_wifi(ssid, password)

    # -- WebSocket links -----------------------------------------------------------

    @staticmethod
    def plan_open(
        url: str,
        headers: Sequence[tuple[str, str]] = (),
        *,
        subprotocol: str = SUBPROTOCOL,
        link_id: int = 0,
        timeout: float = 20.0,
    ) -> tuple[str, list[bytes]]:
        """The ``AT+WSOPEN`` command and the ``AT+WSHEAD`` bodies, checked against the limits.

        Pure, so a link can refuse a bad URL or header when it is configured,
        before any port is opened.
        """
        if link_id not in LINK_IDS:
            raise ValueError(f"link_id must be 0..2, got {link_id}")
        if not url.startswith(("ws://", "wss://")):
            raise ValueError(f"{url!r}: ESP-AT opens only ws:// and wss:// URLs")
        timeout_ms = min(180_000, max(0, round(timeout * 1000)))
        command = f"AT+WSOPEN={link_id},{quote(url)},{quote(subprotocol)},{timeout_ms}"
        size = command_bytes(command)
        if size > MAX_COMMAND:
            raise CommandTooLong(
                f"AT+WSOPEN with the URL {url}",
                size,
                "shorten the CSMS URL or the charge-point id",
            )
        bodies: list[bytes] = []
        for name, value in headers:
            body = f"{name}: {value}".encode()
            if b"\r" in body or b"\n" in body:
                raise ValueError(f"header {name!r} contains a line break; AT+WSHEAD refuses it")
            if len(body) > MAX_COMMAND:  # the name only: the value may be a secret
                raise CommandTooLong(
                    f'the WebSocket header {name} ("{name}: <value>")',
                    len(body),
                    f"shorten the {name} value",
                    unit="AT+WSHEAD header",
                )
            bodies.append(body)
        return command, bodies

    async def open_websocket(
        self,
        url: str,
        *,
        headers: Sequence[tuple[str, str]] = (),
        subprotocol: str = SUBPROTOCOL,
        ping_interval: int = 10,
        ping_timeout: int = 120,
        buffer_size: int = MAX_BUFFER,
        link_id: int = 0,
        timeout: float = 20.0,
        tls: ModuleTls | None = None,
    ) -> EspAtWebSocket:
        """Configure and open link ``link_id``; return it once ``+WS_CONNECTED`` and ``OK``.

        ``tls`` (wss:// only): the auth mode and the files the module verifies and
        presents; they are stored, and the clock set, before AT+WSCFG (:mod:`.tls`).
        Without it a wss:// link runs with auth_mode 0 (nothing verified).

        ``headers`` go out with ``AT+WSHEAD`` (they are global in the module:
        all are cleared first).  Raises :class:`CommandTooLong` before writing
        anything, :class:`NoWebSocketSupport`, :class:`WebSocketOpenError`;
        :class:`ATRestarted` before writing anything if the module restarted since
        :meth:`bring_up` (bring it up again, then open).
        """
        open_command, bodies = self.plan_open(
            url, headers, subprotocol=subprotocol, link_id=link_id, timeout=timeout
        )
        if not 1 <= buffer_size <= MAX_BUFFER:
            raise ValueError(f"buffer_size must be 1..{MAX_BUFFER}, got {buffer_size}")
        if (pending := self._releasing.get(link_id)) is not None:
            await asyncio.shield(pending)  # a link in doubt is settled first
        if self.suspect:  # the last command went unanswered: is the module still there?
            await self.recover()
        if self.needs_init:  # it restarted (the watchdog's reset) since the bring-up
            raise ATRestarted(f"AT+WSOPEN={link_id}", "ready", self.driver.port)
        if link_id in self._links:
            raise WebSocketOpenError(url, f"link {link_id} is already open")
        if link_id in self._maybe_allocated:
            await self._free_stale(link_id, url)
        configure = f"AT+WSCFG={link_id},{ping_interval},{ping_timeout},{buffer_size}"
        if tls is not None and url.startswith("wss://"):
            await self.tls.prepare(tls)
            if tls.auth_mode:  # <pki_number>,<ca_number>: the single set, index 0
                configure += f",{int(tls.auth_mode)},0,0"
        else:
            tls = None
        try:
            await self.command(configure)
        except ATCommandError as exc:
            if _is_busy(exc):
                raise
            raise NoWebSocketSupport("AT+WSCFG") from exc
        await self.command("AT+WSHEAD=0")
        for body in bodies:
            await self.command_with_payload(f"AT+WSHEAD={len(body)}", body)
        ws = EspAtWebSocket(
            self, link_id, url, buffer_size=buffer_size, max_send=buffer_size - SEND_OVERHEAD
        )
        self._links[link_id] = ws
        self._maybe_allocated.add(link_id)
        try:
            await self._open(ws, open_command, timeout, tls)
        except BaseException:
            self.forget(ws)
            raise
        return ws

    async def _open(
        self, ws: EspAtWebSocket, command: str, timeout: float, tls: ModuleTls | None
    ) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            await self.command(command, timeout=timeout + 5.0)
        except ATCommandError as exc:
            self._maybe_allocated.discard(ws.link_id)  # "Failure: ERROR, link cleaned up"
            elapsed = loop.time() - start
            if tls is not None and elapsed < 0.9 * timeout:
                host = urlsplit(ws.url).hostname or ws.url
                why = tls_open_failure(exc.reason, host, tls, self.tls.clock, elapsed)
            else:
                why = _open_failure(exc.reason, elapsed, timeout)
            raise WebSocketOpenError(ws.url, why) from exc
        try:
            async with asyncio.timeout(2.0):  # it precedes OK on the wire: normally set already
                await ws.connected.wait()
        except TimeoutError:
            await self.release(ws.link_id)
            raise WebSocketOpenError(ws.url, "AT+WSOPEN -> OK without +WS_CONNECTED") from None

    async def _free_stale(self, link_id: int, url: str) -> None:
        """``AT+WSOPEN?``; ``AT+WSCLOSE`` a link still held (a previous run, a lost release)."""
        try:
            states = (await self.command("AT+WSOPEN?")).values("+WSOPEN:")
        except ATCommandError:
            return  # answered by AT+WSCFG's ERROR next, which says why
        except ATTimeout:
            # Not even a query is answered: the watchdog decides (it resets the module,
            # which frees every link, or raises ModuleUnresponsive).
            if await self.recover():
                return
            states = (await self.command("AT+WSOPEN?")).values("+WSOPEN:")
        if any(_link_id("+WSOPEN:" + s) == link_id for s in states):
            log.info("link %d is still held by the module; closing it", link_id)
            if not await self._settle(link_id):
                raise WebSocketOpenError(
                    url, f"link {link_id} is still held by the module and AT+WSCLOSE failed"
                )
        self._maybe_allocated.discard(link_id)

    async def send_frame(self, link_id: int, data: bytes, opcode: int = 1) -> None:
        """One frame: ``AT+WSSEND=<id>,<len>[,<opcode>]``, the bytes after the prompt."""
        command = f"AT+WSSEND={link_id},{len(data)}" + ("" if opcode == 1 else f",{opcode}")
        await self.command_with_payload(command, data)

    async def release(self, link_id: int, timeout: float | None = None) -> None:
        """``AT+WSCLOSE``: free the link in the module (errors logged: it may be gone).

        A link not confirmed closed (no answer, ``busy p...``) stays in doubt: the
        next open of that id settles it first.
        """
        try:
            await self.command(f"AT+WSCLOSE={link_id}", timeout)
        except ATCommandError as exc:
            if _is_busy(exc):
                log.warning("link %d not released (module busy); settled before reopening", link_id)
                return
            log.info("%s (link already gone)", exc)
        except ATRestarted:
            pass  # a restart frees every link
        except ATError as exc:
            log.warning("link %d not released: %s", link_id, exc)
            return
        self._maybe_allocated.discard(link_id)

    async def _settle(self, link_id: int) -> bool:
        """Make sure the module no longer holds ``link_id``: ``AT+WSCLOSE`` until it answers.

        ``busy p...`` (the module is still in the command that went wrong) is
        retried for up to :attr:`settle_timeout`; no answer at all, or a module
        busy for longer, goes to the watchdog.  True once the link is free.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settle_timeout
        delays = iter((0.2, 0.5, 1.0, 2.0))
        unanswered = 0
        while self.driver.lost is None:
            try:
                await self.driver.command(f"AT+WSCLOSE={link_id}")
            except ATCommandError as exc:
                if not _is_busy(exc):  # ERROR: nothing open under that id
                    log.info("%s (link already gone)", exc)
                    break
                if loop.time() >= deadline:
                    log.warning("link %d: module busy for %g s", link_id, self.settle_timeout)
                    if await self.recover(force=True):
                        break
                    continue
                await asyncio.sleep(next(delays, 2.0))
                continue
            except ATRestarted:
                break  # the restart freed it
            except ATTimeout as exc:
                log.warning("link %d: %s; checking the module", link_id, exc)
                self.suspect = True
                unanswered += 1
                # It answers AT but not AT+WSCLOSE twice running: reset it all the same.
                if await self.recover(force=unanswered >= 2):
                    break  # reset: every link is free
                continue  # it answers AT again: try AT+WSCLOSE once more
            except ATError as exc:  # the port is gone
                log.warning("link %d not released: %s", link_id, exc)
                return False
            self.suspect = False
            break
        else:
            return False
        self._maybe_allocated.discard(link_id)
        log.info("link %d closed in the module; it can be opened again", link_id)
        return True

    def link_in_doubt(self, ws: EspAtWebSocket) -> None:
        """A command on ``ws`` went unanswered: nobody knows what the module holds.

        The stream has ended already; the link is closed in the module in the
        background (the next open of that id waits for it), which also tells the
        CSMS, whose WebSocket the module would otherwise keep up.
        """
        self.forget(ws)
        self._maybe_allocated.add(ws.link_id)
        self._settle_later(ws.link_id)

    def release_later(self, ws: EspAtWebSocket | None, link_id: int | None = None) -> None:
        """Release in the background; the next open of that id waits for it."""
        if ws is not None:
            self.forget(ws)
            link_id = ws.link_id
        if link_id is None:
            return
        self._maybe_allocated.add(link_id)
        self._settle_later(link_id)

    def _settle_later(self, link_id: int) -> None:
        if link_id in self._releasing or self.driver.lost is not None:
            return

        async def settle() -> None:
            try:
                await self._settle(link_id)
            except ATError as exc:  # the next open (or connect) meets it again
                log.warning("link %d not settled: %s", link_id, exc)

        task = self.spawn(settle())
        self._releasing[link_id] = task
        task.add_done_callback(lambda _: self._releasing.pop(link_id, None))

    # -- watchdog ----------------------------------------------------------------

    async def recover(self, *, force: bool = False) -> bool:
        """The watchdog: ``AT`` retries; no answer (or ``force``): ``AT+RST``, wait for ``ready``.

        Returns True if the module was reset (its links and Wi-Fi are gone, the
        next :meth:`bring_up` initialises it again), False if it answers.
        Raises :class:`ModuleUnresponsive` when not even ``AT+RST`` brings
        ``ready``: only a power cycle (or reopening the port) can help then.
        Concurrent callers share one recovery.
        """
        if self._recovering is None or self._recovering.done():
            task = asyncio.get_running_loop().create_task(self._recover(force))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._recovering = task
        return await asyncio.shield(self._recovering)

    def start_watchdog(self, interval: float) -> None:
        """Check a silent module every ``interval`` s while a link is open (idempotent).

        ESP-AT answers pings itself, so an idle link shows nothing on the port
        and a hung module would go unnoticed until the next send.  After
        ``interval`` s without a byte from the module, ``AT``; no answer goes to
        :meth:`recover` (``AT`` retries, ``AT+RST``), whose reset ends the links;
        their streams report it and the charger reconnects.
        """
        if self._watchdog is None and interval > 0:
            self._watchdog = self.spawn(self._watch(interval))

    async def _watch(self, interval: float) -> None:
        heard = self.driver.bytes_received
        while self.driver.lost is None and self.dead is None:
            await asyncio.sleep(interval)
            if heard != self.driver.bytes_received or not self._links or self.suspect:
                heard = self.driver.bytes_received
                continue
            try:
                await self.command("AT", timeout=min(2.0, self.driver.dialect.default_timeout))
            except ATTimeout as exc:
                log.warning("%s: %s on an idle link; checking the module", self.driver.port, exc)
                try:
                    await self.recover()  # a reset ends the links (the "ready" URC)
                except ATError as failure:
                    self._end_links(f"the ESP-AT module stopped answering: {failure}")
            except ATError:
                pass  # it answered (busy p..., ERROR) or the port is gone
            heard = self.driver.bytes_received

    async def _recover(self, force: bool) -> bool:
        if self.dead is not None:
            raise ModuleUnresponsive(self.dead)
        if not force:
            try:
                await self.driver.probe(within=self.probe_within)
            except ATPortError:
                if self.driver.lost is not None:
                    raise
            else:
                self.suspect = False
                return False
            log.warning(
                "%s: no answer to AT within %g s; resetting the module (AT+RST)",
                self.driver.port,
                self.probe_within,
            )
        self.resets += 1
        self._ready.clear()
        # A hung module may not answer AT+RST either, yet reset; only "ready" counts.
        with contextlib.suppress(ATError):
            await self.driver.command("AT+RST", timeout=2.0)
        try:
            async with asyncio.timeout(self.ready_timeout):
                await self._ready.wait()
        except TimeoutError:
            self.suspect = True
            self.dead = (
                f"{self.driver.port}: the ESP-AT module answers neither AT nor AT+RST "
                f"(no ready within {self.ready_timeout:g} s); power-cycle it"
            )
            raise ModuleUnresponsive(self.dead) from None
        self.suspect = False
        log.warning("%s: module reset by the watchdog; bringing it up again", self.driver.port)
        return True

    def forget(self, ws: EspAtWebSocket) -> None:
        if self._links.get(ws.link_id) is ws:
            del self._links[ws.link_id]

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- URCs --------------------------------------------------------------------

    def _on_urc(self, urc: Urc) -> None:
        text = urc.text
        if text.startswith("+WS_"):
            self._on_ws_urc(text, urc.data)
        elif text == TIME_UPDATED:
            self.tls.on_time_updated()
        elif text == "WIFI DISCONNECT":
            self.wifi_up = False
        elif text == "WIFI GOT IP":
            self.wifi_up = True
        elif text in self.driver.dialect.restart_urcs:
            self._restarted()

    def _on_ws_urc(self, text: str, data: bytes | None) -> None:
        link_id = _link_id(text)
        if link_id is None:
            log.warning("%s not understood", text)
            return
        ws = self._links.get(link_id)
        if text.startswith("+WS_DATA:"):
            if ws is not None and data is not None:
                ws.on_data(data)
            else:
                log.info("%d bytes for link %d, which is not open here", len(data or b""), link_id)
        elif text.startswith("+WS_CONNECTED:"):
            if ws is not None:
                ws.connected.set()
            else:  # the module reconnected a link we abandoned
                log.info("%s for a link not open here; releasing it", text)
                self.release_later(None, link_id)
        elif text.startswith("+WS_DISCONNECTED:"):
            # The module keeps the link and may reconnect it by itself: release it.
            if ws is not None:
                ws.on_disconnected()
            self.release_later(ws, link_id)
        elif text.startswith("+WS_CLOSED:"):
            self._maybe_allocated.discard(link_id)  # freed by the module
            if ws is not None:
                ws.on_closed()
                self.forget(ws)

    def _restarted(self) -> None:
        self._ready.set()
        self.tls.on_restart()
        self.suspect = False
        self.needs_init = True
        self.wifi_up = False
        self._maybe_allocated.clear()  # a reboot frees every link
        self._end_links("ESP-AT module restarted (ready): Wi-Fi and WebSocket links are gone")

    def _on_lost(self, reason: str) -> None:
        self._end_links(f"modem port lost: {reason}")

    def _end_links(self, reason: str) -> None:
        for ws in list(self._links.values()):
            ws.end(reason)
        self._links.clear()
