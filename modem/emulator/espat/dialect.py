"""ESP-AT (ESP32 with WebSocket commands): framing, dispatch, reset and faults.

Fidelity choices worth knowing (reference B):

* URCs and information lines have no leading CRLF (``+WS_CONNECTED:0\\r\\n``);
  final results do (``\\r\\nOK\\r\\n``); the data prompt is ``\\r\\nOK\\r\\n\\r\\n>``.
* A command line must end with CR LF and be at most 256 bytes, else ERROR.
* Input arriving while AT+CWJAP, AT+WSOPEN or AT+WSSEND is still working
  answers ``busy p...`` and is dropped.
* Each WSSEND is one frame with FIN set (v4.0 ... v5.0.1: no ``<fin>``
  parameter, a fifth parameter answers ERROR); its length is at most
  buffer_size - 10.
* AT+WSCLOSE on a link that is not open answers OK (the reference does not
  say; OK keeps the host's clean-up idempotent).
* After a reset the module re-joins the last AP by itself ("flash").

Faults of this dialect beyond :class:`modem.emulator.faults.Faults` (call them
on ``emu.dialect``, on the emulator's loop):

* :meth:`EspAt.wssend_late`: the next AT+WSSEND answers late (its prompt, or
  its result after the payload), ``busy p...`` to input meanwhile, as a module
  stuck in that command; the frame is sent (``SEND OK``) or not (``ERROR``).
* :meth:`EspAt.hang`: the module stops answering altogether (input is read
  and ignored); AT+RST still resets it (the shared ``faults.hang()``, standing
  in for the EN reset line a host would pulse) unless ``rst=False``: then only
  a reboot fault (a power cycle) does.

* :meth:`EspAt.transfer_cut` / :meth:`EspAt.transfer_slow` (also ``faults.transfer_*``
  and the control port): the next HTTP transfers cut after some body bytes, or from
  a slow server.  ``http_put = False`` makes it a firmware older than v3.0 (no
  AT+HTTPCPUT); ``http_heap`` bounds an upload's length.

wss:// (:mod:`modem.emulator.espat.cmd_tls`, :mod:`modem.emulator.espat.wslink`): real
TLS with Python's ssl module, verifying against the CA stored with AT+SYSMFG in wss_ca
(auth_mode 2/3, host name checked, SNI sent) and presenting wss_cert / wss_key (1/3).
A verifying open before SNTP has set the clock fails as the module's does: its clock
says 1970, so mbedTLS finds the server's certificate not yet valid (bare ERROR).
Faults: :meth:`EspAt.tls_handshake_fail` (the next wss opens fail their handshake:
ERROR), :meth:`EspAt.drop_tls` (a TLS link dropped: ``+WS_DISCONNECTED``),
:meth:`EspAt.block_sntp` (SNTP never sets the clock).  ``last_tls_error`` keeps what
the emulated mbedTLS would log on the module's console (the host never sees it).

The shared faults apply too: ``faults.late_prompt`` delays AT+WSSEND's and
AT+WSHEAD's prompt (the payload phase starts on time), ``faults.hang``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from modem.emulator.atparse import Command, ParamError
from modem.emulator.dialect import CommandIO, Dialect, FaultError, Framing, Reply, error
from modem.emulator.espat.httpclient import BodyFaults
from modem.emulator.espat.parse import parse_line
from modem.emulator.espat.state import SNTP_SYNC, STATION_IP, EspState
from modem.emulator.espat.table import HANDLERS, WS_COMMANDS
from modem.emulator.espat.wslink import CONNECTED

if TYPE_CHECKING:
    from modem.emulator.config import EmulatorConfig
    from modem.emulator.engine import Engine

log = logging.getLogger("modem.emulator.espat")

WSSEND_PHASES = ("prompt", "result")
HTTP_HEAP = 180_000  # bytes an upload may hold (free heap; the reference: "length <= heap")


@dataclass(frozen=True)
class WsSendStall:
    """One AT+WSSEND that answers ``delay`` seconds late (fault :meth:`EspAt.wssend_late`)."""

    delay: float
    phase: str = "result"  # "prompt": the prompt is late; "result": SEND OK / ERROR is
    deliver: bool = False  # the frame goes out (SEND OK) or not (ERROR)


class EspFraming(Framing):
    """ESP-AT prints lines as ``text\\r\\n``; only final results get a leading CRLF."""

    def echo(self, raw_line: bytes) -> bytes:
        return raw_line + b"\n"  # the line as received: its CR (if any) is still on it

    def info(self, lines: list[bytes]) -> bytes:
        return b"".join(line + b"\r\n" for line in lines)

    def urc(self, text: bytes) -> bytes:
        return text + b"\r\n"


class EspAt(Dialect):
    name = "esp-at"
    framing: ClassVar[Framing] = EspFraming()
    line_end: ClassVar[bytes] = b"\n"
    busy_reply: ClassVar[bytes | None] = b"busy p..."

    def __init__(self, engine: Engine, config: EmulatorConfig) -> None:
        if config.wifi_failure not in (None, 1, 4):
            raise ValueError(
                f"wifi_failure must be 1 (timeout) or 4 (refused), not {config.wifi_failure}"
            )
        super().__init__(engine, config)
        self.timing = config.timing
        # ws_piece_seed: +WS_DATA pieces of random length, as when TCP delivers less
        seed = config.ws_piece_seed
        self.piece_sizes = None if seed is None else random.Random(seed)
        self.state = EspState()
        self.wssend_stalls: list[WsSendStall] = []
        # HTTP client (cmd_http): AT+HTTPCPUT came with v3.0 (False: an older firmware);
        # an upload's <length> is held in the heap first, so it is bounded by the free heap
        # (about what AT+SYSRAM? shows on an idle ESP32 with Wi-Fi up).
        self.http_put = True
        self.http_heap = HTTP_HEAP
        self.hung_until_power_cycle = False  # hang(rst=False): AT+RST does not help
        # wss:// (cmd_tls): the manufacturing NVS survives resets; the clock does not.
        self.mfg: dict[tuple[str, str], tuple[int, bytes | int]] = {}
        self.mfg_writes = 0  # AT+SYSMFG writes (flash wear)
        self.sntp: tuple[int, list[str]] | None = None  # AT+CIPSNTPCFG (zone, servers)
        self.clock_set = False
        self.booted_at = time.monotonic()  # the last boot (the clock counts from 1970)
        self.sntp_blocked = False  # fault: no NTP server answers
        self.tls_failures = 0  # fault: the next wss opens fail their handshake
        self.last_tls_error: str | None = None
        self.http_auth_mode = 0  # AT+HTTPCFG <auth_mode> (https_* certificates)

    def parse(self, line: str) -> list[Command] | None:
        return parse_line(line)

    async def execute(self, cmd: Command, io: CommandIO) -> Reply:
        if self.hung_until_power_cycle:
            log.info("hung: AT%s ignored", cmd.name)
            return Reply(final=None)
        handler = HANDLERS.get(cmd.name)
        if handler is None or (cmd.name in WS_COMMANDS and not self.config.ws_commands):
            log.info("unknown command AT%s", cmd.name)
            return error()
        try:
            return await handler(self, cmd, io)
        except ParamError as exc:
            log.info("%s", exc)
            return error()

    # -- Wi-Fi ---------------------------------------------------------------------

    def join_code(self, ssid: str, password: str) -> int:
        """0, or the +CWJAP:<code> the configured access point gives.

        A ``wifi_failure`` (1 timeout, 4 refused) comes before the password
        check: an access point that does not answer or refuses the station
        never gets as far as the handshake that would check it.
        """
        if self.config.wifi_ssid is not None and ssid != self.config.wifi_ssid:
            return 3  # AP not found
        if self.config.wifi_failure is not None:
            return self.config.wifi_failure
        if self.config.wifi_password is not None and password != self.config.wifi_password:
            return 2  # wrong password
        return 0

    def wifi_up(self, ssid: str, password: str) -> None:
        self.state.ssid = ssid
        self.state.ip = STATION_IP
        self.state.saved = (ssid, password)

    def wifi_down(self) -> None:
        """Station off the AP: ``WIFI DISCONNECT``, and every link loses its TCP."""
        if not self.state.online:
            return
        self.state.ssid, self.state.ip = None, ""
        self.engine.urc("WIFI DISCONNECT")
        for link in self.state.links.values():
            if link.state == CONNECTED:
                link.drop()

    async def _rejoin_saved(self) -> None:
        """Auto-connect to the AP kept in flash (after a reset or a lost AP)."""
        saved = self.state.saved
        if saved is None or self.join_code(*saved):
            return
        await asyncio.sleep(self.timing.wifi_join)
        if not self.state.online and self.state.mode in (1, 3):
            self.wifi_up(*saved)
            self.engine.urc("WIFI CONNECTED")
            self.engine.urc("WIFI GOT IP")

    # -- power -----------------------------------------------------------------------

    def power_off(self) -> None:
        self.hung_until_power_cycle = False
        self.sntp, self.clock_set, self.http_auth_mode = None, False, 0
        for link in self.state.links.values():
            link.abort()
        saved, mode = self.state.saved, self.state.mode
        self.state = EspState(mode=mode, saved=saved)

    async def boot(self) -> None:
        self.booted_at = time.monotonic()
        await asyncio.sleep(self.timing.boot)
        self.engine.urc("ready")
        self.engine.spawn(self._rejoin_saved())

    # -- clock (SNTP) ----------------------------------------------------------------

    def start_sntp(self) -> None:
        """The SNTP client: sets the clock ``SNTP_SYNC`` s after it can reach a server."""
        self.engine.spawn(self._sntp())

    async def _sntp(self) -> None:
        while self.sntp is not None and not self.clock_set:
            await asyncio.sleep(SNTP_SYNC)
            if self.sntp is not None and self.state.online and not self.sntp_blocked:
                self.clock_set = True
                self.engine.urc("+TIME_UPDATED")

    # -- faults ----------------------------------------------------------------------

    def tls_handshake_fail(self, count: int = 1) -> None:
        """The next ``count`` wss:// opens fail their TLS handshake (AT+WSOPEN -> ERROR)."""
        if count < 0:
            raise FaultError("count must be >= 0")
        self.tls_failures += count

    def take_tls_failure(self) -> bool:
        if self.tls_failures:
            self.tls_failures -= 1
            return True
        return False

    def drop_tls(self, link_id: int | None = None) -> None:
        """A TLS link dropped (no close_notify, no close frame): ``+WS_DISCONNECTED``."""
        links = [
            link
            for link in self.state.links.values()
            if link.state == CONNECTED and link.uri.startswith("wss://")
            if link_id in (None, link.link_id)
        ]
        if not links:
            raise FaultError("no wss:// link is connected")
        for link in links:
            link.drop()

    def block_sntp(self, blocked: bool = True) -> None:
        """SNTP cannot reach its server (UDP 123 blocked): the clock stays at 1970."""
        self.sntp_blocked = blocked

    def drop_tcp(self, conn_id: int | None) -> None:
        links = [
            link
            for link in self.state.links.values()
            if link.state == CONNECTED and conn_id in (None, link.link_id)
        ]
        if not links:
            which = "no WebSocket link is" if conn_id is None else f"link {conn_id} is not"
            raise FaultError(f"{which} connected")
        for link in links:
            link.drop()

    def wifi_drop(self) -> None:
        if not self.state.online:
            raise FaultError("Wi-Fi is not connected")
        self.wifi_down()
        self.engine.spawn(self._rejoin_saved())

    def wssend_late(
        self, delay: float, *, phase: str = "result", deliver: bool = False, count: int = 1
    ) -> None:
        """The next ``count`` AT+WSSENDs answer ``delay`` s late (see the module docstring).

        ``phase="prompt"``: the prompt comes late (the payload is then read as
        usual); ``"result"``: the payload is read at once and the final result
        comes late.  ``deliver``: the frame reaches the server and the result
        is ``SEND OK``; otherwise it is dropped and the result is ``ERROR``.
        """
        if delay < 0 or count < 0:
            raise FaultError("delay and count must be >= 0")
        if phase not in WSSEND_PHASES:
            raise FaultError(f"phase must be one of {', '.join(WSSEND_PHASES)}")
        self.wssend_stalls.extend([WsSendStall(delay, phase, deliver)] * count)

    def transfer_cut(self, after: int | None, count: int) -> None:
        """The next ``count`` HTTP transfers (AT+HTTPCGET bodies, AT+HTTPCPUT/POST uploads)
        lose their connection after ``after`` body bytes (None: half-way).  A cut download
        still ends in OK, as on the module; a cut upload gives SEND FAIL."""
        super().transfer_cut(after, count)

    def take_body_faults(self) -> BodyFaults:
        cut, rate = self.take_transfer_faults()
        return BodyFaults(
            cut_after=None if cut is False else (-1 if cut is None else cut), rate=rate
        )

    def take_wssend_stall(self) -> WsSendStall | None:
        return self.wssend_stalls.pop(0) if self.wssend_stalls else None

    def hang(self, *, rst: bool = True) -> None:
        """The module stops answering (no result) until it is reset.

        Its links stay up (their TCP and pings go on, as the WebSocket task of a
        module whose AT task hangs would).  ``rst``: AT+RST still resets it (the
        engine's hang fault); otherwise only a reboot fault (power cycle) does.
        """
        if rst:
            self.engine.hang()
        else:
            self.hung_until_power_cycle = True

    def status(self) -> dict[str, Any]:
        st = self.state
        return {
            "dialect": self.name,
            "ws_commands": self.config.ws_commands,
            "wifi_failure": self.config.wifi_failure,
            "ws_piece_seed": self.config.ws_piece_seed,
            "wifi": {"mode": st.mode, "ssid": st.ssid, "ip": st.ip},
            "headers": [h.split(":", 1)[0] for h in st.headers],  # values may be secrets
            "configs": {str(i): vars(c) for i, c in sorted(st.configs.items())},
            "links": [st.links[i].as_json() for i in sorted(st.links)],
            "pending_send_failures": self.send_failures,
            "pending_wssend_stalls": [vars(stall) for stall in self.wssend_stalls],
            "http": {
                "url_set": self.state.http_url is not None,  # the URL may hold a password
                "put": self.http_put,
                "heap": self.http_heap,
                "pending_cuts": list(self.transfer_cuts),
                "pending_rates": list(self.transfer_rates),
            },
            "hung_until_power_cycle": self.hung_until_power_cycle,
            "tls": {
                "stored": sorted(f"{ns}/{key}" for ns, key in self.mfg),  # never the values
                "mfg_writes": self.mfg_writes,
                "clock_set": self.clock_set,
                "sntp_blocked": self.sntp_blocked,
                "pending_handshake_failures": self.tls_failures,
                "last_error": self.last_tls_error,
            },
        }
