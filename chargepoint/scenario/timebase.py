"""Charger time versus real time in a scenario run: a speed-up, not a virtual clock.

A scenario is written in charger time (``wait: 2h``, ``within: 6m``); the
station's :class:`~chargepoint.station.clock.Clock` runs ``time_scale`` times
faster than real time, so a run sleeps ``seconds / scale``.  Everything the
charger does by its own timers (heartbeats, meter values, boot retries) is
compressed the same way, so the CSMS sees the same messages in the same order.

It is a speed-up and nothing more: real time that is not the charger's own
waiting (a modem's AT exchanges, a round trip to the CSMS, the event loop
being late) is multiplied by the scale as well.  A 35 ms modem round trip is
1 s of charger time at x30 and two minutes at x3600.  Idle time is not
skipped: the station's timers are real asyncio timers, and a clock that jumps
whenever every task is idle cannot tell a charger waiting for its heartbeat
interval from one waiting for a modem.  ``time_scale: virtual`` is kept as an
alias of 3600 for files written with it; :func:`timing_warnings` says when a
scale is too coarse for the intervals a scenario checks.

Network round trips do not get faster with the clock, so a step that waits
*for* something never waits less than a small real allowance; a step that
checks that something does *not* happen waits exactly the scaled time.  The
allowance only gives a message time to arrive: a timing check (``within`` on
an expectation, ``during`` on ``expect_never``) is judged in charger time at
the charger's end of the link, from the step's start to the moment the charger
sent the message, so a modem's real latency is not counted as the charger's.
What is left is the event loop's own jitter, real time that the scale
multiplies too: :attr:`TimeBase.tolerance`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

VIRTUAL_SCALE: Final = 3600.0
"""``time_scale: virtual``, an alias kept for old files: a speed-up of 3600, not virtual time."""

DIRECT_ALLOWANCE: Final = 0.5
"""Real seconds a waiting step gets at least over a direct link (loopback round trips)."""

MODEM_ALLOWANCE: Final = 5.0
"""The same through a modem, where each message is several AT exchanges on a serial port."""

JITTER: Final = 0.05
"""Real seconds by which the runner and the charger's timers may disagree (both run on one
event loop, which is late by a few milliseconds under load); times the scale, it is the
tolerance of every timing check."""

WARN_FRACTION: Final = 0.25
"""A run warns when the link's round trip or the tolerance, in charger time, exceeds this
fraction of the shortest interval the scenario checks."""


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


def timing_warnings(
    time: TimeBase, round_trip: float | None, shortest: tuple[float, str] | None
) -> list[str]:
    """Why this run's timing checks are coarse, if they are: empty when they are not.

    ``round_trip`` is the link's measured round trip in real seconds; ``shortest``
    the shortest ``within``/``during`` the scenario checks and where it is.
    """
    if shortest is None or time.scale == 1:
        return []
    limit, where = shortest
    found = []
    scale = f"x{time.scale:g}"
    if round_trip is not None and time.charger(round_trip) > WARN_FRACTION * limit:
        found.append(
            f"at {scale} the link's round trip ({round_trip * 1000:.0f} ms real) is "
            f"{time.charger(round_trip):.1f}s of charger time, more than a quarter of the "
            f"shortest interval checked ({limit:g}s at {where}): what the charger does after "
            "an answer is that much later; lower time_scale for this link"
        )
    if time.tolerance > WARN_FRACTION * limit:
        found.append(
            f"at {scale} timing checks are only accurate to {time.tolerance:.1f}s of charger "
            f"time ({JITTER * 1000:.0f} ms real), more than a quarter of the shortest interval "
            f"checked ({limit:g}s at {where}); lower time_scale"
        )
    return found
