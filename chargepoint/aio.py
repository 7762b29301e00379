"""Small asyncio helpers.

Python 3.11's ``asyncio.wait_for`` swallows a cancellation that lands in the same
loop iteration as the awaited event (CPython gh-86296): a loop around it then
never ends and shutdown hangs.  ``asyncio.timeout`` does not have that flaw, so
every "wait for an event, at most N seconds" goes through :func:`wait_event`.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """True if ``event`` was set within ``timeout`` seconds, False if the time ran out."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True


@contextlib.asynccontextmanager
async def real_timeout(seconds: float) -> AsyncIterator[None]:
    """``asyncio.timeout`` in real seconds, whatever the loop's clock: on a virtual-time
    loop a day may pass in a second, but a time limit a person sets is wall time."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(None) as scope:
        timer = threading.Timer(seconds, loop.call_soon_threadsafe, (_expire, scope, loop))
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()


def _expire(scope: asyncio.Timeout, loop: asyncio.AbstractEventLoop) -> None:
    if scope.expired() is False and scope.when() is None:
        scope.reschedule(loop.time())
