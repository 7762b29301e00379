"""Quectel EC200U: dispatch, error forms, registration, boot and fault hooks."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from modem.emulator.atparse import Command, ParamError
from modem.emulator.dialect import CommandIO, Dialect, FaultError, Reply, error
from modem.emulator.ec200u import tcp
from modem.emulator.ec200u.profiles import PROFILES, initial_state
from modem.emulator.ec200u.state import CME_ERRORS, QiSocket
from modem.emulator.ec200u.table import HANDLERS, TCPIP_COMMANDS
from modem.emulator.ec200u.transfer import HttpTransfer
from modem.quectel.dialect import QI_ERRORS  # the codes and their texts, as the driver reads them

if TYPE_CHECKING:
    from modem.emulator.config import EmulatorConfig
    from modem.emulator.engine import Engine

log = logging.getLogger("modem.emulator.ec200u")

DEFAULT_PROMPT = b"\r\n>"  # AT+QICFG="formatcfg",0 (EC200U default, reference A.4)
CRLF_PROMPT = b"\r\n>\r\n"  # AT+QICFG="formatcfg",1


class Ec200u(Dialect):
    name = "ec200u"

    def __init__(self, engine: Engine, config: EmulatorConfig) -> None:
        super().__init__(engine, config)
        if config.profile not in PROFILES:
            raise ValueError(f"unknown profile {config.profile!r}; known: {', '.join(PROFILES)}")
        self.profile = PROFILES[config.profile]
        self.good_apns = frozenset(config.good_apns)
        self.timing = config.timing
        self._rng = random.Random(0xEC200)
        self.state = initial_state(self.profile, booted=True)
        # transfer faults waiting for the next HTTP transfer sockets (see transfer.py)
        self.http_violations: list[str] = []
        self.tls_failures = 0  # tls-fail fault: the next N QSSLOPEN handshakes fail (566)
        self.ntp_works = True  # no-network-time fault: False
        self._booted_at = time.monotonic()

    # -- dispatch ------------------------------------------------------------
    async def execute(self, cmd: Command, io: CommandIO) -> Reply:
        handler = HANDLERS.get(cmd.name)
        if handler is None:
            log.info("unknown command AT%s", cmd.name)
            return error()
        tcpip = cmd.name in TCPIP_COMMANDS
        if tcpip:
            self.state.last_error = 0
        try:
            return await handler(self, cmd, io)
        except ParamError as exc:
            log.info("%s", exc)
            return self.qi_error(552) if tcpip else error()

    def qi_error(self, code: int) -> Reply:
        """Plain ``ERROR``; the reason is only visible through AT+QIGETERROR."""
        self.state.last_error = code
        return error()

    def cme_error(self, code: int) -> Reply:
        """``+CME ERROR`` in the form AT+CMEE selects (0: plain ERROR)."""
        if self.state.cmee == 0:
            return error()
        if self.state.cmee == 1:
            return Reply(final=f"+CME ERROR: {code}".encode())
        return Reply(final=f"+CME ERROR: {CME_ERRORS.get(code, 'unknown')}".encode())

    @staticmethod
    def qi_error_text(code: int) -> str:
        return QI_ERRORS.get(code, "unknown error")

    @property
    def prompt(self) -> bytes:
        if self.state.qicfg["formatcfg"][0] == 1:
            return CRLF_PROMPT
        return self.config.prompt or DEFAULT_PROMPT

    async def net_delay(self, seconds: float) -> None:
        """Network-side waits, stretched by the profile (weak signal retransmits)."""
        await asyncio.sleep(seconds * self.profile.slowdown)

    def new_ip(self) -> str:
        r = self._rng
        return f"10.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"

    # -- registration ----------------------------------------------------------
    def reg_line(self, name: str, with_n: bool) -> str:
        """``+CEREG: [<n>,]<stat>[,"<tac>","<ci>",<AcT>]`` (location only for n=2)."""
        st = self.state
        n = st.reg_n[name]
        head = f"{name}: {n},{st.reg_stat}" if with_n else f"{name}: {st.reg_stat}"
        if n == 2 and st.registered:
            head += f',"{st.cell.tac}","{st.cell.cell_id}",7'
        return head

    def set_registration(self, stat: int) -> None:
        """Change <stat> and emit +CREG/+CGREG/+CEREG URCs where the host enabled them."""
        if stat == self.state.reg_stat:
            return
        self.state.reg_stat = stat
        for name, n in self.state.reg_n.items():
            if n:
                self.engine.urc(self.reg_line(name, with_n=False))
        if not self.state.registered:
            for ctx_id, ctx in self.state.contexts.items():
                if ctx.active:
                    self.network_pdp_loss(ctx_id)

    def register_later(self) -> None:
        """Radio on with a usable SIM: searching now, the profile's verdict shortly."""
        self.set_registration(2)

        async def attach() -> None:
            await self.net_delay(self.timing.register)
            self.set_registration(self.profile.reg_stat)

        self.engine.spawn(attach())

    def network_pdp_loss(self, ctx_id: int) -> None:
        """The network tears the context down: sockets die silently, one pdpdeact URC."""
        ctx = self.state.contexts[ctx_id]
        ctx.active, ctx.ip = False, ""
        for sock in self.state.sockets.values():
            if sock.ctx == ctx_id and sock.state in (1, 2):
                tcp.abort(sock)
                sock.state = 4
        self.engine.urc(f'+QIURC: "pdpdeact",{ctx_id}')

    # -- power ---------------------------------------------------------------
    def power_off(self) -> None:
        for sock in self.state.sockets.values():
            tcp.abort(sock)
        files = self.state.files  # UFS survives a reboot; QSSLCFG does not (A.12)
        clock_set = self.state.clock_set
        self.state = initial_state(self.profile, booted=False)
        self.state.files = files
        self.state.clock_set = clock_set and self.ntp_works
        self._booted_at = time.monotonic()

    def uptime(self) -> float:
        return time.monotonic() - self._booted_at

    async def boot(self) -> None:
        await asyncio.sleep(self.timing.boot)
        self.engine.urc("RDY")
        self.engine.spawn(self._boot_tail())

    async def _boot_tail(self) -> None:
        await asyncio.sleep(self.timing.boot_urcs)
        self.engine.urc("+CFUN: 1")
        sim = self.state.sim.status
        self.engine.urc("+CPIN: NOT READY" if sim == "ABSENT" else f"+CPIN: {sim}")
        if sim == "READY":
            self.engine.urc("+QIND: SMS DONE")
            self.register_later()

    # -- faults --------------------------------------------------------------
    def wedge_stack(self) -> None:
        """Every QIOPEN fails with 552 until a power cycle (AT+CFUN=1,1 or a reboot)."""
        self.state.stack_wedged = True

    def drop_tcp(self, conn_id: int | None) -> None:
        socks = [
            s
            for s in self.state.sockets.values()
            if s.state == 2 and (conn_id is None or s.conn_id == conn_id)
        ]
        if not socks:
            which = "no socket is" if conn_id is None else f"socket {conn_id} is not"
            raise FaultError(f"{which} connected")
        for sock in socks:
            tcp.lost(self, sock)

    def transfer_cut(self, after: int | None, count: int) -> None:
        """The next ``count`` HTTP transfer sockets (a GET's response body, a PUT's or
        POST's request body) lose their connection after ``after`` body bytes (None:
        half the Content-Length): ``+QIURC: "closed",<id>``, the OCPP socket untouched."""
        super().transfer_cut(after, count)

    def tls_handshake_fail(self, count: int) -> None:
        """The next ``count`` AT+QSSLOPEN handshakes fail: ``+QSSLOPEN: <id>,566``."""
        if count < 0:
            raise FaultError("count must be >= 0")
        self.tls_failures += count

    def take_tls_failure(self) -> bool:
        if self.tls_failures <= 0:
            return False
        self.tls_failures -= 1
        return True

    def drop_tls(self, conn_id: int | None) -> None:
        """A TLS link dropped by the network: ``+QSSLURC: "closed",<id>``."""
        socks = [
            s
            for s in self.state.sockets.values()
            if s.state == 2 and s.sslctx is not None and conn_id in (None, s.conn_id)
        ]
        if not socks:
            raise FaultError("no TLS client is connected")
        for sock in socks:
            tcp.lost(self, sock)

    def block_sntp(self, blocked: bool = True) -> None:
        """The module's clock is not set from the network (no NITZ, NTP unanswered):
        AT+CCLK? shows 1980, AT+QLTS nothing, AT+QNTP fails (control port
        ``sntp-block``); ``blocked`` False: NTP works again (the clock stays unset
        until AT+QNTP)."""
        self.ntp_works = not blocked
        if blocked:
            self.state.clock_set = False

    def new_transfer(self) -> HttpTransfer:
        """A socket has just shown itself an HTTP transfer: it takes the pending faults."""
        cut, rate = self.take_transfer_faults()
        return HttpTransfer(cut=cut, rate=rate)

    def pdp_deactivate(self, ctx: int) -> None:
        if ctx not in self.state.contexts or not self.state.contexts[ctx].active:
            raise FaultError(f"context {ctx} is not active")
        self.network_pdp_loss(ctx)

    def set_profile(self, name: str) -> None:
        """Move to another field situation live: the cell, SIM and registration follow.

        Registration changes emit the URCs the host enabled, and losing it
        tears down active contexts (pdpdeact), as a real network would.
        """
        if name not in PROFILES:
            raise FaultError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}")
        self.profile = PROFILES[name]
        st = self.state
        st.cell = replace(self.profile.cell)
        if st.sim.status != self.profile.sim_status:
            st.sim.status = self.profile.sim_status
            self.engine.urc(
                "+CPIN: NOT READY" if st.sim.status == "ABSENT" else f"+CPIN: {st.sim.status}"
            )
        usable = st.sim.status == "READY" and st.cfun == 1
        self.set_registration(self.profile.reg_stat if usable else 0)

    # -- status ----------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        st = self.state
        return {
            "dialect": self.name,
            "profile": self.profile.name,
            "sim": st.sim.status,
            "reg_stat": st.reg_stat,
            "cfun": st.cfun,
            "csq": st.cell.csq,
            "cmee": st.cmee,
            "qisde": st.qisde,
            "contexts": {
                str(i): {"apn": c.apn, "active": c.active, "ip": c.ip}
                for i, c in st.contexts.items()
                if c.active or c.apn
            },
            "sockets": [s.as_json() for s in sorted(st.sockets.values(), key=_conn_id)],
            "last_error": st.last_error,
            "pending_send_failures": self.send_failures,
            "pending_cuts": list(self.transfer_cuts),
            "pending_rates": list(self.transfer_rates),
            "http_violations": list(self.http_violations),
            "files": {n: len(d) for n, d in sorted(st.files.items())},
            "sslcfg": {str(k): dict(v) for k, v in sorted(st.sslcfg.items())},
            "clock_set": st.clock_set,
            "pending_tls_failures": self.tls_failures,
        }


def _conn_id(sock: QiSocket) -> int:
    return sock.conn_id
