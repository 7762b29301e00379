"""Quectel QI dialect: SIM, registration, PDP context and TCP sockets over AT.

The sequence follows the EC200U TCP/IP application note and what TinyGSM and
Zephyr do in the field (see shared/reference/modem-at.md, sections A and C),
minus their known traps: no Ctrl+Z send form, a QIRD drain loop after each
recv URC, ``AT+QICLOSE`` after a peer close, and PDP recovery after
``pdpdeact``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from modem.at import (
    ATCommandError,
    ATDriver,
    ATError,
    ATPortError,
    ATRestarted,
    ATTimeout,
    Urc,
)
from modem.serialport import open_driver

from .dialect import QUECTEL, qi_reason
from .errors import (
    ActivationError,
    ModemUnresponsive,
    QuectelError,
    RegistrationError,
    SimError,
    SocketOpenError,
)
from .ssl import QuectelSslSocket, TlsOpenError
from .tcp import QuectelSocket

log = logging.getLogger(__name__)

_REG_STATES = {
    0: "not registered, not searching",
    1: "registered (home)",
    2: "searching",
    3: "registration denied",
    4: "unknown",
    5: "registered (roaming)",
}


@dataclass(frozen=True)
class ModemIdentity:
    """What BootNotification reports about the modem and its SIM."""

    manufacturer: str
    model: str
    revision: str
    imei: str
    iccid: str | None
    imsi: str | None


@dataclass(frozen=True)
class Registration:
    """How the modem is attached: ``command`` is ``+CEREG`` (LTE) or ``+CGREG`` (2G/3G)."""

    command: str
    stat: int

    @property
    def roaming(self) -> bool:
        return self.stat == 5


@dataclass
class _Context:
    ctx: int
    apn: str
    user: str
    password: str
    auth: int
    needs_recovery: bool = False


# +QIOPEN codes meaning the PDP context is not usable: 561 opening failed, 570 broken down.
_CONTEXT_DOWN = (561, 570)


def _args(urc_text: str) -> list[str]:
    """``+QIURC: "recv",1`` -> ``["recv", "1"]``."""
    return [a.strip().strip('"') for a in urc_text.split(":", 1)[1].split(",")]


def _quoted(name: str, value: str) -> str:
    # AT strings have no escape for a double quote; refuse rather than mangle.
    if '"' in value or "\r" in value or "\n" in value:
        raise ValueError(f"{name} must not contain quotes or line breaks: {value!r}")
    return f'"{value}"'


class QuectelModem:
    """A Quectel modem (EC200U and family) on an :class:`ATDriver`.

    Typical use::

        modem = await QuectelModem.open("/dev/ttyUSB2", at_log="at.log")
        await modem.bring_up(apn="internet")
        ident = await modem.identity()
        sock = await modem.open_tcp("csms.example.com", 80)
    """

    def __init__(
        self,
        driver: ATDriver,
        *,
        poll_interval: float = 10.0,
        send_backoff: Sequence[float] = (0.2, 0.5, 1.0, 2.0),
        at_attempts: int = 3,
        boot_timeout: float = 60.0,
    ) -> None:
        self.driver = driver
        # The watchdog (revive): AT this many times, then AT+CFUN=1,1 and RDY within
        # boot_timeout seconds.
        self.at_attempts = at_attempts
        self.boot_timeout = boot_timeout
        self.resets = 0
        self.poll_interval = poll_interval
        self.send_backoff = tuple(send_backoff)
        self._contexts: dict[int, _Context] = {}
        self._sockets: dict[int, QuectelSocket] = {}
        self._open_waiters: dict[int, asyncio.Future[int]] = {}
        # recv/closed URCs that beat open_tcp() to registering the socket
        self._early: dict[int, set[str]] = {}
        self.restarted = False
        self.boots = 0  # RDY / POWERED DOWN seen: what the module was told is gone (QSSLCFG)
        # How long recover() waits for the network after a reboot or a lost
        # registration (bring_up() sets it from its own argument).
        self.registration_timeout = 120.0
        self.registration_poll = 2.0
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
        poll_interval: float = 10.0,
        timeouts: Mapping[str, float] | None = None,
    ) -> QuectelModem:
        """Open ``port`` (device or ``socket://host:port``), check it answers ``AT``.

        ``timeouts`` overrides the per-command table, e.g. ``{"AT+QIACT=": 60}``.
        """
        driver = await open_driver(
            port, QUECTEL, baudrate=baudrate, rtscts=rtscts, at_log=at_log, timeouts=timeouts
        )
        return cls(driver, poll_interval=poll_interval)

    async def aclose(self) -> None:
        """Close every socket, then the port.  The PDP context is left as it is."""
        for sock in list(self._sockets.values()):
            with contextlib.suppress(ATError):
                await sock.close()
        await self.driver.aclose()

    # -- watchdog ----------------------------------------------------------

    async def revive(self) -> bool:
        """A command timed out: is the module still answering?  ``AT`` up to
        ``at_attempts`` times; if none gets ``OK``, reset it with ``AT+CFUN=1,1`` and
        wait for ``RDY``.  True if it was reset (sockets and context are then gone and
        the next :meth:`open_tcp` brings them back); False if it answered ``AT``.

        Raises :class:`ModemUnresponsive` if the reset brings no ``RDY``.
        """
        attempt = self.driver.timeout_for("AT")
        try:
            await self.driver.probe(within=self.at_attempts * attempt, attempt=attempt)
            return False
        except ATPortError:
            if self.driver.lost is not None:
                raise
        log.warning(
            "%s: no OK to %d x AT; resetting the module (AT+CFUN=1,1)",
            self.driver.port,
            self.at_attempts,
        )
        await self.reset()
        return True

    async def reset(self) -> None:
        """``AT+CFUN=1,1`` and wait up to ``boot_timeout`` for ``RDY``.

        A hung module may execute the reset without answering ``OK``, so a missing
        answer is not a failure; a missing ``RDY`` is.
        """
        rebooted = asyncio.Event()
        restart_urcs = self.driver.dialect.restart_urcs

        def on_urc(urc: Urc) -> None:
            if urc.text in restart_urcs:
                rebooted.set()

        remove = self.driver.add_urc_handler(on_urc)
        try:
            self.driver.trace.note("watchdog: the module does not answer; AT+CFUN=1,1")
            with contextlib.suppress(ATTimeout, ATRestarted):
                await self.driver.command("AT+CFUN=1,1")
            try:
                async with asyncio.timeout(self.boot_timeout):
                    await rebooted.wait()
            except TimeoutError:
                raise ModemUnresponsive(
                    f"{self.driver.port}: no RDY within {self.boot_timeout:g} s after "
                    "AT+CFUN=1,1 (the module answers nothing): power-cycle the modem"
                ) from None
        finally:
            remove()
        self.resets += 1
        self.restarted = True  # the RDY handler said so too; initialise() on the next open

    # -- bring-up ----------------------------------------------------------

    async def initialise(self) -> None:
        """Echo off, verbose errors, no payload echo, then insist on a ready SIM."""
        await self.driver.command("ATE0")
        await self.driver.command("AT+CMEE=2")
        try:
            await self.driver.command("AT+QISDE=0")
        except ATCommandError as exc:
            log.warning("%s (payload echo may stay on)", exc)
        await self.check_sim()
        self.restarted = False

    async def check_sim(self, busy_retries: int = 5) -> None:
        """``AT+CPIN?`` until ``READY``; :class:`SimError` saying what to do otherwise."""
        for attempt in range(busy_retries + 1):
            try:
                response = await self.driver.command("AT+CPIN?")
            except ATCommandError as exc:
                text = exc.reason.lower()
                if exc.cme_code == 14 or "busy" in text:
                    if attempt < busy_retries:
                        await asyncio.sleep(1.0)  # the SIM is still booting
                        continue
                    raise SimError(f"{exc}: the SIM stays busy; reseat it or power-cycle") from exc
                if exc.cme_code in (11, 12) or "pin required" in text or "puk required" in text:
                    raise SimError(
                        f"{exc}: the SIM is locked; remove its PIN (or unblock it with the "
                        "PUK) in a phone"
                    ) from exc
                if exc.cme_code == 10 or "not inserted" in text:
                    raise SimError(
                        f"{exc}: no SIM detected; insert the SIM card (contacts down) "
                        "and power-cycle the modem"
                    ) from exc
                raise SimError(f"{exc}: SIM problem; check the SIM card") from exc
            state = response.value("+CPIN:") or ""
            if state == "READY":
                return
            if "PUK" in state:
                raise SimError(
                    f"AT+CPIN? -> +CPIN: {state}: the SIM is blocked; unblock it with "
                    "its PUK in a phone"
                )
            if "PIN" in state:
                raise SimError(
                    f"AT+CPIN? -> +CPIN: {state}: the SIM asks for a PIN; remove the PIN "
                    "lock in a phone (this simulator does not enter PINs)"
                )
            raise SimError(f"AT+CPIN? -> +CPIN: {state}: SIM not ready")

    async def identity(self) -> ModemIdentity:
        """Manufacturer, model, firmware, IMEI, ICCID and IMSI (the last two ``None`` if
        the SIM does not answer)."""
        lines = (await self.driver.command("ATI")).lines
        revision = _bare([ln for ln in lines if ln.startswith("Revision:")], "Revision:")
        if not revision:
            revision = _bare((await self.driver.command("AT+CGMR")).lines, "+CGMR:")
        imei = _bare((await self.driver.command("AT+CGSN")).lines, "+CGSN:")
        iccid = await self._optional("AT+QCCID", "+QCCID:")
        imsi = await self._optional("AT+CIMI", "+CIMI:")
        return ModemIdentity(
            manufacturer=lines[0] if lines else "",
            model=lines[1] if len(lines) > 1 else "",
            revision=revision,
            imei=imei,
            iccid=iccid.rstrip("Ff") if iccid else None,
            imsi=imsi,
        )

    async def _optional(self, command: str, prefix: str) -> str | None:
        try:
            return _bare((await self.driver.command(command)).lines, prefix) or None
        except ATCommandError as exc:
            log.warning("%s; reported as unknown", exc)
            return None

    async def signal(self) -> tuple[int, int]:
        """``AT+CSQ`` -> (rssi, ber); rssi 99 = unknown, dBm = -113 + 2 * rssi."""
        value = (await self.driver.command("AT+CSQ")).value("+CSQ:") or "99,99"
        rssi, ber = (int(v) for v in value.split(",")[:2])
        return rssi, ber

    async def wait_registered(self, timeout: float = 120.0, poll: float = 2.0) -> Registration:
        """Poll ``AT+CEREG?`` and ``AT+CGREG?`` until stat 1 (home) or 5 (roaming)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen: dict[str, int] = {}
        while True:
            for name in ("+CEREG", "+CGREG"):
                try:
                    value = (await self.driver.command(f"AT{name}?")).value(name + ":")
                except ATCommandError:
                    continue  # not every firmware has both
                fields = (value or "").split(",")
                if len(fields) >= 2 and fields[1].strip().isdigit():
                    seen[name] = int(fields[1])
                    if seen[name] in (1, 5):
                        return Registration(name, seen[name])
            states = ", ".join(f"{n}: {_REG_STATES.get(s, s)}" for n, s in seen.items())
            if 3 in seen.values():
                raise RegistrationError(
                    f"registration denied by the network ({states}); the SIM is not allowed "
                    "on this network or has no data plan: check with the operator"
                )
            if loop.time() + poll > deadline:
                break
            await asyncio.sleep(poll)
        try:
            rssi, _ = await self.signal()
            signal = "unknown" if rssi == 99 else f"{-113 + 2 * rssi} dBm"
        except (ATError, ValueError):
            signal = "unknown"
        raise RegistrationError(
            f"not registered within {timeout:g} s ({states or 'no answer'}; signal {signal}); "
            "check the antenna, coverage and that the SIM is activated"
        )

    async def activate(
        self, ctx: int = 1, apn: str = "", user: str = "", password: str = "", auth: int = 0
    ) -> str:
        """Configure and activate PDP context ``ctx``; return its IP address.

        Skips ``AT+QIACT`` when ``AT+QIACT?`` already shows the context active,
        and deactivates first when a ``pdpdeact`` left the context half-dead.
        """
        settings = f"{_quoted('apn', apn)},{_quoted('user', user)},{_quoted('password', password)}"
        previous = self._contexts.get(ctx)
        # The recovery mark stays until AT+QIACT has worked: a failed attempt (the
        # modem still registering after a reboot) must be retried on the next open.
        context = _Context(
            ctx, apn, user, password, auth, previous is not None and previous.needs_recovery
        )
        self._contexts[ctx] = context
        if context.needs_recovery:
            await self._deactivate_quietly(ctx)
        await self.driver.command(f"AT+QICSGP={ctx},1,{settings},{auth}")
        address = await self.address(ctx)
        if address is None:
            try:
                await self.driver.command(f"AT+QIACT={ctx}")
            except ATCommandError as exc:
                raise ActivationError(apn, await self.explain(exc)) from exc
            address = await self.address(ctx)
            if address is None:
                raise ActivationError(
                    apn, f"AT+QIACT={ctx} -> OK but AT+QIACT? lists no context {ctx}"
                )
        context.needs_recovery = False
        return address

    async def address(self, ctx: int = 1) -> str | None:
        """The IP address of ``ctx`` if ``AT+QIACT?`` lists it active, else ``None``."""
        for value in (await self.driver.command("AT+QIACT?")).values("+QIACT:"):
            fields = [f.strip().strip('"') for f in value.split(",")]
            if len(fields) >= 2 and fields[0] == str(ctx) and fields[1] == "1":
                return fields[3] if len(fields) > 3 else ""
        return None

    async def deactivate(self, ctx: int = 1) -> None:
        """``AT+QIDEACT``: ends the data session; every socket on ``ctx`` closes."""
        self._end_sockets(ctx, f"AT+QIDEACT={ctx}: data session ended by this host")
        await self.driver.command(f"AT+QIDEACT={ctx}")
        if ctx in self._contexts:
            self._contexts[ctx].needs_recovery = False

    async def recover(self, ctx: int = 1) -> str:
        """After ``pdpdeact``, a modem restart or a ``+QIOPEN`` 561/570: activate ``ctx`` again.

        Re-initialises a restarted modem, waits (up to ``registration_timeout``)
        for the network, since after a reboot or a lost registration AT+QIACT
        fails until the modem is registered again, then ``AT+QIDEACT`` and
        ``AT+QIACT``.  If any step fails the context stays marked, so the next
        :meth:`open_tcp` tries again instead of opening on a dead context.
        """
        context = self._contexts.get(ctx)
        if context is None:
            raise ActivationError("?", f"context {ctx} was never activated; call activate() first")
        context.needs_recovery = True
        if self.restarted:
            await self.initialise()
        await self.wait_registered(self.registration_timeout, self.registration_poll)
        return await self.activate(ctx, context.apn, context.user, context.password, context.auth)

    async def _deactivate_quietly(self, ctx: int) -> None:
        try:
            await self.driver.command(f"AT+QIDEACT={ctx}")
        except ATCommandError as exc:
            log.info("%s (context already down)", exc)

    def needs_recovery(self, ctx: int = 1) -> bool:
        context = self._contexts.get(ctx)
        return context is not None and context.needs_recovery

    async def bring_up(
        self,
        apn: str,
        user: str = "",
        password: str = "",
        auth: int = 0,
        ctx: int = 1,
        registration_timeout: float = 120.0,
    ) -> str:
        """``initialise`` + ``wait_registered`` + ``activate``; returns the IP address."""
        self.registration_timeout = registration_timeout
        await self.initialise()
        await self.wait_registered(registration_timeout)
        return await self.activate(ctx, apn, user, password, auth)

    # -- sockets -----------------------------------------------------------

    async def open_tcp(
        self, host: str, port: int, connect_id: int = 0, ctx: int = 1, timeout: float = 150.0
    ) -> QuectelSocket:
        """Open a buffer-mode TCP socket; wait up to ``timeout`` s for ``+QIOPEN``.

        Re-activates ``ctx`` first if the network dropped it since.
        """
        if not 0 <= connect_id <= 11:
            raise ValueError(f"connect_id must be 0..11, not {connect_id}")
        if not 0 < port < 65536:
            raise ValueError(f"port must be 1..65535, not {port}")
        command = f'AT+QIOPEN={ctx},{connect_id},"TCP",{_quoted("host", host)},{port},0,0'
        if self.needs_recovery(ctx) or self.restarted:
            log.info("re-activating PDP context %d before opening %s:%d", ctx, host, port)
            await self.recover(ctx)
        await self._free_id(connect_id)
        self._early.pop(connect_id, None)
        recovered = freed = False
        while (code := await self._qiopen(command, connect_id, host, port, timeout)) != 0:
            with contextlib.suppress(ATError):
                await self.close_id(connect_id)
            reason = f"+QIOPEN: {connect_id},{qi_reason(code)}"
            if code in _CONTEXT_DOWN and ctx in self._contexts:
                # The modem says the data session is gone (no pdpdeact URC seen, or a
                # recovery that failed earlier): re-activate it, now or on the next open.
                self._contexts[ctx].needs_recovery = True
                if recovered:
                    raise SocketOpenError(host, port, reason, code)
                log.warning("%s; re-activating PDP context %d", reason, ctx)
                await self.recover(ctx)
                recovered = True
            elif code == 563 and not freed:
                freed = True  # the ID was still allocated; AT+QICLOSE has freed it
            else:
                raise SocketOpenError(host, port, reason, code)
        sock = QuectelSocket(
            self,
            connect_id,
            ctx,
            host,
            port,
            poll_interval=self.poll_interval,
            send_backoff=self.send_backoff,
        )
        self._sockets[connect_id] = sock
        sock.start()
        early = self._early.pop(connect_id, set())
        if "closed" in early:
            sock.notify_closed()
        elif "recv" in early:
            sock.notify_recv()
        return sock

    def free_connect_id(self, avoid: Collection[int] = ()) -> int:
        """The lowest connectID no open socket of this driver holds, skipping ``avoid``.

        A second socket on the same PDP context (a firmware download while the OCPP
        WebSocket stays up, modem-at.md A.16 (a)) takes this one; ``avoid`` keeps the
        ID the WebSocket reconnects on even while it is momentarily closed.  IDs are
        0..11 (A.3); :class:`QuectelError` when all are taken.
        """
        for connect_id in range(12):
            if connect_id not in self._sockets and connect_id not in avoid:
                return connect_id
        raise QuectelError(f"{self.driver.port}: all 12 connectIDs are in use")

    async def _qiopen(
        self,
        command: str,
        connect_id: int,
        host: str,
        port: int,
        timeout: float,
        urc: str = "+QIOPEN:",
    ) -> int:
        waiter = asyncio.get_running_loop().create_future()
        self._open_waiters[connect_id] = waiter
        try:
            try:
                response = await self.driver.command(command)
            except ATCommandError as exc:
                raise SocketOpenError(host, port, await self.explain(exc)) from exc
            for value in response.values(urc):  # came before OK: taken as a response
                self._resolve_open(value)
            try:
                return await asyncio.wait_for(waiter, timeout)
            except TimeoutError:
                with contextlib.suppress(ATError):
                    if urc == "+QIOPEN:":
                        await self.close_id(connect_id)
                    else:
                        await self.close_ssl_id(connect_id)
                raise SocketOpenError(
                    host, port, f"no {urc} {connect_id},<err> within {timeout:g} s"
                ) from None
        finally:
            self._open_waiters.pop(connect_id, None)

    async def open_ssl(
        self,
        host: str,
        port: int,
        client_id: int = 0,
        ctx: int = 1,
        sslctx: int = 1,
        timeout: float = 150.0,
    ) -> QuectelSslSocket:
        """``AT+QSSLOPEN`` in buffer mode on SSL context ``sslctx`` (configured by
        :func:`modem.quectel.ssl.prepare_tls`); :class:`TlsOpenError` with the
        ``+QSSLOPEN`` code (566 for any handshake failure) otherwise.

        Client IDs are taken to share the 0..11 space of the QI connectIDs (A.16:
        **verify**): one dict holds both, so a transfer never takes the OCPP link's.
        """
        if not 0 <= client_id <= 11:
            raise ValueError(f"client_id must be 0..11, not {client_id}")
        if not 0 < port < 65536:
            raise ValueError(f"port must be 1..65535, not {port}")
        command = f"AT+QSSLOPEN={ctx},{sslctx},{client_id},{_quoted('host', host)},{port},0"
        if self.needs_recovery(ctx) or self.restarted:
            await self.recover(ctx)
        old = self._sockets.get(client_id)
        if old is not None:
            await old.close()
        self._early.pop(client_id, None)
        try:
            code = await self._qiopen(command, client_id, host, port, timeout, "+QSSLOPEN:")
        except SocketOpenError as exc:
            raise TlsOpenError(host, port, exc.reason, exc.code) from exc
        if code != 0:
            with contextlib.suppress(ATError):
                await self.close_ssl_id(client_id)
            if code in _CONTEXT_DOWN and ctx in self._contexts:
                self._contexts[ctx].needs_recovery = True
            raise TlsOpenError(host, port, f"+QSSLOPEN: {client_id},{qi_reason(code)}", code)
        sock = QuectelSslSocket(
            self,
            client_id,
            ctx,
            host,
            port,
            poll_interval=self.poll_interval,
            send_backoff=self.send_backoff,
        )
        self._sockets[client_id] = sock
        sock.start()
        early = self._early.pop(client_id, set())
        if "closed" in early:
            sock.notify_closed()
        elif "recv" in early:
            sock.notify_recv()
        return sock

    async def close_ssl_id(self, client_id: int) -> None:
        """``AT+QSSLCLOSE``; errors are logged, since the ID is usually gone already."""
        try:
            await self.driver.command(f"AT+QSSLCLOSE={client_id}")
        except ATCommandError as exc:
            log.info("%s (TLS client already gone)", exc)

    async def _free_id(self, connect_id: int) -> None:
        """Close whatever still holds ``connect_id`` (ours, or left by an earlier run)."""
        old = self._sockets.get(connect_id)
        if old is not None:
            await old.close()  # returns once its AT+QICLOSE has its result
            if not old.release_unsure:
                return
        try:
            states = (await self.driver.command(f"AT+QISTATE=1,{connect_id}")).values("+QISTATE:")
        except ATCommandError:
            return
        if any(s.split(",")[0].strip() == str(connect_id) for s in states):
            log.info("connectID %d still allocated in the modem; closing it", connect_id)
            await self.close_id(connect_id)

    async def close_id(self, connect_id: int) -> None:
        """``AT+QICLOSE``; errors are logged, since the ID is usually gone already."""
        try:
            await self.driver.command(f"AT+QICLOSE={connect_id}")
        except ATCommandError as exc:
            log.info("%s (socket already gone)", exc)

    async def explain(self, exc: ATError) -> str:
        """The reason of a failed TCP/IP command, with ``AT+QIGETERROR``'s code if any."""
        if not isinstance(exc, ATCommandError) or exc.send_failed:
            return str(exc)
        try:
            value = (await self.driver.command("AT+QIGETERROR")).value("+QIGETERROR:")
        except ATError:
            return str(exc)
        code = (value or "").split(",")[0].strip()
        if not code.isdigit() or code == "0":
            return str(exc)
        return f"{exc} (AT+QIGETERROR: {qi_reason(int(code))})"

    def _forget(self, sock: QuectelSocket) -> None:
        if self._sockets.get(sock.connect_id) is sock:
            del self._sockets[sock.connect_id]

    def _end_sockets(self, ctx: int | None, reason: str) -> None:
        for sock in list(self._sockets.values()):
            if ctx is None or sock.ctx == ctx:
                sock.fail(reason, released=True)

    # -- URCs --------------------------------------------------------------

    def _on_urc(self, urc: Urc) -> None:
        text = urc.text
        if text.startswith(("+QIURC:", "+QSSLURC:")):
            args = _args(text)
            if len(args) >= 2 and args[0] in ("recv", "closed", "pdpdeact") and args[1].isdigit():
                self._on_qiurc(text, args[0], int(args[1]))
        elif text.startswith(("+QIOPEN:", "+QSSLOPEN:")):
            self._resolve_open(text.split(":", 1)[1])
        elif text in self.driver.dialect.restart_urcs:
            self.restarted = True
            self.boots += 1
            for context in self._contexts.values():
                context.needs_recovery = True
            reason = f"modem restarted ({text}): every socket is gone"
            self._end_sockets(None, reason)
            self._fail_open_waiters(reason)

    def _on_qiurc(self, text: str, kind: str, number: int) -> None:
        if kind == "pdpdeact":
            if number in self._contexts:
                self._contexts[number].needs_recovery = True
            self._end_sockets(
                number,
                f"{text}: the network dropped the data session (PDP context {number}); "
                f"AT+QIDEACT={number} then AT+QIACT={number} are needed before reopening",
            )
            return
        sock = self._sockets.get(number)
        if sock is None:
            log.info("%s for no open socket (yet)", text)
            self._early.setdefault(number, set()).add(kind)
        elif kind == "recv":
            sock.notify_recv()
        elif kind == "closed":
            sock.notify_closed()

    def _resolve_open(self, value: str) -> None:
        fields = [f.strip() for f in value.split(",")]
        if len(fields) < 2 or not (fields[0].isdigit() and fields[1].isdigit()):
            log.warning("+QIOPEN:%s not understood", value)
            return
        waiter = self._open_waiters.get(int(fields[0]))
        if waiter is not None and not waiter.done():
            waiter.set_result(int(fields[1]))

    def _on_lost(self, reason: str) -> None:
        self._end_sockets(None, f"modem port lost: {reason}")
        self._fail_open_waiters(f"port lost: {reason}")

    def _fail_open_waiters(self, reason: str) -> None:
        for waiter in self._open_waiters.values():
            if not waiter.done():
                waiter.set_exception(ATPortError(self.driver.port, reason))


def _bare(lines: list[str], prefix: str) -> str:
    """The first line's value, with an optional ``+XXX:`` prefix and quotes removed."""
    for line in lines:
        value = line[len(prefix) :] if line.startswith(prefix) else line
        value = value.strip().strip('"')
        if value:
            return value
    return ""
