"""Keeps the charger connected: connect, run a session, and after any drop, try again.

A CSMS that refuses or cannot be reached gets one line naming the URL and the
reason, then an exponential back-off with jitter, never a traceback: a field
unit must survive a CSMS outage and the wedged modem stacks that rapid
reconnects cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Coroutine
from typing import Any

from chargepoint.aio import wait_event
from chargepoint.transport.base import Connection, Link, LinkError

from .shell import Station

log = logging.getLogger("cpsim.runner")


STABLE_SESSION = 30.0
"""Seconds an accepted session must last for its drop to restart the back-off from
``first``; a link that is accepted and drops at once keeps backing off (rapid
open/close cycles are what wedge a modem's data stack)."""


class Backoff:
    """Randomized exponential back-off with bounds.

    The n-th delay after a reset is drawn uniformly from
    ``[(1 - jitter) * d, d]`` with ``d = min(cap, first * 2**n)``: it doubles,
    never exceeds ``cap`` and never goes below ``(1 - jitter) * first``, and
    chargers that lost the same CSMS at once spread their retries out instead of
    arriving together.  Pass a seeded ``random.Random`` for a reproducible run.
    """

    def __init__(
        self,
        first: float = 1.0,
        cap: float = 60.0,
        jitter: float = 0.2,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < first <= cap:
            raise ValueError(f"back-off needs 0 < first <= cap (got {first}, {cap})")
        if not 0 <= jitter < 1:
            raise ValueError(f"back-off jitter must be in [0, 1) (got {jitter})")
        self.first, self.cap, self.jitter, self._next = first, cap, jitter, first
        self._rng = rng if rng is not None else random.Random()

    def next(self) -> float:
        delay = self._next
        self._next = min(self.cap, self._next * 2)
        return delay * self._rng.uniform(1 - self.jitter, 1)

    def reset(self) -> None:
        self._next = self.first


async def run_station(
    station: Station, link: Link, stop: asyncio.Event, backoff: Backoff | None = None
) -> None:
    """Run until ``stop`` is set; then close the WebSocket with 1000 and return."""
    backoff = backoff or Backoff()
    try:
        station.feed_start()
        while not stop.is_set():
            try:
                connection = await _until_stopped(link.connect(), stop)
            except LinkError as exc:
                delay = backoff.next()
                log.error("cannot connect: %s; retrying in %.1fs", exc, delay)
                await _sleep_or_stop(delay, stop)
                continue
            if connection is None:
                break
            delay = await _session(station, link, connection, stop, backoff)
            await _sleep_or_stop(delay, stop)
    finally:
        await station.shutdown()
        await link.aclose()


async def _session(
    station: Station, link: Link, connection: Connection, stop: asyncio.Event, backoff: Backoff
) -> float:
    """One connected session; returns how long to wait before reconnecting."""
    log.info("connected to %s", link.description)
    loop = asyncio.get_running_loop()
    began = loop.time()
    sim = getattr(link, "sim_identity", None) or {}
    task = asyncio.create_task(station.run_session(connection, sim), name="session")
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if not task.done():  # stopping: close cleanly, whatever the session was doing
        with contextlib.suppress(Exception):
            await connection.close(1000, "charger shutting down")
        try:
            async with asyncio.timeout(5):
                await task
        except (TimeoutError, Exception):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        return 0
    try:
        end = task.result()
    except Exception:  # a bug in a session must not end a field unit's life
        log.exception("session failed; reconnecting")
        with contextlib.suppress(Exception):
            await connection.close(1011, "internal error")
        return backoff.next()
    if end.rebooting:
        log.info("%s: rebooting", end.reason)
        backoff.reset()
        return backoff.next()
    if end.was_accepted and loop.time() - began >= STABLE_SESSION:
        backoff.reset()
    delay = backoff.next()
    log.warning("link lost: %s; reconnecting in %.1fs", end.reason, delay)
    return delay


async def _until_stopped(
    connecting: Coroutine[Any, Any, Connection], stop: asyncio.Event
) -> Connection | None:
    """The connection, or None if ``stop`` came first (a modem bring-up can take minutes)."""
    task = asyncio.ensure_future(connecting)
    stopper = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if task in done:
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, LinkError):
        await task
    return None


async def _sleep_or_stop(delay: float, stop: asyncio.Event) -> None:
    await wait_event(stop, delay)
