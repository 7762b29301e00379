"""The automatic transaction generator: seeded charging sessions for a fleet.

``--transactions 'rate=2/h,duration=30m..2h,energy=5..40kWh,invalid=5%,seed=7'``:

=============  ==========================================================  ===========
key            meaning                                                     default
=============  ==========================================================  ===========
rate           arrivals per charger (``2/h``, ``10/d``, ``1/45m``)           (one of
fleet-rate     arrivals for the whole fleet, shared evenly                  the two)
duration       how long the EV stays plugged in (a range: uniform)          ``30m..2h``
energy         what the EV wants, kWh (its SoC is set so it can take it)    SoC 10..80 %
invalid        share of sessions presenting an invalid idTag                ``0%``
tags           idTags of valid cards, ``|``-separated                       ``ATG0001``..
invalid-tags   idTags the CSMS rejects, ``|``-separated                     ``INVALID``
ev             EV models (:data:`EV_MODELS`), ``|``-separated               all
seed           the generator's seed                                         ``0``
=============  ==========================================================  ===========

A session: the EV arrives at a free connector (none free: it drives on, counted as
turned away), is plugged in, its battery set (:meth:`Station.set_ev`: capacity,
SoC, max current, phases), the card presented; at the end of its stay the
transaction is stopped (``Local``, as with the card) and the cable pulled.  An
invalid card's driver gives up after :data:`GIVE_UP` and unplugs.

The plan of each charger is a pure function of the seed and the charger's index
(:func:`plan_charger`): the same seed gives the same sessions whatever happens on
the network.  :class:`TransactionGenerator` plays the plans of a fleet on ONE task
and the stations' own clock (virtual time applies).  What came of them, read from the
chargers' timelines (:class:`GeneratorCounts`: transactions started and stopped, their
energy, invalid idTags presented, authorizations refused), goes in the fleet's samples,
summary and live progress as ``transactions`` (:class:`TransactionLinks`).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from chargepoint.clocks import Clock
from chargepoint.fleet.ids import FleetUsageError
from chargepoint.fleet.links import LinkFactory, connect_slots, factory_counts
from chargepoint.fleet.linkwrap import ReleasingLink
from chargepoint.fleet.quantities import (
    QuantityError,
    Span,
    parse_duration,
    parse_rate,
    parse_share,
    parse_span,
)
from chargepoint.station.shell import Station
from chargepoint.transport.base import Link

log = logging.getLogger(__name__)

MAX_SPEC = 2000
MAX_TAGS = 10_000
MAX_TAG_LENGTH = 20
"""OCPP 1.6 IdToken is CiString20Type (§7.28)."""
MIN_DURATION = 60.0
MAX_DURATION = 7 * 86400.0
MAX_ENERGY_KWH = 500.0
GIVE_UP = 60.0
"""Seconds a driver whose card was refused waits before unplugging."""
DEFAULT_TAGS = tuple(f"ATG{n:04d}" for n in range(1, 101))


@dataclass(frozen=True)
class EvKind:
    """A kind of EV the generator brings: battery, on-board charger."""

    name: str
    capacity_kwh: float
    max_current_a: float
    """Per phase."""
    phases: int


EV_MODELS: dict[str, EvKind] = {
    m.name: m
    for m in (
        EvKind("compact-40", 40.0, 16.0, 3),
        EvKind("midsize-60", 60.0, 16.0, 3),
        EvKind("large-90", 90.0, 32.0, 3),
        EvKind("single-phase-50", 50.0, 32.0, 1),
        EvKind("plugin-hybrid-12", 12.0, 16.0, 1),
    )
}


class TransactionSpecError(FleetUsageError):
    """A ``--transactions`` spec that does not parse; the message names the part."""


@dataclass(frozen=True)
class TransactionSpec:
    rate: float
    """Arrivals per second per charger (a fleet rate is divided by the fleet size)."""
    per_fleet: bool = False
    duration: Span = Span(1800.0, 7200.0)
    energy_kwh: Span | None = None
    invalid: float = 0.0
    tags: tuple[str, ...] = DEFAULT_TAGS
    invalid_tags: tuple[str, ...] = ("INVALID",)
    ev_models: tuple[EvKind, ...] = tuple(EV_MODELS.values())
    seed: int = 0

    def charger_rate(self, fleet_size: int) -> float:
        return self.rate / max(1, fleet_size) if self.per_fleet else self.rate


_TAG = re.compile(r"[\x21-\x7e]{1,20}")
_KEYS = (
    "rate",
    "fleet-rate",
    "duration",
    "energy",
    "invalid",
    "tags",
    "invalid-tags",
    "ev",
    "seed",
)


def _tags(text: str) -> tuple[str, ...]:
    tags = tuple(t.strip() for t in text.split("|"))
    if len(tags) > MAX_TAGS:
        raise QuantityError(f"more than {MAX_TAGS} tags")
    for tag in tags:
        if not _TAG.fullmatch(tag) or "," in tag:
            raise QuantityError(
                f"{tag!r} is not an idTag (1 to {MAX_TAG_LENGTH} printable characters, "
                "OCPP 1.6 CiString20Type)"
            )
    return tags


def _energy(text: str) -> Span:
    def kwh(part: str) -> float:
        part = part.strip()
        part = part[:-3] if part.lower().endswith("kwh") else part
        try:
            return float(part)
        except ValueError:
            raise QuantityError(f"{part!r} is not a number of kWh") from None

    span = parse_span(text, kwh, what="energy")
    if not (span.low > 0 and span.high <= MAX_ENERGY_KWH):
        raise QuantityError(f"{text!r}: energy must be above 0 and at most {MAX_ENERGY_KWH} kWh")
    return span


def _duration(text: str) -> Span:
    span = parse_span(text, parse_duration, what="duration")
    if span.low < MIN_DURATION or span.high > MAX_DURATION:
        raise QuantityError(f"{text!r}: a stay must be from 1 min to 7 days")
    return span


def _models(text: str) -> tuple[EvKind, ...]:
    names = [n.strip() for n in text.split("|")]
    unknown = [n for n in names if n not in EV_MODELS]
    if unknown:
        raise QuantityError(f"unknown EV model {unknown[0]!r}; known: {', '.join(EV_MODELS)}")
    return tuple(EV_MODELS[n] for n in names)


def parse_transaction_spec(text: str) -> TransactionSpec:
    """Parse an ATG-SPEC; :class:`TransactionSpecError` names the part and the rule."""
    if len(text) > MAX_SPEC:
        raise TransactionSpecError(f"--transactions: longer than {MAX_SPEC} characters")
    fields: dict[str, object] = {}
    seen: set[str] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, value = (s.strip() for s in part.partition("="))
        try:
            if not sep:
                raise QuantityError("expected key=value")
            if key not in _KEYS:
                raise QuantityError(f"unknown key {key!r}; known: {', '.join(_KEYS)}")
            if key in seen:
                raise QuantityError(f"{key} given twice")
            seen.add(key)
            if key in ("rate", "fleet-rate"):
                fields["rate"] = parse_rate(value)
                fields["per_fleet"] = key == "fleet-rate"
            elif key == "duration":
                fields["duration"] = _duration(value)
            elif key == "energy":
                fields["energy_kwh"] = _energy(value)
            elif key == "invalid":
                fields["invalid"] = parse_share(value)
            elif key == "tags":
                fields["tags"] = _tags(value)
            elif key == "invalid-tags":
                fields["invalid_tags"] = _tags(value)
            elif key == "ev":
                fields["ev_models"] = _models(value)
            elif not re.fullmatch(r"\d{1,18}", value):
                raise QuantityError(f"{value!r} is not a seed (a whole number)")
            else:
                fields["seed"] = int(value)
        except QuantityError as exc:
            raise TransactionSpecError(f"--transactions: {part!r}: {exc}") from None
    if "rate" in seen and "fleet-rate" in seen:
        raise TransactionSpecError(
            "--transactions: give rate= (per charger) or fleet-rate=, not both"
        )
    if "rate" not in fields:
        raise TransactionSpecError(
            "--transactions: no arrival rate; add rate=2/h (per charger) or fleet-rate=100/h"
        )
    return TransactionSpec(**fields)  # type: ignore[arg-type]


# -- the plan ------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedSession:
    charger: int
    """The charger's index in the fleet."""
    number: int
    """The charger's n-th arrival (from 0)."""
    arrive: float
    """Seconds after the generator's start."""
    leave: float
    connector: int | None
    """None: every connector was busy, the EV drove on."""
    id_tag: str
    valid: bool
    ev: EvKind
    soc: float
    """Percent at arrival."""

    @property
    def wanted_kwh(self) -> float:
        return self.ev.capacity_kwh * (100 - self.soc) / 100


def plan_charger(
    spec: TransactionSpec, index: int, connectors: int, fleet_size: int
) -> Iterator[PlannedSession]:
    """Charger ``index``'s sessions in arrival order (endless while the rate is above 0)."""
    rate = spec.charger_rate(fleet_size)
    if rate <= 0:
        return
    rng = random.Random(f"cpsim-atg:{spec.seed}:{index}")
    busy_until = [0.0] * connectors
    t = 0.0
    for number in itertools.count():
        t += rng.expovariate(rate)
        stay = spec.duration.draw(rng.random())
        valid = rng.random() >= spec.invalid
        tags = spec.tags if valid else spec.invalid_tags
        tag = tags[rng.randrange(len(tags))]
        ev = spec.ev_models[rng.randrange(len(spec.ev_models))]
        if spec.energy_kwh is None:
            soc = 10 + 70 * rng.random()
        else:
            wanted = min(spec.energy_kwh.draw(rng.random()), ev.capacity_kwh * 0.95)
            soc = 100 * (1 - wanted / ev.capacity_kwh)
        free = [c for c in range(connectors) if busy_until[c] <= t]
        connector = free[0] + 1 if free else None
        leave = t + (stay if valid else min(stay, GIVE_UP))
        if connector is not None:
            busy_until[connector - 1] = leave
        yield PlannedSession(index, number, t, leave, connector, tag, valid, ev, round(soc, 1))


# -- playing the plan ----------------------------------------------------------------


class ChargingStation(Protocol):
    """What the generator does at a charger (:class:`~chargepoint.station.shell.Station`)."""

    def plug_in(self, connector_id: int) -> None: ...

    def unplug(self, connector_id: int) -> None: ...

    def set_ev(
        self,
        connector_id: int,
        capacity_wh: float | None = None,
        soc: float | None = None,
        max_current_a: float | None = None,
        phases: int | None = None,
        power_w: float | None = None,
        paused: bool | None = None,
    ) -> None: ...

    def present_card(self, connector_id: int, id_tag: str) -> None: ...

    def stop_transaction(self, connector_id: int, reason: str = "Local") -> None: ...


@dataclass
class GeneratorCounts:
    """What the generator did, and what the chargers made of it (their timelines)."""

    arrived: int = 0
    turned_away: int = 0
    """Every connector was busy: the EV drove on."""
    invalid_cards: int = 0
    """Sessions that presented an invalid idTag (the plan's share ``invalid``)."""
    departed: int = 0
    failed: int = 0
    """The station refused the plug (a connector it does not have)."""
    refused: int = 0
    """Authorizations the charger decided as not Accepted (the CSMS's, its cache's or its
    list's answer: OCPP 1.6 §3.5), whoever presented the card."""
    started: int = 0
    """Transactions the chargers started (StartTransaction queued)."""
    stopped: int = 0
    """Transactions the chargers stopped (the generator's departures, and any other end)."""
    energy_wh: float = 0.0
    """Energy of the stopped transactions: meterStop - meterStart, summed."""
    sessions: list[PlannedSession] = field(default_factory=list)
    """Every session that plugged in (kept only with ``keep_sessions``)."""

    def describe(self) -> str:
        return (
            f"{self.arrived:,} EVs arrived, {self.turned_away:,} turned away (connectors busy), "
            f"{self.invalid_cards:,} with an invalid card ({self.refused:,} refused), "
            f"{self.started:,} transactions started, {self.stopped:,} stopped "
            f"({self.energy_wh / 1000:,.1f} kWh), {self.departed:,} left"
            + (f", {self.failed:,} could not plug in" if self.failed else "")
        )

    def as_dict(self) -> dict[str, int | float]:
        """The counts of a fleet sample and summary (``transactions``)."""
        return {
            "arrived": self.arrived,
            "turned_away": self.turned_away,
            "invalid_tags": self.invalid_cards,
            "refused": self.refused,
            "started": self.started,
            "stopped": self.stopped,
            "energy_kwh": round(self.energy_wh / 1000, 3),
            "departed": self.departed,
            "failed": self.failed,
        }


_Due = tuple[float, int, int, str, PlannedSession]


class TransactionGenerator:
    """Plays the plans of a fleet's chargers on ONE task.

    ``add(station, index)`` as each charger is built (a fleet ramping up adds them one
    by one; ``index``: the charger's number in the whole fleet, so its sessions do not
    depend on the shard it runs in), ``remove(index)`` when it stops.  Time 0 of every
    plan is the first ``add``: a charger added later skips the arrivals it missed (its
    plan stays the one it had from time 0, so a seed gives the same sessions whatever
    the ramp-up).
    The task ends when the last charger is removed, or :meth:`aclose`.
    ``await run(duration)`` plays for ``duration`` seconds of the stations' clock.
    """

    def __init__(
        self,
        spec: TransactionSpec,
        *,
        connectors: int = 1,
        fleet_size: int = 1,
        clock: Clock | None = None,
        keep_sessions: bool = False,
    ) -> None:
        self.spec = spec
        self.connectors = connectors
        self.fleet_size = fleet_size
        self.clock = clock
        self.keep_sessions = keep_sessions
        self.counts = GeneratorCounts()
        self._stations: dict[int, ChargingStation] = {}
        self._plans: dict[int, Iterator[PlannedSession]] = {}
        self._unlisten: dict[int, Callable[[], None]] = {}
        self._meter_start: dict[tuple[int, Any], float] = {}
        """meterStart of each open transaction, by (charger, local transaction id)."""
        self._due: list[_Due] = []
        self._order = itertools.count()
        self._added = asyncio.Event()
        self._t0: float | None = None
        self._task: asyncio.Task[None] | None = None

    # -- chargers in and out -----------------------------------------------------
    def add(self, station: ChargingStation, index: int) -> None:
        """Bring sessions to ``station`` (charger ``index`` of the fleet); on the loop."""
        if self.clock is None:
            clock = getattr(station, "clock", None)
            if not isinstance(clock, Clock):
                raise TypeError("the generator needs a clock: give clock= or a Station")
            self.clock = clock
        if self._t0 is None:
            self._t0 = self.clock.time()
        self._stations[index] = station
        self._plans[index] = plan_charger(self.spec, index, self.connectors, self.fleet_size)
        timeline = getattr(station, "timeline", None)
        if timeline is not None and index not in self._unlisten:
            self._unlisten[index] = timeline.listen(lambda event: self._observe(index, event))
        self._next_arrival(index, not_before=self.clock.time() - self._t0)
        if self._task is None:
            self._task = asyncio.create_task(self._play(), name="transaction-generator")
        self._added.set()

    def remove(self, index: int) -> None:
        """Charger ``index`` stopped: no more sessions for it."""
        self._stations.pop(index, None)
        self._plans.pop(index, None)
        unlisten = self._unlisten.pop(index, None)
        if unlisten is not None:
            unlisten()
        if not self._stations and self._task is not None:
            self._task.cancel()
            self._task = None

    def _observe(self, index: int, event: dict[str, Any]) -> None:
        """A charger's timeline event: count its transactions, energy and refusals."""
        kind = event.get("kind")
        counts = self.counts
        if kind == "transaction":
            if "started" in event:
                counts.started += 1
                start = event.get("meterStart")
                if isinstance(start, int | float):
                    self._meter_start[(index, event["started"])] = float(start)
            elif "stopped" in event:
                counts.stopped += 1
                start = self._meter_start.pop((index, event["stopped"]), None)
                stop = event.get("meterStop")
                if start is not None and isinstance(stop, int | float) and stop >= start:
                    counts.energy_wh += stop - start
        elif kind == "authorize" and event.get("status") != "Accepted":
            counts.refused += 1

    def _next_arrival(self, index: int, not_before: float = 0.0) -> None:
        plan = self._plans.get(index)
        if plan is None:
            return
        for session in plan:
            if session.arrive >= not_before:
                heapq.heappush(
                    self._due, (session.arrive, next(self._order), index, "arrive", session)
                )
                return

    # -- playing ------------------------------------------------------------------
    async def run(self, duration: float) -> GeneratorCounts:
        """Play for ``duration`` seconds of the clock from now, then stop."""
        if self.clock is None or self._t0 is None:
            raise RuntimeError("add the chargers before run()")
        await self.clock.sleep_until(self.clock.time() + duration)
        await self.aclose()
        return self.counts

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _play(self) -> None:
        assert self.clock is not None and self._t0 is not None
        clock, t0 = self.clock, self._t0
        while True:
            if not self._due:
                self._added.clear()
                await self._added.wait()
                continue
            t, _, index, kind, session = self._due[0]
            wait = t0 + t - clock.time()
            if wait > 0:
                # wake at the due time, or earlier when a charger brings an earlier arrival
                self._added.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(clock.real(wait)):
                        await self._added.wait()
                continue
            heapq.heappop(self._due)
            station = self._stations.get(index)
            if station is None:
                continue  # removed meanwhile
            if kind == "arrive":
                self._next_arrival(index)
                if self._arrive(station, session):
                    heapq.heappush(
                        self._due, (session.leave, next(self._order), index, "leave", session)
                    )
            else:
                self._leave(station, session)

    def _arrive(self, station: ChargingStation, session: PlannedSession) -> bool:
        self.counts.arrived += 1
        if session.connector is None:
            self.counts.turned_away += 1
            return False
        c, ev = session.connector, session.ev
        try:
            station.plug_in(c)
            station.set_ev(
                c,
                capacity_wh=ev.capacity_kwh * 1000,
                soc=session.soc,
                max_current_a=ev.max_current_a,
                phases=ev.phases,
            )
            station.present_card(c, session.id_tag)
        except (KeyError, ValueError) as exc:  # a connector the station does not have
            log.error("charger %d: session %d: %s", session.charger, session.number, exc)
            self.counts.failed += 1
            return False
        if self.keep_sessions:
            self.counts.sessions.append(session)
        if not session.valid:
            self.counts.invalid_cards += 1
        return True

    def _leave(self, station: ChargingStation, session: PlannedSession) -> None:
        assert session.connector is not None
        station.stop_transaction(session.connector, "Local")
        station.unplug(session.connector)
        self.counts.departed += 1


class TransactionLinks:
    """``links`` whose chargers also get the generator's sessions (``--transactions``):
    each charger joins the generator as its link is made and leaves when it closes.
    What the inner factory says (``connect_slots``, ``counts()``, ``aclose()``) passes
    through; ``counts()`` adds the generator's as ``transactions``."""

    def __init__(self, links: LinkFactory, generator: TransactionGenerator) -> None:
        self.links, self.generator = links, generator
        self.connect_slots: int | None = connect_slots(links, 0) or None
        self.cellular = getattr(links, "cellular", None)

    def __call__(self, station: Station, index: int, url: str) -> Link:
        link = self.links(station, index, url)
        generator = self.generator
        generator.add(station, index)

        async def release() -> None:
            generator.remove(index)

        return ReleasingLink(link, release)

    def counts(self) -> dict[str, dict[str, int | float]]:
        return {**factory_counts(self.links), "transactions": self.generator.counts.as_dict()}

    async def aclose(self) -> None:
        await self.generator.aclose()
        closer = getattr(self.links, "aclose", None)
        if closer is not None:
            await closer()


def with_transactions(links: LinkFactory, generator: TransactionGenerator) -> TransactionLinks:
    """See :class:`TransactionLinks`."""
    return TransactionLinks(links, generator)


def transaction_generator(
    text: str | None, *, connectors: int, fleet_size: int
) -> TransactionGenerator | None:
    """The generator ``--transactions`` asks for (None without one); clear errors."""
    if text is None:
        return None
    return TransactionGenerator(
        parse_transaction_spec(text), connectors=connectors, fleet_size=fleet_size
    )
