"""True virtual time for asyncio, like trio's autojump clock.

A :class:`VirtualTimeLoop` reads its time from a :class:`VirtualTime` instead of
``time.monotonic``.  Whenever the loop has nothing to do but wait for its next
timer, and no I/O is ready and nothing outside the loop is working, it jumps
virtual time straight to that timer's deadline: a day of heartbeats and meter
values runs in the time its callbacks take, and every timer runs at exactly its
deadline.

Real I/O still works.  Loopback TCP in the same loop (a local CSMS and a charger)
needs no waiting: on Linux a send on loopback is delivered to the peer socket
within the sending syscall, so the peer is readable at the very next
``select(0)`` (see ``GRACE``).  Work in other threads must hold time still while
it runs, or its answer would arrive "late" in virtual time: ``run_in_executor``
jobs (also ``asyncio.to_thread`` and ``getaddrinfo``) are counted automatically,
anything else (an emulated modem's thread) registers a busy probe with
:meth:`VirtualTimeLoop.add_busy_probe`.

Usage::

    result = run_virtual(main())
    # or
    with asyncio.Runner(loop_factory=VirtualTime().new_loop) as runner:
        runner.run(main())
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import selectors
import threading
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar, TypeVarTuple, Unpack

__all__ = [
    "BUSY_POLL",
    "GRACE",
    "VirtualTime",
    "VirtualTimeLoop",
    "VirtualTimeStats",
    "run_virtual",
    "virtual_runner",
]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

# Real seconds to keep polling for I/O after select(0) found none, before jumping.
# 0, from measurement (Linux 6.18, 2 CPUs, Python 3.11, websockets 17):
#   * raw loopback TCP (TCP_NODELAY), send() then select(0) on the peer: 632,000
#     sends of 10-1,810 bytes, 400,000 of them with both CPUs saturated by busy
#     loops: the peer was readable at the first select(0) every time;
#   * in this loop, with a diagnostic real select of 2-5 ms before every jump,
#     17,240 would-be jumps over websockets.asyncio echo (1,440 messages at 60 s
#     with keepalive pings; 2,000 at 0.5 s), 300 websocket connect/echo/close
#     cycles and 2,000 asyncio-streams echoes of 10 B to 1 MB, idle and loaded:
#     no I/O ever arrived during the diagnostic wait.
# Loopback delivery happens inside the sender's syscall (the softirq runs when the
# send path re-enables bottom halves), so there is nothing to wait for.  And a grace
# is not cheap: epoll rounds any positive timeout up to 1 ms, so it would cost at
# least 1 ms of wall time per jump (a day of 60 s messages with websockets' 20 s
# keepalive pings is 4,320 jumps).  Pass grace= to VirtualTimeLoop for slower peers
# (another process on this host), or better, a busy probe.
GRACE = 0.0
# While something is busy, how long each real wait for I/O lasts before the busy
# probes are asked again.  An executor job wakes the loop at once when it finishes
# (asyncio writes to the loop's self-pipe), so this only bounds how late a probe
# turning False is noticed.
BUSY_POLL = 0.001


class VirtualTime:
    """A virtual "now" in seconds; only a :class:`VirtualTimeLoop` moves it, by jumps.

    ``epoch`` is the wall-clock datetime that virtual second 0 stands for (default:
    the real time at creation); virtual clocks (:func:`chargepoint.clocks.virtual_clock`)
    start from it.
    """

    def __init__(self, now: float = 0.0, epoch: datetime | None = None) -> None:
        self._now = float(now)
        self.epoch = epoch if epoch is not None else datetime.now(UTC)
        if self.epoch.tzinfo is None:
            self.epoch = self.epoch.replace(tzinfo=UTC)

    def time(self) -> float:
        return self._now

    def new_loop(self) -> VirtualTimeLoop:
        """A loop on this time: ``asyncio.Runner(loop_factory=vt.new_loop)``.

        Run one loop at a time on a VirtualTime: two loops would each jump it.
        """
        return VirtualTimeLoop(self)

    def _jump_to(self, t: float) -> None:
        # Never backwards: a stale target (computed before another jump) is ignored.
        if t > self._now:
            self._now = t

    def __repr__(self) -> str:
        return f"<VirtualTime {self._now:.6f}>"


@dataclass
class VirtualTimeStats:
    """What the loop did when it was idle (for tests and for tuning)."""

    jumps: int = 0  # times virtual time jumped to a deadline
    jumped: float = 0.0  # virtual seconds gained by jumping
    grace_hits: int = 0  # I/O that select(0) missed but the grace caught
    busy_waits: int = 0  # real waits of BUSY_POLL because something was busy


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose ``time()`` is a :class:`VirtualTime` that jumps when idle."""

    def __init__(
        self,
        vt: VirtualTime | None = None,
        *,
        grace: float = GRACE,
        busy_poll: float = BUSY_POLL,
    ) -> None:
        self.virtual_time = vt if vt is not None else VirtualTime()
        self.stats = VirtualTimeStats()
        self._grace = grace
        self._busy_poll = busy_poll
        self._probes: list[Callable[[], bool]] = []
        # Executor jobs not yet finished and delivered (see _ExecutorJob), and other
        # holds (shutdown_default_executor); changed from worker threads too.
        self._jobs = 0
        self._jobs_lock = threading.Lock()
        self._holds = 0
        # The hook into asyncio is the selector: _run_once (3.11 to 3.13 alike)
        # computes the select timeout from time() and the timer heap (None: no timer;
        # 0: callbacks ready or a timer due; else until the first timer, capped at one
        # day), so select() is the one place that sees "idle until the next deadline".
        # Besides time(), the public run_in_executor and shutdown_default_executor, the
        # only private names touched are _clock_resolution (below) and a read-only
        # peek at the timer heap's head in _jump.
        super().__init__(_AutojumpSelector(selectors.DefaultSelector(), self))

    def time(self) -> float:
        return self.virtual_time._now

    # asyncio runs the timers due before time() + _clock_resolution (1 ns, from the
    # monotonic clock).  Past 2**24 virtual seconds (194 days) now + 1 ns rounds back
    # to now, so a timer due exactly now would never run and the loop would spin.
    # One ulp of now keeps "due" meaning exactly "deadline <= now" at any magnitude.
    @property
    def _clock_resolution(self) -> float:
        return math.ulp(self.virtual_time._now)

    @_clock_resolution.setter
    def _clock_resolution(self, _value: float) -> None:
        pass  # BaseEventLoop.__init__ sets the monotonic clock's resolution

    # -- what counts as busy ---------------------------------------------------------

    def add_busy_probe(self, probe: Callable[[], bool]) -> Callable[[], None]:
        """While ``probe()`` returns True, virtual time does not jump; returns the remover.

        The probe is called from the loop's thread each time the loop is idle, so it
        must be cheap and must not block.  An exception from it propagates out of
        the loop (it is a bug in the probe).
        """
        self._probes.append(probe)

        def remove() -> None:
            if probe in self._probes:
                self._probes.remove(probe)

        return remove

    def busy(self) -> bool:
        """Whether something outside the loop's callbacks is working right now."""
        return self._jobs > 0 or self._holds > 0 or any(probe() for probe in self._probes)

    def run_in_executor(
        self,
        executor: concurrent.futures.Executor | None,
        func: Callable[[Unpack[Ts]], T],
        *args: *Ts,
    ) -> asyncio.Future[T]:
        job = _ExecutorJob(self)
        try:
            fut = super().run_in_executor(executor, job.run, func, *args)
        except BaseException:
            job.delivered(None)
            raise
        fut.add_done_callback(job.delivered)
        return fut

    async def shutdown_default_executor(self, *args: Any, **kwargs: Any) -> None:
        # Joining the pool's threads is real work, and from 3.12 on asyncio.Runner
        # bounds it with a (virtual!) 300 s timeout that must not fire by a jump.
        self._holds += 1
        try:
            await super().shutdown_default_executor(*args, **kwargs)
        finally:
            self._holds -= 1

    # -- the idle wait ---------------------------------------------------------------

    def _idle(self, selector: selectors.BaseSelector, timeout: float) -> _Events:
        """Wait ``timeout`` virtual seconds (until the first timer) for I/O."""
        events = selector.select(0)
        while not events:
            if self.busy():
                # Wait for real; an executor job's result wakes us through the self-pipe.
                self.stats.busy_waits += 1
                events = selector.select(self._busy_poll)
                continue
            # Not busy, checked *before* this poll: a worker makes its result visible
            # (self-pipe write) before it stops counting as busy, so nothing is lost.
            if self._grace > 0:
                events = selector.select(self._grace)
                if events:
                    self.stats.grace_hits += 1
                    break
                if self.busy():
                    continue
            self._jump(timeout)
            return []
        return events

    def _jump(self, timeout: float) -> None:
        now = self.virtual_time._now
        target = now + timeout
        # now + (deadline - now) can miss the deadline by an ulp; land exactly on it.
        # Peeking at the timer heap is read-only and optional (the fallback is the
        # ulp-close target, which asyncio's clock-resolution slack still fires).
        scheduled = getattr(self, "_scheduled", None)
        if scheduled:
            deadline = scheduled[0].when()
            if abs(deadline - target) <= 4 * math.ulp(deadline):  # not a capped timeout
                target = deadline
        if target > now:
            self.stats.jumps += 1
            self.stats.jumped += target - now
            self.virtual_time._jump_to(target)


_Events = list[tuple[selectors.SelectorKey, int]]


class _AutojumpSelector(selectors.BaseSelector):
    """The loop's selector, delegating everything but turning idle waits into jumps."""

    def __init__(self, inner: selectors.BaseSelector, loop: VirtualTimeLoop) -> None:
        self._inner = inner
        self._loop = loop

    def select(self, timeout: float | None = None) -> _Events:
        if timeout is None:
            # No timer at all: only the outside world (I/O, another thread) can wake us.
            return self._inner.select(None)
        if timeout <= 0:
            return self._inner.select(0)
        return self._loop._idle(self._inner, timeout)

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._inner.modify(fileobj, events, data)

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self._inner.get_key(fileobj)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._inner.get_map()

    def close(self) -> None:
        self._inner.close()


class _ExecutorJob:
    """Counts one run_in_executor job as busy until its worker is done *and* the loop has it.

    Dropping the count when the worker returns would be too early: the loop could
    jump before the result (queued with call_soon_threadsafe) is processed.  So the
    count drops when the asyncio future is done, or, if that future was cancelled
    while the worker still runs, when the worker returns.
    """

    def __init__(self, loop: VirtualTimeLoop) -> None:
        self._loop = loop
        self._started = self._finished = self._done = False
        with loop._jobs_lock:
            self._counted = True
            loop._jobs += 1

    def run(self, func: Callable[[Unpack[Ts]], T], *args: *Ts) -> T:
        with self._loop._jobs_lock:
            self._started = True
            # Its future was cancelled but the pool had already picked the job up.
            if not self._counted:
                self._counted = True
                self._loop._jobs += 1
        try:
            return func(*args)
        finally:
            with self._loop._jobs_lock:
                self._finished = True
                if self._done:
                    self._uncount()

    def delivered(self, _fut: object) -> None:
        with self._loop._jobs_lock:
            self._done = True
            # Not started: the cancel also cancelled the pool's job (or it never got
            # submitted); if the pool picked it up regardless, run() counts it again.
            if self._finished or not self._started:
                self._uncount()

    def _uncount(self) -> None:
        if self._counted:
            self._counted = False
            self._loop._jobs -= 1


def virtual_runner(vt: VirtualTime | None = None, *, debug: bool | None = None) -> asyncio.Runner:
    """An ``asyncio.Runner`` whose loop runs on ``vt`` (a fresh VirtualTime by default)."""
    return asyncio.Runner(debug=debug, loop_factory=(vt or VirtualTime()).new_loop)


def run_virtual(
    main: Coroutine[Any, Any, T], start: datetime | None = None, *, debug: bool | None = None
) -> T:
    """Run ``main`` on a fresh VirtualTimeLoop and return its result.

    Virtual second 0 stands for ``start`` (default: now), which is where
    :func:`chargepoint.clocks.loop_clock` / ``virtual_clock`` clocks begin.
    """
    with virtual_runner(VirtualTime(epoch=start), debug=debug) as runner:
        return runner.run(main)
