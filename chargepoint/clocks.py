"""The one clock everything that waits or stamps time goes through.

The charger core, the local CSMS and the scenario runner take a :class:`Clock`
instead of calling ``asyncio.sleep``/``datetime.now`` themselves, so a run can be
real time, scaled (N times faster) or virtual (:mod:`chargepoint.virtualtime`:
time jumps straight to the next timer) without any of them knowing which.

A clock reads charger time as UNIX seconds derived from a *source*: the time base
the running asyncio loop uses for ``call_at`` (``time.monotonic`` for asyncio's
default loop, the :class:`~chargepoint.virtualtime.VirtualTime` for a virtual
loop).  Keeping the two on one base is what makes
``loop.call_at(clock.source_time(deadline), cb)`` fire exactly when the charger
clock reads ``deadline``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

from chargepoint.timefmt import format_epoch, ocpp_time, parse_time
from chargepoint.virtualtime import VirtualTime, VirtualTimeLoop

__all__ = [
    "Clock",
    "format_epoch",
    "loop_clock",
    "ocpp_time",
    "parse_time",
    "real_clock",
    "scaled_clock",
    "virtual_clock",
]


class Clock:
    """Charger time: UNIX seconds that never go backwards, running ``scale`` times faster
    than the loop's time source.

    ``kind`` is ``"real"`` (scale 1 on ``time.monotonic``), ``"scaled"`` (scale != 1) or
    ``"virtual"`` (the source is a VirtualTime); it is inferred when not given.
    """

    def __init__(
        self,
        scale: float = 1.0,
        start: datetime | None = None,
        source: Callable[[], float] = time.monotonic,
        kind: str | None = None,
    ) -> None:
        if not scale > 0:
            raise ValueError("time scale must be positive")
        self.scale = float(scale)
        self._source = source
        # Read the source once and pair it with the start: every later reading is
        # an offset from this pair, so the wall clock (NTP steps, DST) never leaks in.
        self._source0 = source()
        self._start = _as_utc(start).timestamp() if start is not None else time.time()
        self._last = self._start
        self.kind = kind or _kind_of(source, self.scale)

    @property
    def start(self) -> float:
        """Charger UNIX seconds at creation (``time()`` minus this is the elapsed charger time)."""
        return self._start

    def time(self) -> float:
        """Charger UNIX seconds: start + (source() - source at creation) * scale."""
        t = self._start + (self._source() - self._source0) * self.scale
        # A monotonic source already guarantees this; the guard keeps the promise
        # for any source (a test's fake, a clock read from several threads).
        if t < self._last:
            return self._last
        self._last = t
        return t

    def now(self) -> datetime:
        """``time()`` as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), UTC)

    def timestamp(self) -> str:
        """``now()`` in the OCPP form (:func:`ocpp_time`)."""
        return ocpp_time(self.now())

    def real(self, seconds: float) -> float:
        """Source seconds for a span of charger seconds (for asyncio timeouts)."""
        return seconds / self.scale

    def source_time(self, charger_t: float) -> float:
        """The ``source()`` value at which ``time()`` reaches ``charger_t``.

        With the loop's own time as the source this is the ``when`` for ``loop.call_at``.
        """
        return self._source0 + (charger_t - self._start) / self.scale

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of charger time."""
        await asyncio.sleep(max(0.0, seconds) / self.scale)

    async def sleep_until(self, charger_t: float) -> None:
        """Wait until ``time()`` reaches ``charger_t`` (returns at once if it already has).

        Schedules on the absolute deadline rather than sleeping "deadline - now":
        periodic work (next = previous deadline + interval) then cannot drift, and
        under virtual time it wakes at exactly ``charger_t``.
        """
        loop = asyncio.get_running_loop()
        woken = loop.create_future()
        handle = loop.call_at(self.source_time(charger_t), _wake, woken)
        try:
            await woken
        finally:
            handle.cancel()

    def __repr__(self) -> str:
        return f"<Clock {self.kind} x{self.scale:g} at {self.timestamp()}>"


def real_clock(start: datetime | None = None) -> Clock:
    """Real time on asyncio's default loop (``time.monotonic``)."""
    return Clock(1.0, start, time.monotonic, "real")


def scaled_clock(scale: float, start: datetime | None = None) -> Clock:
    """Charger time running ``scale`` times faster than real time (default loop)."""
    return Clock(scale, start, time.monotonic, "scaled" if scale != 1 else "real")


def virtual_clock(vt: VirtualTime, start: datetime | None = None) -> Clock:
    """Charger time on a :class:`VirtualTime` (run the code on ``vt.new_loop()``).

    Without ``start`` the clock reads ``vt.epoch`` plus the virtual seconds so far,
    so every virtual clock of one run agrees, whenever it was made.
    """
    if start is None:
        start = datetime.fromtimestamp(vt.epoch.timestamp() + vt.time(), UTC)
    return Clock(1.0, start, vt.time, "virtual")


def loop_clock(start: datetime | None = None) -> Clock:
    """The clock that matches the running loop: virtual on a VirtualTimeLoop, else real."""
    loop = asyncio.get_running_loop()
    if isinstance(loop, VirtualTimeLoop):
        return virtual_clock(loop.virtual_time, start)
    return real_clock(start)


def _as_utc(when: datetime) -> datetime:
    # A naive start means UTC (as in OCPP), not the host's local time.
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _kind_of(source: Callable[[], float], scale: float) -> str:
    if isinstance(getattr(source, "__self__", None), VirtualTime):
        return "virtual"
    return "real" if scale == 1 else "scaled"


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
