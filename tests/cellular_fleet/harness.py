"""A small cellular fleet against the local CSMS, on virtual time (shared by the tests)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from chargepoint.assembly import ChargerSpec, build_link, build_station
from chargepoint.clocks import Clock
from chargepoint.core.settings import Identity
from chargepoint.csms.handlers import CsmsPolicy
from chargepoint.csms.server import LocalCsms
from chargepoint.fleet.cellular import CellularFleet, CellularKind
from chargepoint.fleet.linkprofiles import LinkProfile
from chargepoint.station import Station, StationOptions
from chargepoint.station.runner import Backoff, run_station

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
T = TypeVar("T")


@dataclass
class SmallFleet:
    csms: LocalCsms
    cellular: CellularFleet
    stations: list[Station]
    clock: Clock

    def ids(self) -> list[str]:
        return [s.identity.charge_point_id for s in self.stations]

    def boots(self, charge_point: str) -> int:
        return len(self.csms.frames.calls(charge_point, "BootNotification"))

    async def until(self, predicate: Callable[[], bool], limit: float) -> float:
        """Wait (virtual time) until ``predicate()``; the virtual seconds it took."""
        t0 = asyncio.get_running_loop().time()
        async with asyncio.timeout(limit):
            while not predicate():  # noqa: ASYNC110 - virtual time: polling is free
                await asyncio.sleep(0.5)
        return asyncio.get_running_loop().time() - t0


async def with_fleet(
    tmp_path: Path,
    kind: CellularKind,
    count: int,
    profile: LinkProfile,
    seed: int,
    body: Callable[[SmallFleet], Awaitable[T]],
    *,
    heartbeat: int = 300,
    connectors: int = 1,
) -> T:
    """Start ``count`` chargers over ``kind`` modems, run ``body``, stop everything."""
    loop = asyncio.get_running_loop()
    clock = Clock(1.0, START, source=loop.time, kind="virtual")
    policy = CsmsPolicy(heartbeat_interval=heartbeat, clock=clock.now)
    async with LocalCsms(port=0, policy=policy) as csms:
        cellular = CellularFleet(kind, profile, seed)
        stop = asyncio.Event()
        stations: list[Station] = []
        tasks = []
        for i in range(count):
            cp_id = f"CF{i:03d}"
            station = build_station(
                ChargerSpec(
                    Identity(cp_id),
                    StationOptions(state_dir=tmp_path / cp_id, connectors=connectors),
                    clock,
                )
            )
            link = build_link(cellular.link_spec(i, cp_id, csms.url), station)
            backoff = Backoff(2.0, 30.0, rng=random.Random(i))
            tasks.append(asyncio.create_task(run_station(station, link, stop, backoff)))
            stations.append(station)
        cellular.start_faults()
        try:
            return await body(SmallFleet(csms, cellular, stations, clock))
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            await cellular.aclose()
