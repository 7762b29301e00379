"""Keeps the charger connected: connect, run a session, and after any drop, try again.

A CSMS that refuses or cannot be reached gets one line naming the URL and the
reason, then an exponential back-off with jitter, never a traceback: a field
unit must survive a CSMS outage and the wedged modem stacks that rapid
reconnects cause.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, cast

from tenacity import RetryCallState, wait_exponential

from chargepoint.core.events import TlsFailed
from chargepoint.transport.base import Connection, Link, LinkClosed, LinkError

from .shell import Station
from .stopsignal import stopped as stop_signal

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

    ``d`` is tenacity's ``wait_exponential``; the jitter is a factor drawn from this
    charger's own ``rng`` (tenacity's jitter draws from the global ``random``, which a
    test or a fleet could not seed per charger).  The caller sleeps on its own clock,
    so virtual time applies.
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
        self.first, self.cap, self.jitter = first, cap, jitter
        self._rng = rng if rng is not None else random.Random()
        self._nominal = _nominal_wait(first, cap)
        self._attempts = _Attempts()

    def next(self) -> float:
        delay = self._nominal(cast(RetryCallState, self._attempts))
        self._attempts.attempt_number += 1
        return float(delay) * self._rng.uniform(1 - self.jitter, 1)

    def reset(self) -> None:
        self._attempts.attempt_number = 1


class _Attempts:
    """What tenacity's wait strategies read of a ``RetryCallState``: the attempt number
    (a whole ``RetryCallState`` with its ``Retrying`` is ~1 KiB per charger)."""

    __slots__ = ("attempt_number",)

    def __init__(self) -> None:
        self.attempt_number = 1


@functools.lru_cache(maxsize=64)
def _nominal_wait(first: float, cap: float) -> wait_exponential:
    return wait_exponential(multiplier=first, max=cap)  # one per setting, not per charger


STOP_GRACE = 5.0
"""Seconds a stopping charger waits for the CSMS to confirm the StopTransactions it
sent; what is not confirmed by then stays queued in the store for the next start."""


@dataclass(frozen=True)
class StopReport:
    """How a stopped charger left things."""

    stopped: tuple[int, ...] = ()
    """Connectors whose transaction was stopped on the way out."""
    unsent: int = 0
    """Transaction messages not confirmed by the CSMS: queued in the store."""


async def run_station(
    station: Station,
    link: Link,
    stop: asyncio.Event,
    backoff: Backoff | None = None,
    stop_reason: str | None = None,
) -> StopReport:
    """Run until ``stop`` is set; then close the WebSocket with 1000 and return.

    With ``stop_reason`` (``Local``: the owner switched it off), running transactions
    are stopped first with that reason (OCPP 1.6 §4.10 StopTransaction), and the CSMS
    gets up to :data:`STOP_GRACE` seconds to confirm them before the close.  Without
    it the charger just goes away, as on a power loss, and finds its transactions
    again at the next start.
    """
    backoff = backoff or Backoff()
    stopping = _Stopping(station, stop_reason)
    connected_profile: int | None = None
    """SecurityProfile of the last connection that opened: the fallback (WP A05.FR.08)."""
    try:
        station.feed_start()
        while not stop.is_set():
            try:
                connection = await _until_stopped(link.connect(), stop)
            except LinkError as exc:
                failure = exc.tls_failure  # WP A00.FR.309/315/322: a security event
                if failure is not None:
                    station.feed(TlsFailed(failure.kind.value, failure.tech_info))
                if _fall_back(station, connected_profile, exc):
                    continue
                delay = backoff.next()
                log.error("cannot connect: %s; retrying in %.1fs", exc, delay)
                await _sleep_or_stop(delay, stop)
                continue
            if connection is None:
                break
            connected_profile = station.security_profile()
            delay = await _session(station, link, connection, stop, backoff, stopping)
            await _sleep_or_stop(delay, stop)
        stopping.stop_transactions()  # offline: the StopTransactions are queued
        report = StopReport(stopping.stopped, station.queued)
    finally:
        await station.shutdown()
        await link.aclose()
    return report


def _fall_back(station: Station, connected_profile: int | None, exc: LinkError) -> bool:
    """After the CSMS raised SecurityProfile, one failed connect with the new profile
    goes back to the one that last connected (WP A05.FR.08 "to prevent that the Charge
    Point will become unable to reconnect on its own"; EVerest tries the new profile
    once, then the old one with unlimited attempts).  The store ends with the profile
    that connects.  True when it fell back (reconnect at once)."""
    profile = station.security_profile()
    if connected_profile is None or profile <= connected_profile:
        return False
    log.error(
        "cannot connect with SecurityProfile %d: %s; falling back to SecurityProfile %d",
        profile,
        exc,
        connected_profile,
    )
    station.set_security_profile(connected_profile)
    station.timeline.write(
        {"time": station.core.timestamp(), "kind": "security", "fallback": connected_profile}
    )
    return True


class _Stopping:
    """Stopping a charger's running transactions on the way out."""

    def __init__(self, station: Station, reason: str | None) -> None:
        self.station = station
        self.reason = reason
        self.stopped: tuple[int, ...] = ()

    def stop_transactions(self) -> None:
        if self.reason is None:
            return
        for connector_id, connector in self.station.connectors.items():
            if connector.transaction is not None:
                log.info(
                    "stopping the transaction on connector %d (reason %s) before closing",
                    connector_id,
                    self.reason,
                )
                self.station.stop_transaction(connector_id, self.reason)
                self.stopped += (connector_id,)

    async def confirmed(self) -> None:
        """Stop the transactions and wait (bounded) for the CSMS to confirm them."""
        self.stop_transactions()
        if not self.stopped:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STOP_GRACE):
                while self.station.queued and self.station.connected:
                    await self.station.changed()
        if self.station.queued:
            log.warning(
                "the CSMS did not confirm within %.0fs: %d transaction message(s) stay "
                "queued for the next start",
                STOP_GRACE,
                self.station.queued,
            )


async def _session(
    station: Station,
    link: Link,
    connection: Connection,
    stop: asyncio.Event,
    backoff: Backoff,
    stopping: _Stopping,
) -> float:
    """One connected session; returns how long to wait before reconnecting."""
    log.info("connected to %s", link.description)
    loop = asyncio.get_running_loop()
    began = loop.time()
    sim = getattr(link, "sim_identity", None) or {}
    # no task here: the session runs on callbacks (or its own reader and writer), and
    # stop is a future from the one watcher of the stop event
    session = station.open_session(connection, sim)
    stopped = stop_signal(stop)
    try:
        await _first_of(session.ended, stopped)
    except asyncio.CancelledError:  # the charger itself is cancelled: end the session too
        session.end_with(LinkClosed("charger cancelled"))
        await station.end_session(session)
        raise
    finally:
        stopped.cancel()
    if not session.ended.done():  # stopping: close cleanly, whatever the session was doing
        if station.online:
            await stopping.confirmed()
        with contextlib.suppress(Exception):
            await connection.close(1000, "charger shutting down")
        with contextlib.suppress(TimeoutError, Exception):
            async with asyncio.timeout(5):
                await asyncio.shield(session.ended)
        session.end_with(LinkClosed("charger shutting down", 1000))
        with contextlib.suppress(Exception):
            await station.end_session(session)
        return 0
    try:
        end = await station.end_session(session)
    except Exception:  # a bug in a session must not end a field unit's life
        log.exception("session failed; reconnecting")
        with contextlib.suppress(Exception):
            await connection.close(1011, "internal error")
        return backoff.next()
    if end.rebooting:  # the charger closed the link itself: a Reset, or new credentials
        log.info("%s: %s", end.reason, "rebooting" if end.reset else "reconnecting")
        backoff.reset()
        return backoff.next()
    if end.was_accepted and loop.time() - began >= STABLE_SESSION:
        backoff.reset()
    delay = backoff.next()
    log.warning("link lost: %s; reconnecting in %.1fs", end.reason, delay)
    return delay


async def _first_of(first: asyncio.Future[Any], second: asyncio.Future[Any]) -> None:
    """Return once either future is done: ``asyncio.wait`` without its set, closure and
    two coroutine frames, which a fleet would hold for every charger in a session."""
    waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def wake(_done: asyncio.Future[Any]) -> None:
        if not waiter.done():
            waiter.set_result(None)

    first.add_done_callback(wake)
    second.add_done_callback(wake)
    try:
        await waiter
    finally:
        first.remove_done_callback(wake)
        second.remove_done_callback(wake)


async def _until_stopped(
    connecting: Coroutine[Any, Any, Connection], stop: asyncio.Event
) -> Connection | None:
    """The connection, or None if ``stop`` came first (a modem bring-up can take minutes)."""
    task = asyncio.ensure_future(connecting)
    stopper = stop_signal(stop)
    try:
        done, _ = await asyncio.wait((task, stopper), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if task in done:
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, LinkError):
        await task
    return None


async def _sleep_or_stop(delay: float, stop: asyncio.Event) -> None:
    if stop.is_set():
        return
    stopper = stop_signal(stop)
    try:
        await asyncio.wait((stopper,), timeout=delay)
    finally:
        stopper.cancel()
