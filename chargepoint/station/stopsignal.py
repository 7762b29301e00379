"""A future for "stop was set", without a task per waiter.

``asyncio.Event.wait()`` is a coroutine: racing it against anything else takes a
task, and a fleet of 10,000 chargers racing their session against the one stop
event would hold 10,000 such tasks.  Here one watcher task per event (while anyone
waits on it) resolves a plain future per waiter.
"""

from __future__ import annotations

import asyncio
import weakref

_watches: weakref.WeakKeyDictionary[asyncio.Event, _StopWatch] = weakref.WeakKeyDictionary()


class _StopWatch:
    """The one task that waits for ``stop`` on behalf of every future handed out."""

    __slots__ = ("futures", "loop", "stop", "task")

    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop
        self.loop = asyncio.get_running_loop()
        self.futures: set[asyncio.Future[None]] = set()
        self.task = self.loop.create_task(self._watch(), name="stop-watch")

    async def _watch(self) -> None:
        await self.stop.wait()
        _watches.pop(self.stop, None)
        futures, self.futures = self.futures, set()
        for future in futures:
            if not future.done():
                future.set_result(None)

    def forget(self, future: asyncio.Future[None]) -> None:
        self.futures.discard(future)
        if not self.futures and not self.task.done():
            self.task.cancel()  # nobody waits: no task outlives its waiters
            if _watches.get(self.stop) is self:
                del _watches[self.stop]


def stopped(stop: asyncio.Event) -> asyncio.Future[None]:
    """A future done once ``stop`` is set; cancel it when no longer needed."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()
    if stop.is_set():
        future.set_result(None)
        return future
    watch = _watches.get(stop)
    if watch is None or watch.loop is not loop or watch.task.done():
        watch = _watches[stop] = _StopWatch(stop)
    watch.futures.add(future)
    future.add_done_callback(watch.forget)
    return future
