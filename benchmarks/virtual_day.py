"""24 h of charger time in virtual time: how long it takes, and whether it is exact.

One charger (HeartbeatInterval 60, one transaction with MeterValueSampleInterval 60)
and the local CSMS, both on one virtual clock, over a real loopback WebSocket.
Prints the wall seconds of each run and their median, the counts the CSMS received
(1,440 of each expected), and the largest deviation of a timestamp from the 60 s
grid: the heartbeats' arrival times at the CSMS and the MeterValues' own stamps.

    python benchmarks/virtual_day.py [--runs 3] [--hours 24]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from chargepoint.assembly import ChargerSpec, LinkSpec, build_link, build_station
from chargepoint.clocks import Clock
from chargepoint.core.settings import Identity
from chargepoint.csms.handlers import CsmsPolicy
from chargepoint.csms.server import LocalCsms
from chargepoint.station import StationOptions
from chargepoint.station.runner import Backoff, run_station
from chargepoint.timefmt import parse_epoch
from chargepoint.virtualtime import run_virtual

START = datetime(2030, 1, 1, tzinfo=UTC)
INTERVAL = 60


async def one_day(hours: float, state_dir: Path) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    clock = Clock(1.0, START, source=loop.time, kind="virtual")
    policy = CsmsPolicy(heartbeat_interval=INTERVAL, clock=clock.now)
    async with LocalCsms(port=0, policy=policy) as csms:
        spec = ChargerSpec(
            Identity("DAY01"),
            StationOptions(
                state_dir=state_dir,
                config_overrides={"MeterValueSampleInterval": str(INTERVAL)},
            ),
            clock,
        )
        station = build_station(spec)
        link = build_link(LinkSpec("direct", csms.url), station)
        stop = asyncio.Event()
        task = asyncio.create_task(run_station(station, link, stop, Backoff(0.1, 1.0)))
        await csms.frames.wait_for(lambda f: f.action == "StatusNotification", 30)
        boot = clock.time()
        await csms.call("DAY01", "RemoteStartTransaction", {"idTag": "DAY", "connectorId": 1})
        start = await csms.frames.wait_for(lambda f: f.action == "StartTransaction", 30)
        tx_start = parse_epoch(start.payload["timestamp"]) or 0.0
        # a second past the end, so what is due at the very end is delivered too
        await asyncio.sleep(hours * 3600 + 1 - (clock.time() - boot))
        stop.set()
        await task
    received = [f for f in csms.frames.frames if f.direction == "received"]
    beats = [
        parse_epoch(f.time.replace("+00:00", "Z")) or 0.0
        for f in received
        if f.action == "Heartbeat"
    ]
    samples = [
        parse_epoch(f.payload["meterValue"][0]["timestamp"]) or 0.0
        for f in received
        if f.action == "MeterValues"
    ]
    return {
        "heartbeats": len(beats),
        "meter values": len(samples),
        "heartbeat grid deviation (s)": _deviation(beats, boot),
        "meter value grid deviation (s)": _deviation(samples, tx_start),
        "backwards timestamps": sum(b < a for a, b in zip(samples, samples[1:], strict=False)),
    }


def _deviation(times: list[float], origin: float) -> float:
    """The largest distance of a time from origin + k x 60 s."""
    worst = 0.0
    for t in times:
        offset = (t - origin) % INTERVAL
        worst = max(worst, min(offset, INTERVAL - offset))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hours", type=float, default=24)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    walls = []
    figures: dict[str, float] = {}
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="cpsim-day-") as tmp:
            started = time.perf_counter()
            figures = run_virtual(one_day(args.hours, Path(tmp)))
            walls.append(time.perf_counter() - started)
        print(f"run {run}: {walls[-1]:.2f} s wall for {args.hours:g} h of charger time")
    expected = int(args.hours * 3600 / INTERVAL)
    print(f"median wall time: {statistics.median(walls):.2f} s (of {args.runs} runs)")
    for name, value in figures.items():
        print(
            f"{name}: {value:g}"
            + (f" (expected {expected})" if name in ("heartbeats", "meter values") else "")
        )


if __name__ == "__main__":
    main()
