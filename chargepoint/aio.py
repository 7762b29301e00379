"""Small asyncio helpers.

Python 3.11's ``asyncio.wait_for`` swallows a cancellation that lands in the same
loop iteration as the awaited event (CPython gh-86296): a loop around it then
never ends and shutdown hangs.  ``asyncio.timeout`` does not have that flaw, so
every "wait for an event, at most N seconds" goes through :func:`wait_event`.
"""

from __future__ import annotations

import asyncio


async def wait_event(event: asyncio.Event, timeout: float | None) -> bool:
    """True if ``event`` was set within ``timeout`` seconds, False if the time ran out."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True
