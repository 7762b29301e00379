"""The automatic transaction generator: its spec, its seeded plan, and a fleet charging."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chargepoint.clocks import Clock
from chargepoint.fleet.linkprofiles import PROFILES
from chargepoint.fleet.quantities import Span
from chargepoint.fleet.sessions import (
    EV_MODELS,
    PlannedSession,
    TransactionGenerator,
    TransactionSpecError,
    parse_transaction_spec,
    plan_charger,
)
from chargepoint.virtualtime import run_virtual

from .harness import SmallFleet, with_fleet


def test_a_spec_with_every_key() -> None:
    spec = parse_transaction_spec(
        "rate=2/h, duration=30m..2h, energy=5..40kWh, invalid=5%, tags=A1|B2, "
        "invalid-tags=BAD, ev=compact-40|large-90, seed=7"
    )
    assert spec.rate == pytest.approx(2 / 3600) and not spec.per_fleet
    assert spec.duration == Span(1800, 7200)
    assert spec.energy_kwh == Span(5, 40)
    assert spec.invalid == 0.05
    assert spec.tags == ("A1", "B2") and spec.invalid_tags == ("BAD",)
    assert [m.name for m in spec.ev_models] == ["compact-40", "large-90"]
    assert spec.seed == 7
    fleet = parse_transaction_spec("fleet-rate=100/h")
    assert fleet.per_fleet and fleet.charger_rate(50) == pytest.approx(2 / 3600)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("duration=1h", "no arrival rate; add rate=2/h"),
        ("rate=2", "'rate=2': '2' is not a rate (e.g. 2/h, 10/d, 1/30m)"),
        ("rate=2/h,duration=2h..30m", "'duration=2h..30m': '2h..30m': the range runs backwards"),
        ("rate=2/h,duration=10s", "a stay must be from 1 min to 7 days"),
        ("rate=2/h,invalid=150%", "'invalid=150%': '150%' is not between 0 and 100 %"),
        ("rate=2/h,energy=lots", "'energy=lots': 'lots' is not a number of kWh"),
        ("rate=2/h,ev=tesla", "unknown EV model 'tesla'; known: compact-40"),
        ("rate=2/h,tags=A|THIS-TAG-IS-TOO-LONG-FOR-OCPP", "is not an idTag"),
        ("rate=2/h,colour=red", "'colour=red': unknown key 'colour'; known: rate"),
        ("rate=2/h,rate=3/h", "'rate=3/h': rate given twice"),
        ("rate=2/h,fleet-rate=3/h", "rate= (per charger) or fleet-rate=, not both"),
        ("rate=2/h,seed=x", "'seed=x': 'x' is not a seed"),
        ("rate=2/h,invalid", "'invalid': expected key=value"),
    ],
)
def test_a_bad_spec_names_the_part_and_the_rule(text: str, message: str) -> None:
    with pytest.raises(TransactionSpecError, match="^--transactions: .*" + re.escape(message)):
        parse_transaction_spec(text)


def test_a_charger_plan_is_its_own_and_fixed_by_the_seed() -> None:
    spec = parse_transaction_spec("rate=3/h,duration=20m..40m,invalid=20%,seed=11")

    def first(index: int, seed_spec=spec) -> list[tuple[float, int | None, str]]:
        plan = plan_charger(seed_spec, index, connectors=2, fleet_size=10)
        return [(s.arrive, s.connector, s.id_tag) for s in (next(plan) for _ in range(30))]

    assert first(3) == first(3)
    assert first(3) != first(4)
    other = parse_transaction_spec("rate=3/h,duration=20m..40m,invalid=20%,seed=12")
    assert first(3, other) != first(3)
    sessions = list(itertools_take(plan_charger(spec, 0, 2, 10), 2000))
    hours = sessions[-1].arrive / 3600
    assert len(sessions) / hours == pytest.approx(3, rel=0.1)  # the arrival rate
    invalid = sum(not s.valid for s in sessions) / len(sessions)
    assert invalid == pytest.approx(0.2, abs=0.03)
    assert all(s.id_tag == "INVALID" for s in sessions if not s.valid)
    stays = [s.leave - s.arrive for s in sessions if s.valid]
    assert min(stays) >= 1200 and max(stays) <= 2400
    # never two EVs on one connector at once
    for c in (1, 2):
        mine = [s for s in sessions if s.connector == c]
        assert all(a.leave <= b.arrive for a, b in zip(mine, mine[1:], strict=False))


def test_energy_sets_the_soc_so_the_ev_wants_that_much() -> None:
    spec = parse_transaction_spec("rate=1/h,energy=10..20kWh,ev=large-90")
    for s in itertools_take(plan_charger(spec, 0, 1, 1), 200):
        assert 10 - 0.1 <= s.wanted_kwh <= 20 + 0.1
        assert s.ev is EV_MODELS["large-90"]


def itertools_take(iterator: Iterator[PlannedSession], n: int) -> Iterator[PlannedSession]:
    return itertools.islice(iterator, n)


class RecordingStation:
    """Records what the generator does at the charger (the real one is tested below)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.calls: list[tuple[float, str, int, object]] = []

    def _note(self, what: str, c: int, detail: object = None) -> None:
        self.calls.append((self.loop.time(), what, c, detail))

    def plug_in(self, connector_id: int) -> None:
        self._note("plug_in", connector_id)

    def unplug(self, connector_id: int) -> None:
        self._note("unplug", connector_id)

    def set_ev(self, connector_id: int, **ev: object) -> None:  # type: ignore[override]
        self._note("set_ev", connector_id, ev)

    def present_card(self, connector_id: int, id_tag: str) -> None:
        self._note("present_card", connector_id, id_tag)

    def stop_transaction(self, connector_id: int, reason: str = "Local") -> None:
        self._note("stop", connector_id, reason)


def test_the_generator_plays_the_plan_on_virtual_time() -> None:
    spec = parse_transaction_spec("rate=2/h,duration=30m..1h,seed=3")

    async def main() -> tuple[list[RecordingStation], object, float]:
        loop = asyncio.get_running_loop()
        clock = Clock(1.0, datetime(2026, 1, 1, tzinfo=UTC), source=loop.time, kind="virtual")
        stations = [RecordingStation(loop) for _ in range(5)]
        t0 = loop.time()
        gen = TransactionGenerator(spec, connectors=2, fleet_size=5, clock=clock)
        for i, station in enumerate(stations):
            gen.add(station, i)  # type: ignore[arg-type]
        counts = await gen.run(6 * 3600)
        return stations, counts, loop.time() - t0

    stations, counts, took = run_virtual(main())
    assert took == pytest.approx(6 * 3600)
    arrivals = 0
    for i, station in enumerate(stations):
        expected = [
            s for s in itertools_take(plan_charger(spec, i, 2, 5), 100) if s.arrive <= 6 * 3600
        ]
        arrivals += len(expected)
        cards = [(t, c, tag) for t, what, c, tag in station.calls if what == "present_card"]
        planned = [(s.arrive, s.connector, s.id_tag) for s in expected if s.connector]
        assert [(c, tag) for _, c, tag in cards] == [(c, tag) for _, c, tag in planned]
        assert [t for t, _, _ in cards] == pytest.approx([a for a, _, _ in planned], abs=1e-3)
        plugged = {c: 0 for c in (1, 2)}
        for _, what, c, _ in station.calls:  # each plug_in is followed by its unplug
            plugged[c] += {"plug_in": 1, "unplug": -1}.get(what, 0)
            assert plugged[c] in (0, 1)
    assert counts.arrived == arrivals  # type: ignore[attr-defined]
    assert 30 <= arrivals <= 100  # 5 chargers x 2/h x 6 h = 60 expected


def test_a_cellular_fleet_charges_what_the_generator_brings(tmp_path: Path) -> None:
    spec = parse_transaction_spec("rate=3/h,duration=10m..20m,invalid=25%,seed=5")

    async def body(fleet: SmallFleet) -> tuple[int, int, int]:
        await fleet.until(lambda: all(s.online for s in fleet.stations), 120)
        gen = TransactionGenerator(spec, connectors=2, fleet_size=3)
        for i, station in enumerate(fleet.stations):
            gen.add(station, i)  # the station's own clock
        counts = await gen.run(2 * 3600)
        await asyncio.sleep(60)  # the last StopTransactions reach the CSMS
        starts = len(fleet.csms.frames.calls(None, "StartTransaction"))
        stops = len(fleet.csms.frames.calls(None, "StopTransaction"))
        valid = counts.arrived - counts.turned_away - counts.invalid_cards
        assert counts.invalid_cards > 0
        return valid, starts, stops

    valid, starts, stops = run_virtual(
        with_fleet(tmp_path, "ec200u", 3, PROFILES["lte-good"], 2, body, connectors=2)
    )
    assert valid >= 5
    # every valid card started a transaction (still plugged in at the end: not stopped yet)
    assert starts == valid
    assert valid - 3 * 2 <= stops <= starts
