"""Group commit: many chargers' persists in one transaction per loop tick, and still
every persist committed before any later frame of its charger reaches the wire."""

from __future__ import annotations

import asyncio
from pathlib import Path

from chargepoint.assembly import ChargerSpec, LinkSpec, build_link, build_station
from chargepoint.core.settings import Identity
from chargepoint.csms.server import LocalCsms
from chargepoint.station import StationOptions
from chargepoint.station.runner import Backoff, run_station
from chargepoint.store import Store
from chargepoint.transport.base import Connection, Link


class CheckedConnection:
    """At each send, what another reader of the database sees (committed rows only)."""

    def __init__(self, inner: Connection, state_dir: Path, cp: str, seen: list) -> None:
        self.inner, self.state_dir, self.cp, self.seen = inner, state_dir, cp, seen

    async def send(self, message: str) -> None:
        with Store.open_readonly(self.state_dir) as reader:
            queued = [q.unique_id for q in reader.load(self.cp).queue]
        self.seen.append((message, queued))
        await self.inner.send(message)

    async def recv(self) -> str:
        return await self.inner.recv()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.inner.close(code, reason)


class CheckedLink:
    def __init__(self, inner: Link, state_dir: Path, cp: str, seen: list) -> None:
        self.inner, self.state_dir, self.cp, self.seen = inner, state_dir, cp, seen
        self.description = inner.description

    async def connect(self) -> Connection:
        return CheckedConnection(await self.inner.connect(), self.state_dir, self.cp, self.seen)

    def file_transfer(self):  # type: ignore[no-untyped-def]
        return self.inner.file_transfer()

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_queued_message_is_committed_before_it_is_sent(
    csms: LocalCsms, tmp_path: Path
) -> None:
    state_dir = tmp_path / "state"
    store = Store.open(state_dir)
    store.group_commit = True
    stop = asyncio.Event()
    seen: dict[str, list] = {}
    tasks = []
    stations = []
    for cp in ("CPA", "CPB", "CPC"):
        station = build_station(
            ChargerSpec(Identity(cp), StationOptions(connectors=1, auto_unplug_s=-1), store=store)
        )
        seen[cp] = []
        link = CheckedLink(
            build_link(LinkSpec("direct", csms.url), station), state_dir, cp, seen[cp]
        )
        stations.append(station)
        tasks.append(asyncio.create_task(run_station(station, link, stop, Backoff(0.2, 1.0))))
    try:
        for station in stations:
            await csms.frames.wait_for(
                lambda f, cp=station.identity.charge_point_id: (
                    f.charge_point == cp and f.action == "StatusNotification"
                ),
                10,
            )
        # all three start a transaction in the same loop tick: one group commit
        for station in stations:
            station.start_transaction(1, "TAG1")
        for station in stations:
            cp = station.identity.charge_point_id
            await csms.frames.wait_for(
                lambda f, cp=cp: f.charge_point == cp and f.action == "StartTransaction", 10
            )
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        store.close()
    for cp, frames in seen.items():
        starts = [(m, q) for m, q in frames if '"StartTransaction"' in m]
        assert len(starts) == 1, cp
        message, committed = starts[0]
        unique_id = message.split('"')[1]
        # another process reading the database at that moment already saw it queued
        assert unique_id in committed, cp
    assert not store.has_deferred


def test_without_a_loop_a_deferred_persist_is_committed_at_once(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.group_commit = True
    station = build_station(ChargerSpec(Identity("CPX"), StationOptions(), store=store))
    station.set_authorization_key("0123456789abcdef")
    with Store.open_readonly(tmp_path) as reader:
        assert reader.load("CPX").config["AuthorizationKey"] == "0123456789abcdef"
    store.close()
