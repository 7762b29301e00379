"""Charger time versus real time in a scenario run.

A scenario is written in charger time (``wait: 2h``, ``within: 6m``); the
station's :class:`~chargepoint.station.clock.Clock` runs ``scale`` times faster
than real time, so a run sleeps ``seconds / scale``.  Everything the charger
does by its own timers (heartbeats, meter values, boot retries) is compressed
the same way, so the CSMS sees the same messages in the same order.

Network round trips do not get faster with the clock, so a step that waits
*for* something never waits less than a small real allowance; a step that
checks that something does *not* happen waits exactly the scaled time.  The
allowance only gives a message time to arrive: a timing check (``within`` on
an expectation, ``during`` on ``expect_never``) is judged in charger time at
the charger's end of the link, from the step's start to the moment the charger
sent the message, so a modem's real latency is not counted as the charger's.
What is left is the event loop's own jitter, real time that the scale
multiplies too: :attr:`TimeBase.tolerance`.

``time_scale: virtual`` is implemented as a fixed, large scale
(:data:`VIRTUAL_SCALE`: an hour of charger time per real second) rather than
by skipping idle time: the station's timers are real asyncio timers, and a
clock that jumps whenever every task is idle cannot tell a charger waiting
for its heartbeat interval from one waiting for a modem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

VIRTUAL_SCALE: Final = 3600.0
"""Charger seconds per real second for ``time_scale: virtual``."""

DIRECT_ALLOWANCE: Final = 0.5
"""Real seconds a waiting step gets at least over a direct link (loopback round trips)."""

MODEM_ALLOWANCE: Final = 5.0
"""The same through a modem, where each message is several AT exchanges on a serial port."""

JITTER: Final = 0.05
"""Real seconds by which the runner and the charger's timers may disagree (both run on one
event loop, which is late by a few milliseconds under load); times the scale, it is the
tolerance of every timing check."""


def scale_of(time_scale: float | str) -> float:
    """The numeric scale of a scenario's ``time_scale``."""
    return VIRTUAL_SCALE if time_scale == "virtual" else float(time_scale)


@dataclass(frozen=True)
class TimeBase:
    scale: float
    allowance: float = DIRECT_ALLOWANCE

    def real(self, charger_seconds: float) -> float:
        """Exactly the scaled time: for ``wait: N`` and "nothing happens for N" checks."""
        return charger_seconds / self.scale

    def window(self, charger_seconds: float) -> float:
        """Real seconds to wait for something to happen within ``charger_seconds``.

        Never below the link's allowance (unless the step itself asks for less
        charger time than that), so a 30 s timeout at 3600x does not become 8 ms.
        """
        return max(self.real(charger_seconds), min(charger_seconds, self.allowance))

    def charger(self, real_seconds: float) -> float:
        return real_seconds * self.scale

    @property
    def tolerance(self) -> float:
        """Charger seconds a timing check allows past its limit: :data:`JITTER`, scaled
        (1.5 s at x30, 3 min at x3600)."""
        return JITTER * self.scale
