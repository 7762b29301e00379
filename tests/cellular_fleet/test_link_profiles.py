"""Seeded link profiles: per-charger draws, PDP deactivations and cell outages."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from chargepoint.fleet.cellular import CellularKind
from chargepoint.fleet.linkprofiles import (
    PROFILES,
    LinkProfileError,
    draw_charger,
    next_pdp_gap,
    parse_link_profile,
    plan_outage,
)
from chargepoint.virtualtime import run_virtual

from .harness import SmallFleet, with_fleet


def test_the_same_seed_draws_the_same_links_and_another_seed_others() -> None:
    profile = PROFILES["lte-congested"]

    def draws(seed: int) -> list[tuple[int, float | None, tuple[int, ...]]]:
        out: list[tuple[int, float | None, tuple[int, ...]]] = []
        for i in range(50):
            charger = draw_charger(profile, seed, i)
            out.append((charger.latency_ms, next_pdp_gap(profile, charger), ()))
        out.append((0, None, plan_outage(profile, seed, 3, list(range(50))).chargers))
        return out

    assert draws(7) == draws(7)
    assert draws(7) != draws(8)
    latencies = [draw_charger(profile, 7, i).latency_ms for i in range(200)]
    assert min(latencies) >= 300 and max(latencies) <= 1200
    assert len(set(latencies)) > 50  # drawn per charger, not one for all


def test_an_outage_takes_its_share_of_the_fleet() -> None:
    profile = parse_link_profile("lte-good,outage=10%/60s/30m")
    first = plan_outage(profile, 1, 0, list(range(1000)))
    second = plan_outage(profile, 1, 1, list(range(1000)))
    assert (first.start, first.end) == (1800, 1860)
    assert (second.start, second.end) == (3600, 3660)
    assert len(first.chargers) == len(second.chargers) == 100
    assert first.chargers != second.chargers  # a different tenth of the fleet each time


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lte-best", "unknown profile 'lte-best'; known: lte-good"),
        ("lte-good,outage=10%/60s", "'outage=10%/60s': '10%/60s' is not SHARE/LENGTH/EVERY"),
        ("lte-good,outage=10%/2h/30m", "shorter than the time between two"),
        ("lte-good,send-fail=120%", "'send-fail=120%': '120%' is not between 0 and 100 %"),
        ("lte-good,pdp=often", "'pdp=often': 'often' is not a rate"),
        ("lte-good,jitter=5", "unknown key 'jitter'"),
        ("lte-good,latency=300..100", "runs backwards"),
    ],
)
def test_a_bad_profile_names_the_part(text: str, message: str) -> None:
    with pytest.raises(LinkProfileError, match="--profile: .*" + _re(message)):
        parse_link_profile(text)


def _re(text: str) -> str:
    return re.escape(text)


@pytest.mark.parametrize("kind", ["ec200u", "esp-at"])
def test_an_outage_drops_the_chosen_chargers_and_they_come_back(
    tmp_path: Path, kind: CellularKind
) -> None:
    profile = parse_link_profile("lte-good,outage=30%/60s/10m")

    async def body(fleet: SmallFleet) -> tuple[list[int], dict[str, int], dict[str, bool]]:
        await fleet.until(lambda: all(s.online for s in fleet.stations), 120)
        await fleet.until(lambda: bool(fleet.cellular.counts.outages), 700)
        await asyncio.sleep(30)  # virtual seconds: half-way through the outage
        during = {s.identity.charge_point_id: s.online for s in fleet.stations}
        # after the outage: everyone back (the chosen ones after a new boot)
        await fleet.until(
            lambda: (
                all(s.online for s in fleet.stations)
                and sum(fleet.boots(cp) for cp in fleet.ids()) >= 13
            ),
            300,
        )
        boots = {cp: fleet.boots(cp) for cp in fleet.ids()}
        return list(fleet.cellular.counts.outages[0].chargers), boots, during

    chosen, boots, during = run_virtual(with_fleet(tmp_path, kind, 10, profile, 5, body))
    assert len(chosen) == 3
    ids = [f"CF{i:03d}" for i in range(10)]
    assert [cp for cp in ids if not during[cp]] == [ids[i] for i in chosen]
    assert {cp: n for cp, n in boots.items() if n > 1} == {ids[i]: 2 for i in chosen}


def test_pdp_deactivations_happen_at_the_profile_rate_and_chargers_reconnect(
    tmp_path: Path,
) -> None:
    profile = parse_link_profile("lte-good,pdp=4/h")

    async def body(fleet: SmallFleet) -> tuple[int, dict[str, int]]:
        await fleet.until(lambda: all(s.online for s in fleet.stations), 120)
        await asyncio.sleep(3600)  # virtual: an hour of the profile
        await fleet.until(lambda: all(s.online for s in fleet.stations), 300)
        return fleet.cellular.counts.pdp_deactivations, {cp: fleet.boots(cp) for cp in fleet.ids()}

    deactivations, boots = run_virtual(with_fleet(tmp_path, "ec200u", 4, profile, 3, body))
    # 4 chargers x 4/h x 1 h: 16 expected (Poisson); this seed's draw, exactly
    assert 6 <= deactivations <= 30
    assert sum(boots.values()) >= 4 + deactivations
