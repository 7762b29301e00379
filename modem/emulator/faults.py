"""Fault injection, the same operations for tests (Python) and people (control port).

Every method is synchronous and must run on the emulator's event loop: it
changes state and queues output immediately, so a test can inject a fault
and then assert on the very next bytes the host reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modem.emulator.dialect import FaultError

if TYPE_CHECKING:
    from modem.emulator.engine import Engine


def _bytes(text: str | bytes) -> bytes:
    return text.encode("latin-1") if isinstance(text, str) else text


class Faults:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def drop_tcp(self, id: int | None = None) -> None:
        """Network drop of one connected socket (all when ``id`` is None).

        EC200U: ``+QIURC: "closed"``; ESP-AT: ``+WS_DISCONNECTED`` (link kept).
        """
        self._engine.dialect.drop_tcp(id)

    def pdp_deactivate(self, ctx: int = 1) -> None:
        """The network tears down the PDP context: ``+QIURC: "pdpdeact",<ctx>``, sockets dead."""
        self._engine.dialect.pdp_deactivate(ctx)

    def wifi_drop(self) -> None:
        """ESP-AT: the access point goes away (``WIFI DISCONNECT``, links drop), then is back."""
        self._engine.dialect.wifi_drop()

    def wssend_late(
        self, seconds: float, phase: str = "result", deliver: bool = False, count: int = 1
    ) -> None:
        """ESP-AT: the next ``count`` AT+WSSENDs answer ``seconds`` late (``phase``: the
        prompt or the result); ``deliver`` says whether the frame still goes out."""
        self._engine.dialect.wssend_late(seconds, phase=phase, deliver=deliver, count=count)

    def wedge_stack(self) -> None:
        """EC200U: every QIOPEN fails with 552 until the module is power-cycled, as a data
        stack does after many rapid reconnects (modem-at.md A.11, field caveat)."""
        self._engine.dialect.wedge_stack()

    def transfer_cut(self, after: int | None = None, count: int = 1) -> None:
        """File transfers: the next ``count`` lose their connection after ``after`` body
        bytes (``None``: half-way through the announced length)."""
        self._engine.dialect.transfer_cut(after, count)

    def transfer_slow(self, rate: float, count: int = 1) -> None:
        """File transfers: the next ``count`` come from a slow server, ``rate`` body bytes
        a second at most."""
        self._engine.dialect.transfer_slow(rate, count)

    def send_fail(self, count: int = 1) -> None:
        """The next ``count`` sends answer ``SEND FAIL`` (payload read, not forwarded)."""
        self._engine.dialect.send_fail(count)

    def tls_handshake_fail(self, count: int = 1) -> None:
        """The next ``count`` TLS opens fail their handshake (ESP-AT: AT+WSOPEN wss:// ->
        ERROR), on a dialect that emulates TLS."""
        self._tls("tls_handshake_fail")(count)

    def drop_tls(self, id: int | None = None) -> None:
        """A TLS link dropped without close_notify (all TLS links when ``id`` is None)."""
        self._tls("drop_tls")(id)

    def block_sntp(self, blocked: bool = True) -> None:
        """SNTP never sets the clock (no NTP server answers); EC200U: no NITZ either, so
        AT+CCLK? shows 1980 and AT+QNTP fails."""
        self._tls("block_sntp")(blocked)

    def _tls(self, name: str) -> Any:
        action = getattr(self._engine.dialect, name, None)
        if action is None:
            raise FaultError(f"{name}: not emulated by {self._engine.dialect.name}")
        return action

    def garbage(self, data: str | bytes) -> None:
        """Line noise: raw bytes to the host now, unframed."""
        self._engine.output.send(_bytes(data))

    def garbage_in_next_response(self, data: str | bytes) -> None:
        """Line noise inside the next response: raw bytes after its lines, before its final."""
        self._engine.insert_in_next_response(_bytes(data), raw=True)

    def urc(self, text: str | bytes) -> None:
        """An unsolicited line now, framed as the dialect frames URCs."""
        self._engine.urc(_bytes(text))

    def urc_in_next_response(self, text: str | bytes) -> None:
        """A URC inside the next response: after its information lines, before its final."""
        self._engine.insert_in_next_response(_bytes(text))

    def slow(self, ms: int) -> None:
        """Extra delay before every response from now on; 0 restores normal speed."""
        if ms < 0:
            raise FaultError("ms must be >= 0")
        self._engine.slow_ms = ms

    def profile(self, name: str) -> None:
        """Switch the field profile live (e.g. ``ok`` -> ``denied`` mid-session)."""
        self._engine.dialect.set_profile(name)

    def reboot(self) -> None:
        """Spontaneous module reset: the running command gets no final, boot URCs follow."""
        self._engine.reboot()

    def late_prompt(self, seconds: float, count: int = 1) -> None:
        """The next ``count`` data prompts (``>`` after AT+QISEND) come ``seconds`` late.

        The module is in its payload phase from the command on; bytes written
        before the late prompt are taken as payload.
        """
        self._engine.dialect.late_prompt(seconds, count)

    def hang(self) -> None:
        """The module stops answering every command (no echo, no result) until a
        reset command (``AT+CFUN=1,1``) reboots it."""
        self._engine.hang()

    def status(self) -> dict[str, Any]:
        return {
            **self._engine.dialect.status(),
            "echo": self._engine.echo,
            "slow_ms": self._engine.slow_ms,
            "hung": self._engine.hung,
            "prompt_delays": list(self._engine.dialect.prompt_delays),
            "baud": self._engine.baud,
        }
