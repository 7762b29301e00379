"""What a modem dialect plugs into the shared engine.

The engine owns the wire (echo, line reading, pacing, latency, fault
insertion, reboot sequencing); a dialect owns the command set and the modelled
state.  A second dialect (ESP-AT) subclasses :class:`Dialect`, supplies its
own :class:`Framing` (ESP URCs have no leading CRLF) and registers a factory
in :data:`modem.emulator.DIALECTS`.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from modem.emulator.atparse import Command, parse_line

if TYPE_CHECKING:
    from modem.emulator.config import EmulatorConfig
    from modem.emulator.engine import Engine


T = TypeVar("T")


class FaultError(Exception):
    """A fault cannot be applied now (e.g. no socket to drop); text goes to the control port."""


@dataclass
class Reply:
    """Information lines plus a final result code; ``final=None`` writes no final."""

    lines: list[bytes] = field(default_factory=list)
    final: bytes | None = b"OK"

    @property
    def ok(self) -> bool:
        return self.final == b"OK"


def ok(*lines: str | bytes) -> Reply:
    return Reply([x.encode("latin-1") if isinstance(x, str) else x for x in lines])


def error() -> Reply:
    return Reply(final=b"ERROR")


H = TypeVar("H", bound=Callable[..., Any])


def registrar(handlers: dict[str, H]) -> Callable[..., Callable[[H], H]]:
    """A ``@command("+NAME", ...)`` decorator filling ``handlers``, one handler a name."""

    def command(*names: str) -> Callable[[H], H]:
        def register(handler: H) -> H:
            for name in names:
                if name in handlers:
                    raise RuntimeError(f"{name} registered twice")
                handlers[name] = handler
            return handler

        return register

    return command


class Framing:
    """Quectel/3GPP framing: every information block, URC and final is ``\\r\\n…\\r\\n``.

    Lines of one information block are separated by a single CRLF, which is
    why ``ATI`` shows no blank lines but there is one before ``OK``.
    """

    def echo(self, raw_line: bytes) -> bytes:
        return raw_line + b"\r"

    def info(self, lines: list[bytes]) -> bytes:
        return b"\r\n" + b"\r\n".join(lines) + b"\r\n"

    def urc(self, text: bytes) -> bytes:
        return b"\r\n" + text + b"\r\n"

    def final(self, text: bytes) -> bytes:
        return b"\r\n" + text + b"\r\n"


class CommandIO(abc.ABC):
    """What a running command may do on the wire besides returning a :class:`Reply`."""

    @abc.abstractmethod
    async def prompt(self, data: bytes, delay: float = 0.0) -> None:
        """Write a data prompt; afterwards only bytes sent after it count as payload.

        ``delay`` > 0 (the late-prompt fault): the module enters its payload phase
        now but shows the prompt only ``delay`` seconds later, so bytes the host
        writes meanwhile are payload, as a real module takes them.
        """

    @abc.abstractmethod
    async def read_exact(self, n: int, idle_timeout: float | None) -> bytes | None: ...

    @abc.abstractmethod
    async def read_until(
        self, stops: bytes, idle_timeout: float | None
    ) -> tuple[bytes, int] | None: ...

    @abc.abstractmethod
    def send_raw(self, data: bytes) -> None: ...

    @abc.abstractmethod
    def after_reply(self, action: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``action`` as a task once the final result is queued (e.g. +QIOPEN)."""

    async def blocking(self, work: Awaitable[T]) -> T:
        """Await ``work`` (a Wi-Fi join, a WebSocket handshake) as a blocking command.

        A dialect with a :attr:`Dialect.busy_reply` answers input arriving
        meanwhile with it (ESP-AT's ``busy p...``); others leave it queued.
        """
        return await work


class Dialect(abc.ABC):
    """One modem's command set and state, driven by an :class:`~modem.emulator.engine.Engine`."""

    name: ClassVar[str]
    framing: ClassVar[Framing] = Framing()
    # What ends a command line: CR (V.250, Quectel) or LF (ESP-AT wants CR LF).
    line_end: ClassVar[bytes] = b"\r"
    # Said to input that arrives during CommandIO.blocking(); None: input waits.
    busy_reply: ClassVar[bytes | None] = None
    # Command lines a hung module still obeys (the hang fault): a reset.
    reset_commands: ClassVar[tuple[str, ...]] = ("AT+CFUN=1,1", "AT+RST")

    def __init__(self, engine: Engine, config: EmulatorConfig) -> None:
        self.engine = engine
        self.config = config
        self.send_failures = 0  # fault: the next N sends fail (the dialect's own way)
        self.prompt_delays: list[float] = []  # fault: the next prompts come this late
        self.transfer_cuts: list[int | None] = []  # fault: the next bodies cut (None: half)
        self.transfer_rates: list[float] = []  # fault: the next bodies this slow (bytes/s)

    def parse(self, line: str) -> list[Command] | None:
        """Split a command line (without its terminator); ``None`` answers ``ERROR``."""
        return parse_line(line)

    @abc.abstractmethod
    async def execute(self, cmd: Command, io: CommandIO) -> Reply:
        """Run one command of a line; unknown commands answer ``ERROR``."""

    @abc.abstractmethod
    def power_off(self) -> None:
        """Drop every connection and return to power-on state (reboot, shutdown)."""

    @abc.abstractmethod
    def boot(self) -> Awaitable[None]:
        """Emit the boot URCs; return once the module accepts commands again."""

    @abc.abstractmethod
    def status(self) -> dict[str, Any]:
        """JSON-ready state for the control port's ``status``."""

    async def aclose(self) -> None:
        self.power_off()

    # Fault hooks; a dialect without the concept says so.
    def drop_tcp(self, conn_id: int | None) -> None:
        raise FaultError(f"{self.name}: drop-tcp not supported")

    def pdp_deactivate(self, ctx: int) -> None:
        raise FaultError(f"{self.name}: pdpdeact not supported")

    def wssend_late(
        self, delay: float, *, phase: str = "result", deliver: bool = False, count: int = 1
    ) -> None:
        raise FaultError(f"{self.name}: no late-WSSEND fault for this dialect")

    def wedge_stack(self) -> None:
        raise FaultError(f"{self.name}: no wedged-data-stack fault for this dialect")

    def transfer_cut(self, after: int | None, count: int) -> None:
        """The next ``count`` file transfers (HTTP bodies) lose their connection after
        ``after`` body bytes (``None``: half of the announced length); how a cut shows
        is the dialect's (its docstring says)."""
        if (after is not None and after < 0) or count < 0:
            raise FaultError("after and count must be >= 0")
        self.transfer_cuts.extend([after] * count)

    def transfer_slow(self, rate: float, count: int) -> None:
        """The next ``count`` file transfers move at most ``rate`` body bytes a second
        (a slow server)."""
        if rate <= 0 or count < 0:
            raise FaultError("rate must be > 0 and count >= 0")
        self.transfer_rates.extend([rate] * count)

    def take_transfer_faults(self) -> tuple[int | None | bool, float | None]:
        """The faults the next transfer takes: (cut: False none, None half-way, or after
        that many body bytes; rate: None or bytes a second)."""
        cut: int | None | bool = self.transfer_cuts.pop(0) if self.transfer_cuts else False
        rate = self.transfer_rates.pop(0) if self.transfer_rates else None
        return cut, rate

    def send_fail(self, count: int) -> None:
        if count < 0:
            raise FaultError("count must be >= 0")
        self.send_failures += count

    def take_send_failure(self) -> bool:
        """Whether this send is one the send-fail fault asked to fail (counting it)."""
        if self.send_failures <= 0:
            return False
        self.send_failures -= 1
        return True

    def late_prompt(self, seconds: float, count: int) -> None:
        """The next ``count`` data prompts come ``seconds`` late (the payload phase starts
        on time)."""
        if seconds < 0 or count < 0:
            raise FaultError("seconds and count must be >= 0")
        self.prompt_delays.extend([seconds] * count)

    def take_prompt_delay(self) -> float:
        """How late this prompt comes (0: on time), counting it."""
        return self.prompt_delays.pop(0) if self.prompt_delays else 0.0

    def set_profile(self, name: str) -> None:
        raise FaultError(f"{self.name}: profiles not supported")

    def wifi_drop(self) -> None:
        raise FaultError(f"{self.name}: no Wi-Fi to drop")
