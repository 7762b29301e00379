"""Seeded link profiles of a cellular fleet: what the network does to each charger.

A profile (``--profile lte-weak``) gives each charger's emulated modem

* an AT latency drawn per charger from a range (ms before every response: QISEND
  and WSSEND included, so every WebSocket frame pays it),
* a share of sends answered ``SEND FAIL`` (the emulator's ``send_fail`` fault,
  armed as the send command crosses the wire),
* network-side PDP deactivations per hour (EC200U ``+QIURC: "pdpdeact"``; an
  ESP-AT has no PDP context, so its WebSocket is dropped instead),
* cell outages that take a share of the fleet off the network at once ("10 % of
  the chargers lose the cell for 60 s every 30 min"): the EC200U moves to the
  emulator's ``no-signal`` field profile and back, the ESP-AT loses its access point,
* the EC200U field profile the rest of the time (``weak-signal`` is 4x slower).

Everything is drawn from ``random.Random`` seeded by the fleet seed and the
charger's index (or the outage's number), never by what happened at run time,
so the same seed gives the same latencies, the same PDP times and the same
chargers in every outage.  ``NAME[,key=value...]`` overrides a profile's fields:
``lte-good,outage=10%/60s/30m,send-fail=1%,pdp=2/h,latency=50..200``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from chargepoint.fleet.ids import FleetUsageError
from chargepoint.fleet.quantities import (
    QuantityError,
    parse_duration,
    parse_rate,
    parse_share,
    parse_span,
)

MAX_SPEC = 200
"""A bound on ``--profile``'s text before it is parsed."""
MAX_LATENCY_MS = 60_000


class LinkProfileError(FleetUsageError):
    """A ``--profile`` that does not parse; the message names the part and the rule."""


@dataclass(frozen=True)
class CellOutages:
    """``share`` of the fleet loses the cell for ``length`` seconds every ``every`` seconds."""

    share: float = 0.0
    length: float = 0.0
    every: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.share > 0 and self.length > 0 and self.every > 0


@dataclass(frozen=True)
class LinkProfile:
    name: str
    latency_ms: tuple[int, int] = (0, 0)
    """Per-charger AT latency, drawn uniformly from this range (ms)."""
    send_fail: float = 0.0
    """Share of sends answered SEND FAIL."""
    pdp_per_hour: float = 0.0
    """Network PDP deactivations per charger per hour (ESP-AT: WebSocket drops)."""
    outages: CellOutages = CellOutages()
    modem_profile: str = "ok"
    """The EC200U emulator's field profile outside outages (``weak-signal``: slow network)."""


PROFILES: dict[str, LinkProfile] = {
    p.name: p
    for p in (
        LinkProfile("lte-good", latency_ms=(20, 60)),
        LinkProfile(
            "lte-weak",
            latency_ms=(150, 400),
            send_fail=0.01,
            pdp_per_hour=0.5,
            outages=CellOutages(0.05, 120.0, 3600.0),
            modem_profile="weak-signal",
        ),
        LinkProfile(
            "lte-congested",
            latency_ms=(300, 1200),
            send_fail=0.03,
            pdp_per_hour=2.0,
            outages=CellOutages(0.10, 60.0, 1800.0),
        ),
        LinkProfile("cell-outages", latency_ms=(40, 100), outages=CellOutages(0.10, 60.0, 1800.0)),
        LinkProfile("ideal"),
    )
}


def _latency(text: str) -> tuple[int, int]:
    span = parse_span(text, float, what="latency (ms)")
    if span.high > MAX_LATENCY_MS:
        raise QuantityError(f"{text!r}: more than {MAX_LATENCY_MS} ms")
    return int(span.low), int(span.high)


def _outages(text: str) -> CellOutages:
    parts = text.split("/")
    if len(parts) != 3:
        raise QuantityError(f"{text!r} is not SHARE/LENGTH/EVERY (e.g. 10%/60s/30m)")
    share, length, every = parse_share(parts[0]), parse_duration(parts[1]), parse_duration(parts[2])
    if share > 0 and not 0 < length < every:
        raise QuantityError(f"{text!r}: an outage must be shorter than the time between two")
    return CellOutages(share, length, every)


def parse_link_profile(text: str) -> LinkProfile:
    """``lte-weak`` or ``lte-good,send-fail=2%,pdp=1/h,outage=10%/60s/30m,latency=50..200``."""
    if len(text) > MAX_SPEC:
        raise LinkProfileError(f"--profile: longer than {MAX_SPEC} characters")
    name, *overrides = [part.strip() for part in text.split(",")]
    if name not in PROFILES:
        raise LinkProfileError(f"--profile: unknown profile {name!r}; known: {', '.join(PROFILES)}")
    profile = PROFILES[name]
    for part in overrides:
        key, sep, value = part.partition("=")
        key = key.strip()
        try:
            if not sep:
                raise QuantityError("expected key=value")
            if key == "latency":
                profile = replace(profile, latency_ms=_latency(value))
            elif key == "send-fail":
                profile = replace(profile, send_fail=parse_share(value))
            elif key == "pdp":
                profile = replace(profile, pdp_per_hour=parse_rate(value) * 3600)
            elif key == "outage":
                profile = replace(profile, outages=_outages(value))
            else:
                raise QuantityError(f"unknown key {key!r}; known: latency, send-fail, pdp, outage")
        except QuantityError as exc:
            raise LinkProfileError(f"--profile: {part!r}: {exc}") from None
    return profile


@dataclass(frozen=True)
class ChargerLink:
    """What the profile drew for one charger."""

    index: int
    latency_ms: int
    send_fail: float
    pdp_rng: random.Random
    """Draws this charger's PDP deactivation times, and nothing else."""
    send_rng: random.Random
    """Draws which sends fail, and nothing else."""


def draw_charger(profile: LinkProfile, seed: int, index: int) -> ChargerLink:
    rng = random.Random(f"cpsim-link:{seed}:{index}")
    low, high = profile.latency_ms
    latency = rng.randint(low, high) if high > low else low
    return ChargerLink(
        index,
        latency,
        profile.send_fail,
        random.Random(f"cpsim-pdp:{seed}:{index}"),
        random.Random(f"cpsim-sendfail:{seed}:{index}"),
    )


def next_pdp_gap(profile: LinkProfile, charger: ChargerLink) -> float | None:
    """Seconds until this charger's next PDP deactivation (a Poisson process), or None."""
    if profile.pdp_per_hour <= 0:
        return None
    return charger.pdp_rng.expovariate(profile.pdp_per_hour / 3600)


@dataclass(frozen=True)
class Outage:
    number: int
    start: float
    """Seconds since the fleet's faults started."""
    end: float
    chargers: tuple[int, ...]
    """Indices of the chargers that lose the cell, sorted."""


def plan_outage(profile: LinkProfile, seed: int, number: int, indices: list[int]) -> Outage:
    """The ``number``-th outage (from 0): at ``(number + 1) * every``, for ``length``,
    ``round(share * len(indices))`` chargers drawn from ``indices``."""
    spec = profile.outages
    start = (number + 1) * spec.every
    ordered = sorted(indices)
    count = round(spec.share * len(ordered))
    chosen = random.Random(f"cpsim-outage:{seed}:{number}").sample(ordered, count)
    return Outage(number, start, start + spec.length, tuple(sorted(chosen)))
