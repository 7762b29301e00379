"""A charger whose building fails for any reason fails alone, counted with the reason."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from chargepoint.csms.server import LocalCsms
from chargepoint.fleet import Fleet, FleetPlan, FleetReportWriter, LinkContext, make_link_factory
from chargepoint.fleet.runner import open_fleet_store
from chargepoint.station import Station
from chargepoint.transport.base import Link


async def test_a_link_factory_that_raises_fails_that_charger_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    direct = make_link_factory(LinkContext("direct", 4))

    def links(station: Station, number: int, url: str) -> Link:
        if number % 2 == 0:
            raise RuntimeError(f"no modem left for charger {number}")
        return direct(station, number, url)

    ids = [f"BF{n}" for n in range(1, 5)]
    async with LocalCsms(port=0) as csms:
        plan = FleetPlan(ids, range(1, 5), [csms.url] * 4, 4)
        store = open_fleet_store(tmp_path / "state")
        fleet = Fleet(plan, store, links, FleetReportWriter(None))
        stop = asyncio.Event()
        running = asyncio.create_task(fleet.run(stop))
        async with asyncio.timeout(30):
            while fleet.stats.booted < 2 or fleet.stats.launched < 4:
                await asyncio.sleep(0.05)
        stop.set()
        summary = await running
        store.close()
    record = summary.record
    assert record["booted"] == 2 and summary.exit_code == 1
    assert record["failures"] == {
        "could not be built: RuntimeError: no modem left for charger 2": 1,
        "could not be built: RuntimeError: no modem left for charger 4": 1,
    }
    logged = [r for r in caplog.records if r.name == "cpsim.fleet" and r.levelno >= logging.ERROR]
    assert len(logged) == 1 and logged[0].exc_info is not None  # once, with the trace
