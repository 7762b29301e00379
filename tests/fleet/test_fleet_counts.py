"""What a fleet counts beside its chargers: the generator's sessions and the link
profile's faults, checked against what the local CSMS saw (virtual time, real stations,
real emulated modems, real TCP)."""

from __future__ import annotations

import asyncio
import os
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chargepoint.assembly import ChargerSpec, build_station
from chargepoint.clocks import Clock
from chargepoint.core.settings import Identity
from chargepoint.csms.handlers import CsmsPolicy
from chargepoint.csms.server import LocalCsms
from chargepoint.fleet import LinkContext, make_link_factory
from chargepoint.fleet.cellular import CellularLinks
from chargepoint.fleet.links import connect_slots, factory_counts
from chargepoint.fleet.sessions import (
    TransactionGenerator,
    parse_transaction_spec,
    with_transactions,
)
from chargepoint.station import Station, StationOptions
from chargepoint.station.runner import Backoff, run_station
from chargepoint.virtualtime import run_virtual

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


async def _until(predicate: Any, limit: float) -> None:
    async with asyncio.timeout(limit):
        while not predicate():  # noqa: ASYNC110 - virtual time: polling is free
            await asyncio.sleep(1.0)


async def _chargers(
    tmp_path: Path, links: Any, url: str, clock: Clock, count: int, connectors: int = 1
) -> tuple[list[Station], list[asyncio.Task[Any]], asyncio.Event]:
    stop = asyncio.Event()
    stations, tasks = [], []
    for number in range(1, count + 1):
        cp = f"FC{number:03d}"
        options = StationOptions(state_dir=tmp_path / cp, connectors=connectors)
        station = build_station(ChargerSpec(Identity(cp), options, clock))
        link = links(station, number, url)
        backoff = Backoff(1.0, 10.0, rng=random.Random(number))
        tasks.append(asyncio.create_task(run_station(station, link, stop, backoff)))
        stations.append(station)
    return stations, tasks, stop


@pytest.mark.parametrize("kind", ["ec200u", "esp-at"])
def test_every_reconnect_is_put_on_the_fault_that_caused_it(tmp_path: Path, kind: str) -> None:
    """PDP deactivations and cell outages drop connections; each charger then boots
    again, so the CSMS's extra BootNotifications are the drops the fleet reports."""

    async def main() -> tuple[dict[str, int | float], int]:
        loop = asyncio.get_running_loop()
        clock = Clock(1.0, START, source=loop.time, kind="virtual")
        policy = CsmsPolicy(heartbeat_interval=300, clock=clock.now)
        async with LocalCsms(port=0, policy=policy) as csms:
            profile = "lte-good,pdp=2/h,outage=25%/60s/20m"
            links = make_link_factory(LinkContext(kind, 8, 3, {"profile": profile}))
            assert isinstance(links, CellularLinks)
            stations, tasks, stop = await _chargers(tmp_path, links, csms.url, clock, 8)
            await asyncio.sleep(3600)  # an hour of the profile: two outages
            faults = links.cellular.counts
            await _until(lambda: faults.cell_lost_now == 0 and all(s.online for s in stations), 600)
            counts = factory_counts(links)["link_faults"]
            stop.set()
            await asyncio.gather(*tasks)
            await links.aclose()
            boots = len(csms.frames.calls(None, "BootNotification"))
        return counts, boots

    counts, boots = run_virtual(main())
    assert counts["cell_outages"] == 2 and counts["outage_chargers"] == 2 * 2  # 25 % of 8
    assert counts["pdp_deactivations"] > 0
    assert 0 < counts["dropped_by_pdp"] <= counts["pdp_deactivations"]
    assert 0 < counts["dropped_by_outage"] <= counts["outage_chargers"]
    assert counts["dropped_by_pdp"] + counts["dropped_by_outage"] == boots - 8
    assert counts["dropped_by_send_fail"] == 0 and counts["cell_lost_now"] == 0


def test_a_send_fail_the_driver_got_past_drops_nothing(tmp_path: Path) -> None:
    """The EC200U driver sends again after SEND FAIL (the module's buffer was full):
    the faults are counted, and a connection the CSMS closes later is not put on them."""

    async def main() -> tuple[dict[str, int | float], int]:
        loop = asyncio.get_running_loop()
        clock = Clock(1.0, START, source=loop.time, kind="virtual")
        policy = CsmsPolicy(heartbeat_interval=60, clock=clock.now)
        async with LocalCsms(port=0, policy=policy) as csms:
            context = LinkContext("ec200u", 2, 4, {"profile": "lte-good,send-fail=20%"})
            links = make_link_factory(context)
            stations, tasks, stop = await _chargers(tmp_path, links, csms.url, clock, 2)
            await asyncio.sleep(1800)
            for station in stations:  # ends every connection, for no fault of the network
                await csms.disconnect(station.identity.charge_point_id, 1001)
            await _until(lambda: len(csms.sessions) == 2, 300)
            counts = factory_counts(links)["link_faults"]
            stop.set()
            await asyncio.gather(*tasks)
            connects = len(csms.frames.calls(None, "BootNotification"))
        return counts, connects

    counts, boots = run_virtual(main())
    assert counts["send_fails"] >= 10
    assert boots == 4  # each charger came back once
    assert counts["dropped_by_send_fail"] == 0


def _transactions_seen(csms: LocalCsms) -> tuple[int, int, int, float]:
    """StartTransactions, StopTransactions, Authorizes of an invalid tag, and the energy
    of the stopped transactions (kWh), as the CSMS saw them."""
    frames = csms.frames.frames
    answers = {f.message[1]: f.message[2] for f in frames if f.message[0] == 3}
    meter_start: dict[int, int] = {}
    for f in csms.frames.calls(None, "StartTransaction"):
        meter_start[answers[f.message[1]]["transactionId"]] = f.message[3]["meterStart"]
    stops = csms.frames.calls(None, "StopTransaction")
    energy = sum(
        f.message[3]["meterStop"] - meter_start[f.message[3]["transactionId"]] for f in stops
    )
    invalid = [
        f for f in csms.frames.calls(None, "Authorize") if f.message[3]["idTag"] == "INVALID"
    ]
    return len(meter_start), len(stops), len(invalid), energy / 1000


def test_the_generator_counts_what_the_csms_saw(tmp_path: Path) -> None:
    async def main() -> tuple[dict[str, int | float], tuple[int, int, int, float]]:
        loop = asyncio.get_running_loop()
        clock = Clock(1.0, START, source=loop.time, kind="virtual")
        policy = CsmsPolicy(heartbeat_interval=300, clock=clock.now)
        async with LocalCsms(port=0, policy=policy) as csms:
            spec = parse_transaction_spec("rate=3/h,duration=5m..20m,invalid=25%,seed=2")
            generator = TransactionGenerator(spec, connectors=2, fleet_size=4)
            direct = make_link_factory(LinkContext("direct", 4))
            links = with_transactions(direct, generator)
            stations, tasks, stop = await _chargers(tmp_path, links, csms.url, clock, 4, 2)
            await asyncio.sleep(3 * 3600)
            await generator.aclose()  # no more arrivals nor departures
            await _until(lambda: all(s.queued == 0 for s in stations), 300)
            counts = factory_counts(links)["transactions"]
            stop.set()
            await asyncio.gather(*tasks)
            seen = _transactions_seen(csms)
        return counts, seen

    counts, (starts, stops, invalid, energy) = run_virtual(main())
    assert counts["started"] == starts >= 10  # 4 chargers x 3/h x 3 h, 3/4 of them valid
    assert counts["stopped"] == stops >= starts - 4 * 2  # the last ones may still charge
    assert counts["invalid_tags"] == counts["refused"] == invalid > 0
    assert counts["energy_kwh"] == pytest.approx(energy, abs=0.001)
    assert energy > 1


def test_a_factory_says_how_many_of_its_connects_may_run_at_once() -> None:
    direct = make_link_factory(LinkContext("direct", 10))
    assert connect_slots(direct, 64) == 64  # says nothing: the fleet's bound
    cellular = make_link_factory(LinkContext("ec200u", 10))
    assert connect_slots(cellular, 64) == 1024
    tuned = make_link_factory(LinkContext("esp-at", 10, options={"connect-slots": "200"}))
    generator = TransactionGenerator(parse_transaction_spec("rate=1/h"))
    assert connect_slots(with_transactions(tuned, generator), 64) == 200
    assert connect_slots(with_transactions(direct, generator), 64) == 64


def test_the_live_progress_shows_sessions_and_faults_when_there_are_some() -> None:
    from rich.console import Console

    from chargepoint.cli.fleet import _progress_table

    def shown(record: dict[str, Any]) -> str:
        console = Console(width=240, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
        console.print(_progress_table(10, record))
        return console.export_text()

    plain = {"t": 3.0, "started": 10, "connected": 9, "booted": 8, "sent": 5, "received": 5}
    assert "SEND FAIL" not in shown(plain) and "sessions" not in shown(plain)
    busy = {
        **plain,
        "transactions": {"started": 7, "stopped": 2, "invalid_tags": 3, "energy_kwh": 12.25},
        "link_faults": {"send_fails": 4, "pdp_deactivations": 5, "cell_outages": 1,
                        "cell_lost_now": 2, "dropped_by_pdp": 5, "dropped_by_outage": 2},
    }  # fmt: skip
    text = shown(busy)
    [header] = [line for line in text.splitlines() if line.startswith("┃")]
    [row] = [line for line in text.splitlines() if line.startswith("│")]
    cells = dict(zip(header.split("┃"), row.split("│"), strict=True))
    by_name = {k.strip(): v.strip() for k, v in cells.items() if k.strip()}
    assert by_name["sessions started/stopped"] == "7/2"
    assert by_name["invalid tags"] == "3" and by_name["kWh"] == "12.2"
    assert by_name["PDP deact."] == "5" and by_name["no cell"] == "2"
    assert by_name["dropped"] == "7"


class _ConnectsInFlight:
    """A link factory (direct links to the real CSMS) that records how many of its
    connects run at once; ``connect_slots`` as given."""

    def __init__(self, slots: int | None) -> None:
        if slots is not None:
            self.connect_slots = slots
        self.direct = make_link_factory(LinkContext("direct", 12))
        self.now = self.most = 0

    def __call__(self, station: Station, index: int, url: str) -> Any:
        link, probe = self.direct(station, index, url), self

        class Probed:
            description = link.description

            async def connect(self) -> Any:
                probe.now += 1
                probe.most = max(probe.most, probe.now)
                try:
                    await asyncio.sleep(0.05)  # a slow bring-up, so connects overlap
                    return await link.connect()
                finally:
                    probe.now -= 1

            def file_transfer(self) -> Any:
                return link.file_transfer()

            async def aclose(self) -> None:
                await link.aclose()

        return Probed()


@pytest.mark.parametrize(("slots", "most"), [(3, 3), (None, 12)])
async def test_the_fleet_runs_as_many_connects_at_once_as_the_factory_says(
    tmp_path: Path, slots: int | None, most: int
) -> None:
    from chargepoint.fleet import Fleet, FleetPlan, FleetReportWriter
    from chargepoint.fleet.runner import open_fleet_store

    links = _ConnectsInFlight(slots)
    ids = [f"CS{n:02d}" for n in range(1, 13)]
    async with LocalCsms(port=0) as csms:
        plan = FleetPlan(ids, range(1, 13), [csms.url] * 12, 12)
        store = open_fleet_store(tmp_path / "state")
        fleet = Fleet(plan, store, links, FleetReportWriter(None))
        stop = asyncio.Event()
        running = asyncio.create_task(fleet.run(stop))
        await _until(lambda: fleet.stats.booted == 12, 60)
        stop.set()
        summary = await running
        store.close()
    assert summary.record["booted"] == 12
    assert links.most == most  # without a word from the factory: the fleet's 64
