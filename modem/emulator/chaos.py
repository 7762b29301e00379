"""Seeded chaos: a reproducible random sequence of every recoverable fault.

``Chaos(faults, dialect, seed, interval)`` runs on the emulator's event loop.
With ``random.Random(seed)`` it draws the next wait (``interval`` x 0.5..1.5)
and the next fault among those the dialect knows, with its parameters, then
injects it through :class:`~modem.emulator.faults.Faults` and records it
(``chaos: t=12.3s drop_tcp``).  The draws never depend on the modem's state,
so a seed always gives the same faults and waits; a fault that cannot apply
at that moment (no socket connected, Wi-Fi already down) is recorded as
``skipped`` and the sequence goes on.

Faults drawn (``KINDS``):

* both dialects: ``drop_tcp`` (network loss of the connection), ``send_fail``
  (the next 1..2 sends fail), ``garbage`` (line noise now), ``garbage_next``
  (line noise inside the next response), ``slow`` (every response 50..800 ms
  late for 1..4 s), ``stall`` (every response ``stall_ms`` late, beyond the
  driver's 5 s command timeout, for one such response), ``late_prompt`` (the
  next data prompt 0.2..1.5 s late), ``reboot`` (spontaneous module reset);
* EC200U: ``pdp_deactivate`` (the network tears the PDP context down);
* ESP-AT: ``wifi_drop`` (access point lost, then back), ``wssend_late`` (an
  AT+WSSEND whose result comes 0.5..3 s late, delivered or not);
* ``server_close`` when a callback is given (``server_close=``): the CSMS
  closes the connection (the emulator does not own the server).

Left out, because nothing on the host side can recover from them within a
session: ``profile`` switches (no SIM, denied registration, unreachable CSMS
are field situations that last until a person changes them), ``hang`` of the
ESP-AT with ``rst=False`` (only a power cycle helps), and ``--wifi-failure``
(the access point never accepts again).  ``hang`` (answered only by the
watchdog's reset after a long silence) is left out of the default set: the
drivers recover from it, but only after their watchdog interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from modem.emulator.dialect import FaultError
from modem.emulator.faults import Faults

COMMON = (
    "drop_tcp",
    "send_fail",
    "garbage",
    "garbage_next",
    "slow",
    "stall",
    "late_prompt",
    "reboot",
)
KINDS: dict[str, tuple[str, ...]] = {
    "ec200u": (*COMMON, "pdp_deactivate"),
    "esp-at": (*COMMON, "wifi_drop", "wssend_late"),
}
NOISE = bytes(range(0x20, 0x7F)) + b"\x00\xff\x1a\x1b"


@dataclass(frozen=True)
class Injection:
    t: float
    """Seconds since the chaos started (loop time)."""
    kind: str
    detail: str = ""
    skipped: str | None = None
    """Why the fault could not apply now (``FaultError``), or None."""

    def __str__(self) -> str:
        text = f"chaos: t={self.t:.1f}s {self.kind}"
        if self.detail:
            text += f" {self.detail}"
        if self.skipped is not None:
            text += f" (skipped: {self.skipped})"
        return text


@dataclass(frozen=True)
class Step:
    """One draw: wait ``wait`` seconds, then inject ``kind`` with ``args``."""

    wait: float
    kind: str
    args: tuple[Any, ...]


class Chaos:
    """Inject a seeded random sequence of faults, one every ``interval`` s or so.

    ``kinds`` narrows the set (default: every fault the dialect knows, see
    ``KINDS``); ``server_close`` adds that fault; ``report`` is called with each
    :class:`Injection` (the CLI prints them); ``injections`` keeps them all.
    ``limit`` stops after that many faults (None: until stopped).
    """

    def __init__(
        self,
        faults: Faults,
        dialect: str,
        seed: int,
        interval: float = 5.0,
        *,
        kinds: Sequence[str] | None = None,
        stall_ms: int = 6000,
        server_close: Callable[[], Awaitable[Any] | None] | None = None,
        report: Callable[[Injection], None] | None = None,
        limit: int | None = None,
    ) -> None:
        if dialect not in KINDS:
            raise ValueError(f"no chaos for dialect {dialect!r}; known: {', '.join(KINDS)}")
        if not interval > 0:
            raise ValueError("the chaos interval must be positive")
        known = KINDS[dialect] + (("server_close",) if server_close is not None else ())
        chosen = tuple(known if kinds is None else kinds)
        unknown = [k for k in chosen if k not in known]
        if unknown or not chosen:
            raise ValueError(f"{dialect}: unknown chaos faults {unknown}; known: {known}")
        self.faults, self.dialect, self.seed, self.interval = faults, dialect, seed, interval
        self.kinds = chosen
        self.stall_ms = stall_ms
        self._server_close = server_close
        self._report = report
        self.limit = limit
        self._rng = random.Random(seed)
        self.injections: list[Injection] = []
        self._task: asyncio.Task[None] | None = None
        self._t0 = 0.0
        self._restore: asyncio.TimerHandle | None = None
        self.done = asyncio.Event()

    # -- the sequence ------------------------------------------------------------------
    def draw(self) -> Step:
        """The next step; depends only on the seed and how many were drawn before."""
        rng = self._rng
        wait = self.interval * rng.uniform(0.5, 1.5)
        kind = rng.choice(self.kinds)
        args: tuple[Any, ...] = ()
        if kind == "send_fail":
            args = (rng.randint(1, 2),)
        elif kind in ("garbage", "garbage_next"):
            noise = bytes(rng.choice(NOISE) for _ in range(rng.randint(1, 24)))
            args = (b"\r\n" + noise + b"\r\n" if rng.random() < 0.5 else noise,)
        elif kind == "slow":
            args = (rng.randint(50, 800), rng.uniform(1.0, 4.0))
        elif kind == "stall":
            args = (self.stall_ms,)
        elif kind == "late_prompt":
            args = (round(rng.uniform(0.2, 1.5), 2),)
        elif kind == "wssend_late":
            args = (round(rng.uniform(0.5, 3.0), 2), rng.random() < 0.5)
        return Step(wait, kind, args)

    # -- injecting ---------------------------------------------------------------------
    def inject(self, step: Step) -> Injection:
        """Inject one step now (on the emulator's loop) and record it."""
        f, kind, args = self.faults, step.kind, step.args
        detail = ""
        skipped = None
        try:
            if kind == "drop_tcp":
                f.drop_tcp()
            elif kind == "pdp_deactivate":
                f.pdp_deactivate(1)
            elif kind == "wifi_drop":
                f.wifi_drop()
            elif kind == "send_fail":
                f.send_fail(args[0])
                detail = f"count={args[0]}"
            elif kind == "garbage":
                f.garbage(args[0])
                detail = repr(args[0])
            elif kind == "garbage_next":
                f.garbage_in_next_response(args[0])
                detail = repr(args[0])
            elif kind == "slow":
                ms, seconds = args
                self._slow(ms, seconds)
                detail = f"{ms}ms for {seconds:.1f}s"
            elif kind == "stall":
                # One response slower than the driver's command timeout, then normal speed.
                self._slow(args[0], args[0] / 1000 + 0.5)
                detail = f"{args[0]}ms once"
            elif kind == "late_prompt":
                f.late_prompt(args[0])
                detail = f"{args[0]}s"
            elif kind == "wssend_late":
                delay, deliver = args
                f.wssend_late(delay, phase="result", deliver=deliver)
                detail = f"{delay}s {'delivered' if deliver else 'dropped'}"
            elif kind == "reboot":
                f.reboot()
            elif kind == "server_close":
                assert self._server_close is not None
                result = self._server_close()
                if isinstance(result, Awaitable):
                    asyncio.ensure_future(result)
        except FaultError as exc:
            skipped = str(exc)
        injection = Injection(self._elapsed(), kind, detail, skipped)
        self.injections.append(injection)
        if self._report is not None:
            self._report(injection)
        return injection

    def _slow(self, ms: int, seconds: float) -> None:
        if self._restore is not None:
            self._restore.cancel()
        self.faults.slow(ms)
        loop = asyncio.get_running_loop()
        self._restore = loop.call_later(seconds, self._normal_speed)

    def _normal_speed(self) -> None:
        self._restore = None
        with contextlib.suppress(Exception):  # the emulator may be closed meanwhile
            self.faults.slow(0)

    def _elapsed(self) -> float:
        return asyncio.get_running_loop().time() - self._t0

    @property
    def injected(self) -> list[Injection]:
        """The faults that applied (not skipped)."""
        return [i for i in self.injections if i.skipped is None]

    # -- running -----------------------------------------------------------------------
    async def run(self) -> None:
        self._t0 = asyncio.get_running_loop().time()
        try:
            while self.limit is None or len(self.injections) < self.limit:
                step = self.draw()
                await asyncio.sleep(step.wait)
                self.inject(step)
        finally:
            self.done.set()

    def start(self) -> Chaos:
        self._task = asyncio.create_task(self.run(), name=f"chaos-{self.seed}")
        return self

    async def stop(self) -> None:
        """Stop injecting and restore normal speed (faults already injected stay)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._restore is not None:
            self._restore.cancel()
            self._normal_speed()


def sequence(
    dialect: str, seed: int, interval: float = 5.0, count: int = 10, **kw: Any
) -> list[Step]:
    """The first ``count`` steps a seed gives (for a report, without an emulator)."""
    chaos = Chaos(_NoFaults(), dialect, seed, interval, **kw)  # type: ignore[arg-type]
    return [chaos.draw() for _ in range(count)]


class _NoFaults:
    pass
