"""Runs the chargers of one fleet process: one asyncio loop, one store, one sampler.

Each charger is its own sans-I/O core in its own :class:`Station` with the shared
store (its rows keyed by its id, committed by group commit: one transaction per
loop tick for every charger that persisted in it) and the real :func:`run_station`
(reconnects with its own seeded back-off).  Its timers are ``loop.call_at``
handles on the loop's one heap, not tasks; on the direct link (ws:// and wss://) its
session and its WebSocket run on callbacks (:class:`~chargepoint.transport.wsprotocol.
WebSocketOverTransport`), so a booted charger holds one task, its own.  Connects in
flight are bounded (:data:`MAX_CONNECTING`) so a boot storm queues here instead of
overflowing the CSMS's accept backlog into SYN retransmits.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from chargepoint.assembly import ChargerSpec, build_station, check_options, with_tls_files
from chargepoint.clocks import Clock, real_clock
from chargepoint.core.settings import Identity
from chargepoint.station.runner import Backoff, run_station
from chargepoint.station.shell import StationOptions
from chargepoint.store import Store, StoreError
from chargepoint.transport.base import Connection, Link
from chargepoint.transport.tlssettings import TlsSettings

from .ids import ShardSpec
from .links import LinkFactory, connect_slots, factory_counts
from .linkwrap import DelegatingLink
from .report import FleetReportWriter
from .stats import (
    FleetStats,
    MeteredLink,
    cpu_seconds,
    peak_rss_mib,
    rss_mib,
)

log = logging.getLogger("cpsim.fleet")

MAX_CONNECTING = 64
"""WebSocket handshakes in flight at once, fleet-wide: below the accept backlog a
server gets by default (asyncio's and websockets' 100), as more SYNs than that are
dropped and retransmitted after a second.  A link factory whose connect is mostly
something else (an emulated modem's bring-up) says its own ``connect_slots``."""
GC_THRESHOLDS = (10_000, 20, 100)
"""The cyclic collector during a fleet run: a young collection every 10,000
allocations instead of 700.  With the objects of every booted charger frozen
(:func:`gc.freeze`), this took the collector from 40 % of the CPU of a boot storm
to 8 % (3,000 chargers: 2.1 -> 1.3 ms of CPU per boot)."""
STOP_WAIT = 15.0
"""Seconds the chargers get to close their links with 1000 at the end."""


@dataclass
class FleetPlan:
    ids: list[str]
    numbers: range
    urls: list[str]
    """One per charger."""
    total: int
    shard: ShardSpec = field(default_factory=ShardSpec)
    connectors: int = 2
    ramp_up: float | None = None
    """Chargers started per second; None: as fast as the connects go."""
    duration: float | None = None
    seed: int = 0
    tls: TlsSettings | None = None
    """wss:// with a CA file: the core learns which TLS files there are (WP A05)."""


@dataclass
class FleetSummary:
    record: dict[str, Any]
    exit_code: int


class JitterSource:
    """A charger's seeded source of back-off jitter: 64-bit SplitMix, a few bytes where a
    ``random.Random`` keeps 2.5 KiB of Mersenne Twister state per charger.  Only
    :meth:`uniform` (all :class:`Backoff` draws) is offered."""

    __slots__ = ("_state",)
    _MASK = (1 << 64) - 1

    def __init__(self, seed: int) -> None:
        self._state = seed & self._MASK

    def uniform(self, a: float, b: float) -> float:
        self._state = (self._state + 0x9E3779B97F4A7C15) & self._MASK
        z = self._state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self._MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self._MASK
        z ^= z >> 31
        return a + (b - a) * (z >> 11) / (1 << 53)


class _BoundedLink(DelegatingLink):
    """A link whose connects wait for a slot of the fleet's connect semaphore."""

    def __init__(self, inner: Link, slots: asyncio.Semaphore) -> None:
        super().__init__(inner)
        self._slots = slots

    async def connect(self) -> Connection:
        async with self._slots:
            return await self.inner.connect()


class Fleet:
    def __init__(
        self,
        plan: FleetPlan,
        store: Store,
        links: LinkFactory,
        writer: FleetReportWriter,
        clock: Clock | None = None,
        on_sample: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.plan = plan
        self.store = store
        store.group_commit = True
        self.links = links
        self.writer = writer
        self.clock = clock or real_clock()
        self.stats = FleetStats(writer, extra_counts=lambda: factory_counts(links))
        self.on_sample = on_sample
        self._tasks: set[asyncio.Task[None]] = set()
        self._build_errors_logged: set[str] = set()  # exception types logged with a trace
        self.ended_by_duration = False
        self._slots = asyncio.Semaphore(connect_slots(links, MAX_CONNECTING))
        self.options = StationOptions(connectors=plan.connectors, diagnostics_available=False)
        if plan.tls is not None:  # one copy of the CA roots for every charger
            self.options = with_tls_files(self.options, plan.tls)
        check_options(self.options)  # once for all (build_station would for each)

    async def run(self, stop: asyncio.Event) -> FleetSummary:
        thresholds = gc.get_threshold()
        gc.set_threshold(*GC_THRESHOLDS)
        try:
            return await self._run(stop)
        finally:
            gc.set_threshold(*thresholds)

    async def _run(self, stop: asyncio.Event) -> FleetSummary:
        started_wall = datetime.now(UTC)
        plan = self.plan
        rss_before = rss_mib()
        tasks_before = len(asyncio.all_tasks())
        steady: dict[str, float] = {}
        stopper: asyncio.Task[Any] | None = None
        if plan.duration is not None:
            stopper = asyncio.get_running_loop().create_task(self._stop_after(stop))
        sampler = asyncio.create_task(self._sample_until(stop, steady, tasks_before))
        try:
            await self._launch(stop)
            await stop.wait()
        finally:
            stop.set()
            await self._stop_all()
            sampler.cancel()
            if stopper is not None:
                stopper.cancel()
            with contextlib.suppress(StoreError):
                self.store.flush()
            closer = getattr(self.links, "aclose", None)
            if closer is not None:  # a factory with resources of its own (emulated modems)
                await closer()
            self.writer.flush()
        return self._summary(started_wall, rss_before, steady)

    async def _stop_after(self, stop: asyncio.Event) -> None:
        assert self.plan.duration is not None
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.plan.duration):
                await stop.wait()
        if not stop.is_set():
            self.ended_by_duration = True
        stop.set()

    async def _launch(self, stop: asyncio.Event) -> None:
        plan = self.plan
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for k, (number, cp, url) in enumerate(zip(plan.numbers, plan.ids, plan.urls, strict=True)):
            if stop.is_set():
                return
            if plan.ramp_up:
                delay = t0 + k / plan.ramp_up - loop.time()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(delay):
                            await stop.wait()
                    if stop.is_set():
                        return
            elif k % 100 == 99:
                await asyncio.sleep(0)  # let the started ones connect meanwhile
            task = loop.create_task(self._charger(number, cp, url, stop), name=cp)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            self.stats.launched += 1

    async def _charger(self, number: int, cp: str, url: str, stop: asyncio.Event) -> None:
        status = self.stats.add(cp)
        try:
            station = build_station(
                ChargerSpec(
                    Identity(cp, serial=cp),
                    self.options,
                    self.clock,
                    store=self.store,
                    options_checked=True,
                )
            )
            link = self.links(station, number, url)
        except (StoreError, ValueError, KeyError) as exc:
            self.stats.on_failed(status, f"could not be built: {exc}")
            return
        except Exception as exc:  # a bug (a link factory's, say): this charger only fails
            kind = type(exc).__name__
            if kind not in self._build_errors_logged:  # once, not once per charger
                self._build_errors_logged.add(kind)
                log.error("%s could not be built", cp, exc_info=exc)
            self.stats.on_failed(status, f"could not be built: {kind}: {exc}")
            return
        stats = self.stats
        station.timeline.listen(
            lambda event: (
                stats.on_session(status, event["state"]) if event.get("kind") == "session" else None
            )
        )
        metered = MeteredLink(_BoundedLink(link, self._slots), stats, status, url)
        jitter = JitterSource(self.plan.seed * 1_000_003 + number)
        backoff = Backoff(rng=cast(random.Random, jitter))
        try:
            await run_station(station, metered, stop, backoff)
        except Exception as exc:  # one charger's bug must not end the fleet
            log.exception("%s stopped", cp)
            stats.on_failed(status, f"stopped: {type(exc).__name__}: {exc}")

    async def _stop_all(self) -> None:
        tasks = list(self._tasks)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=STOP_WAIT)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=2)

    async def _sample_until(
        self, stop: asyncio.Event, steady: dict[str, float], tasks_before: int
    ) -> None:
        count = len(self.plan.ids)
        while not stop.is_set():
            await asyncio.sleep(1.0)
            record = self.stats.sample()
            self.writer.flush()
            if not steady:
                # booting: what the chargers built is long-lived; the collector stops
                # scanning it (a full collection of 10,000 chargers' objects takes ~1 s)
                gc.freeze()
            if self.stats.booted == count and self.stats.launched == count:
                if not steady:
                    gc.collect()  # the boot's garbage, once, then freeze what lives on
                    gc.freeze()
                # steady: every charger booted; the last such sample is the steady state
                steady["rss"] = rss_mib()
                steady["tasks"] = len(asyncio.all_tasks()) - tasks_before
                steady.setdefault("since", time.monotonic())
                steady.setdefault("cpu0", cpu_seconds())
                steady["cpu"] = cpu_seconds()
                steady["until"] = time.monotonic()
            if self.on_sample is not None:
                self.on_sample(record)

    def _summary(
        self,
        started_wall: datetime,
        rss_before: float,
        steady: dict[str, float],
    ) -> FleetSummary:
        stats, plan = self.stats, self.plan
        count = len(plan.ids)
        failures = stats.failures()
        never = sum(failures.values())
        steady_rss = steady.get("rss")
        span = steady.get("until", 0.0) - steady.get("since", 0.0)
        record: dict[str, Any] = {
            "started": started_wall.isoformat(timespec="seconds"),
            "duration_s": round(stats.now(), 2),
            "count": count,
            "total": plan.total,
            "shard": str(plan.shard),
            "first_id": plan.ids[0] if plan.ids else None,
            "last_id": plan.ids[-1] if plan.ids else None,
            "ids_sha256": _ids_digest(plan.ids),
            "booted": stats.booted,
            "never_booted": never,
            "failures": failures,
            "sent": stats.sent,
            "received": stats.received,
            "errors": stats.errors,
            "all_booted_s": stats.last_boot if stats.booted == count else None,
            "latency_ms": stats.latency_ms(),
            "rss_mib": {
                "before": round(rss_before, 1),
                "steady": round(steady_rss, 1) if steady_rss is not None else None,
                "peak": round(max(peak_rss_mib(), steady_rss or 0.0), 1),
            },
            "per_charger_kib": (
                round((steady_rss - rss_before) * 1024 / count, 1)
                if steady_rss is not None and count
                else None
            ),
            "tasks_per_charger": round(steady["tasks"] / count, 2) if "tasks" in steady else None,
            "steady_cpu_percent": (
                round(100 * (steady["cpu"] - steady["cpu0"]) / span, 1) if span >= 5 else None
            ),
        }
        code = 0 if never == 0 else 1
        if plan.duration is not None and not self.ended_by_duration:
            code = 130  # stopped (Ctrl+C, SIGTERM) before its --duration was over
        record["ended_by"] = "duration" if self.ended_by_duration else "stop"
        record["exit_code"] = code
        record.update(factory_counts(self.links))  # transactions, link_faults
        self.writer.summary(record)
        return FleetSummary(record, code)


def _ids_digest(ids: list[str]) -> str:
    import hashlib

    return hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]


def open_fleet_store(state_dir: Path) -> Store:
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return Store.open(state_dir)
