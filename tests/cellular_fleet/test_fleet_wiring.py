"""How ``cpsim fleet`` uses the pieces: the link factory of ``--link ec200u|esp-at``,
send failures drawn from the profile, and the generator joining chargers as they come."""

from __future__ import annotations

import asyncio
import itertools
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chargepoint.assembly import ChargerSpec, build_station
from chargepoint.clocks import Clock
from chargepoint.core.settings import Identity
from chargepoint.csms.handlers import CsmsPolicy
from chargepoint.csms.server import LocalCsms
from chargepoint.fleet import FleetUsageError, LinkContext, make_link_factory
from chargepoint.fleet.linkprofiles import parse_link_profile
from chargepoint.fleet.sessions import (
    TransactionGenerator,
    parse_transaction_spec,
    plan_charger,
    with_transactions,
)
from chargepoint.station import StationOptions
from chargepoint.station.runner import Backoff, run_station
from chargepoint.virtualtime import run_virtual

from .harness import SmallFleet, with_fleet

START = datetime(2026, 3, 1, tzinfo=UTC)


def test_the_link_factory_of_a_cellular_fleet_runs_chargers_and_powers_modems_off(
    tmp_path: Path,
) -> None:
    """What the fleet runner does with ``--link esp-at --profile lte-good --transactions``."""

    async def main() -> tuple[int, int, int, int]:
        loop = asyncio.get_running_loop()
        clock = Clock(1.0, START, source=loop.time, kind="virtual")
        async with LocalCsms(port=0, policy=CsmsPolicy(clock=clock.now)) as csms:
            context = LinkContext("esp-at", 3, 9, {"profile": "lte-good", "baud": "921600"})
            cellular_links = make_link_factory(context)
            generator = TransactionGenerator(
                parse_transaction_spec("rate=4/h,duration=5m..10m,seed=1"), fleet_size=3
            )
            links = with_transactions(cellular_links, generator)
            stop = asyncio.Event()
            tasks = []
            for number in (1, 2, 3):
                cp = f"WF{number}"
                options = StationOptions(state_dir=tmp_path / cp)
                station = build_station(ChargerSpec(Identity(cp), options, clock))
                link = links(station, number, csms.url)
                backoff = Backoff(1.0, 10.0, rng=random.Random(number))
                tasks.append(asyncio.create_task(run_station(station, link, stop, backoff)))
            await asyncio.sleep(3600)
            modems = cellular_links.cellular.modems  # type: ignore[attr-defined]
            running = len(modems)
            stop.set()
            await asyncio.gather(*tasks)
            boots = len(csms.frames.calls(None, "BootNotification"))
            starts = len(csms.frames.calls(None, "StartTransaction"))
            return running, len(modems), boots, starts

    running, left, boots, starts = run_virtual(main())
    assert running == 3 and left == 0  # each modem powered off with its charger's link
    assert boots == 3
    assert starts >= 4  # 3 chargers x 4/h: this seed's sessions started


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"profile": "lte-bad"}, "--profile: unknown profile 'lte-bad'"),
        ({"baud": "fast"}, "--link-option baud='fast': a whole number"),
        ({"apn": "x"}, "--link-option apn: unknown for --link ec200u; known: profile, baud"),
    ],
)
def test_bad_link_options_are_usage_errors(options: dict[str, str], message: str) -> None:
    with pytest.raises(FleetUsageError, match=message):
        make_link_factory(LinkContext("ec200u", 10, 0, options))


def test_send_failures_come_at_the_profile_share_and_the_chargers_carry_on(
    tmp_path: Path,
) -> None:
    profile = parse_link_profile("lte-good,send-fail=20%")

    async def body(fleet: SmallFleet) -> tuple[int, int, list[int]]:
        await fleet.until(lambda: all(s.online for s in fleet.stations), 120)
        await asyncio.sleep(1800)  # heartbeats every 60 s: ~30 per charger
        beats = len(fleet.csms.frames.calls(None, "Heartbeat"))
        boots = [fleet.boots(cp) for cp in fleet.ids()]
        return fleet.cellular.counts.send_fails, beats, boots

    fails, beats, boots = run_virtual(
        with_fleet(tmp_path, "ec200u", 2, profile, 4, body, heartbeat=60)
    )
    assert fails >= 10
    # SEND FAIL is the module's send buffer being full: the driver sends again, so
    # every heartbeat still arrives and no connection is lost over it
    assert beats >= 2 * 29
    assert boots == [1, 1]


def test_a_charger_added_late_skips_the_arrivals_it_missed() -> None:
    spec = parse_transaction_spec("rate=6/h,duration=5m..10m,seed=2")

    class Card:
        def __init__(self) -> None:
            self.tags: list[str] = []

        def plug_in(self, connector_id: int) -> None: ...

        def unplug(self, connector_id: int) -> None: ...

        def set_ev(self, connector_id: int, **_: object) -> None: ...

        def present_card(self, connector_id: int, id_tag: str) -> None:
            self.tags.append(id_tag)

        def stop_transaction(self, connector_id: int, reason: str = "Local") -> None: ...

    async def main() -> tuple[list[str], list[str]]:
        loop = asyncio.get_running_loop()
        clock = Clock(1.0, START, source=loop.time, kind="virtual")
        gen = TransactionGenerator(spec, fleet_size=2, clock=clock)
        early, late = Card(), Card()
        gen.add(early, 0)  # type: ignore[arg-type]
        await asyncio.sleep(3600)
        gen.add(late, 1)  # type: ignore[arg-type]
        await gen.run(3600)
        return early.tags, late.tags

    early, late = run_virtual(main())
    plan0 = [s for s in itertools.islice(plan_charger(spec, 0, 1, 2), 100) if s.arrive <= 7200]
    plan1 = [
        s for s in itertools.islice(plan_charger(spec, 1, 1, 2), 100) if 3600 <= s.arrive <= 7200
    ]
    assert early == [s.id_tag for s in plan0 if s.connector]
    assert late == [s.id_tag for s in plan1 if s.connector]
    assert late  # it did get the sessions of its second hour
