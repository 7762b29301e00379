"""One watcher task per stop event, however many chargers wait on it."""

from __future__ import annotations

import asyncio

from chargepoint.station.stopsignal import stopped


def watchers() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "stop-watch"]


async def test_many_waiters_share_one_task_and_all_wake() -> None:
    stop = asyncio.Event()
    futures = [stopped(stop) for _ in range(1000)]
    assert len(watchers()) == 1
    stop.set()
    await asyncio.gather(*futures)
    await asyncio.sleep(0)
    assert watchers() == []
    assert stopped(stop).done()  # already set: done at once, no task


async def test_no_task_outlives_its_last_waiter() -> None:
    stop = asyncio.Event()
    first, second = stopped(stop), stopped(stop)
    first.cancel()
    await asyncio.sleep(0)
    assert len(watchers()) == 1
    second.cancel()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert watchers() == []
    third = stopped(stop)  # a new waiter gets a new watcher
    stop.set()
    await third
