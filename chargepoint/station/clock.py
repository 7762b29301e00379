"""The charger's clock: CSMS-synchronised wall time, optionally running faster than real time.

Scenarios with hours of heartbeats and meter values must run in seconds while
the CSMS still sees consistent timestamps, so every timer and timestamp in the
station goes through one :class:`Clock` instead of ``asyncio.sleep``/``datetime.now``.
Timestamps follow the CSMS's time (:meth:`Clock.set`); durations use
:meth:`Clock.elapsed`, which no currentTime can move.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError("time scale must be positive")
        self.scale = scale
        self._origin = time.monotonic()
        self._start_mono = self._origin
        self._start_wall = datetime.now(UTC)

    def elapsed(self) -> float:
        """Charger seconds since start-up, on a clock the CSMS cannot move.

        What measures durations (the energy register) uses this: the wall clock
        jumps whenever the CSMS's currentTime is adopted.
        """
        return (time.monotonic() - self._origin) * self.scale

    def now(self) -> datetime:
        elapsed = (time.monotonic() - self._start_mono) * self.scale
        return self._start_wall + timedelta(seconds=elapsed)

    def timestamp(self) -> str:
        """ISO 8601 UTC with milliseconds, the form CSMSs parse most reliably."""
        return ocpp_time(self.now())

    def set(self, when: datetime) -> None:
        """Adopt the CSMS's time (BootNotification.currentTime, Heartbeat)."""
        self._start_mono = time.monotonic()
        self._start_wall = when if when.tzinfo else when.replace(tzinfo=UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.scale)

    def real(self, seconds: float) -> float:
        """Real seconds for a span of charger seconds (for asyncio timeouts)."""
        return seconds / self.scale


def ocpp_time(when: datetime) -> str:
    """``2030-01-01T00:00:00.000Z``: ISO 8601 UTC with milliseconds (for an aware datetime)."""
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
