"""Charger time versus the loop's time in a scenario run: a speed-up, or virtual time.

A scenario is written in charger time (``wait: 2h``, ``within: 6m``).

``time_scale: virtual`` runs the whole scenario (charger, local CSMS, steps) on
an event loop whose clock jumps to the next deadline whenever everything is
idle (:mod:`chargepoint.virtualtime`): charger time *is* the loop's time, so
24 h of heartbeats take seconds and every message and timestamp is exactly
what real time would give.  It needs the local CSMS (a remote one lives in
real time).

A number is a real-time speed-up: the station's clock runs ``time_scale``
times faster than real time, and so do its timers.  Real time that is not the
charger's own waiting (a modem's AT exchanges, a round trip to the CSMS, the
event loop being late) is multiplied by the scale as well: a 35 ms modem round
trip is 1 s of charger time at x30 and two minutes at x3600.
:func:`timing_warnings` says when a scale is too coarse for the intervals a
scenario checks.

Network round trips do not get faster with the clock, so a step that waits
*for* something never waits less than a small real allowance; a step that
checks that something does *not* happen waits exactly the scaled time.  A
timing check (``within``, ``during``) is judged in charger time at the
charger's end of the link, to the millisecond (:data:`RESOLUTION`); at a
speed-up what is left is the event loop's own jitter, times the scale:
:attr:`TimeBase.tolerance`.  Under virtual time there is no jitter, so the
tolerance is 0 and the checks are exact, both ends included: a message sent at
exactly ``within: 60s`` is in time, and one sent at exactly +60 s breaks
``expect_never: {during: 60s}`` (``during`` is the complement of ``within``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

DIRECT_ALLOWANCE: Final = 0.5
"""Real seconds a waiting step gets at least over a direct link (loopback round trips)."""

MODEM_ALLOWANCE: Final = 5.0
"""The same through a modem, where each message is several AT exchanges on a serial port."""

JITTER: Final = 0.05
"""Real seconds by which the runner and the charger's timers may disagree (both run on one
event loop, which is late by a few milliseconds under load); times the scale, it is the
tolerance of every timing check."""

RESOLUTION: Final = 0.001
"""Charger seconds to which timing checks are judged: OCPP timestamps' own resolution, and far
above the float rounding of charger times (under a microsecond), so +60.0000004 s is +60 s."""

INSTANT: Final = 1e-5
"""Virtual seconds that make one instant: what the charger does at a step's very limit may be
due a float rounding (under a microsecond) before or after the step's own deadline, so a
step that includes its last instant watches this much longer (far below :data:`RESOLUTION`,
so no judged time moves)."""

WARN_FRACTION: Final = 0.25
"""A run warns when the link's round trip or the tolerance, in charger time, exceeds this
fraction of the shortest interval the scenario checks."""


def scale_of(time_scale: float | str) -> float:
    """The numeric scale of a scenario's ``time_scale`` (1 for virtual time: the loop's own
    time is the charger's, it only skips what nobody waits through)."""
    return 1.0 if time_scale == "virtual" else float(time_scale)


def is_virtual(time_scale: float | str) -> bool:
    return time_scale == "virtual"


def judged(charger_seconds: float) -> float:
    """A measured span of charger time as timing checks compare it: to :data:`RESOLUTION`."""
    return round(charger_seconds, 3) + 0.0  # no -0.0


@dataclass(frozen=True)
class TimeBase:
    scale: float
    allowance: float = DIRECT_ALLOWANCE
    virtual: bool = False
    """Virtual time: the loop's seconds are charger seconds, and nothing is late."""

    def real(self, charger_seconds: float) -> float:
        """Exactly the scaled time."""
        return charger_seconds / self.scale

    def window(self, charger_seconds: float) -> float:
        """Loop seconds to wait for a message that must be sent within ``charger_seconds``.

        Never below the link's allowance (unless the step itself asks for less
        charger time than that), so a 30 s timeout at 3600x does not become 8 ms.
        Under virtual time the allowance comes on top (in virtual seconds, which
        cost no wall time), so a message sent at the limit has time to arrive
        through a modem; whether it was sent in time is judged separately.
        """
        if self.virtual:
            return charger_seconds + self.allowance
        return max(self.real(charger_seconds), min(charger_seconds, self.allowance))

    def exact(self, charger_seconds: float) -> float:
        """Loop seconds to last exactly ``charger_seconds``, their last instant included
        (``wait: N``, an ``expect_never``'s ``during``, the ``within`` of a ``wait: {until:
        ...}``): what the charger does at exactly +N happens before the step ends.

        Under virtual time that is due at the same loop time as the step's own deadline
        (give or take a float rounding), in no telling which order, so the step lasts
        :data:`INSTANT` longer; a check then judges the time itself (:func:`judged`).
        """
        return charger_seconds + INSTANT if self.virtual else self.real(charger_seconds)

    def charger(self, real_seconds: float) -> float:
        return real_seconds * self.scale

    @property
    def tolerance(self) -> float:
        """Charger seconds a timing check allows past its limit: :data:`JITTER`, scaled
        (1.5 s at x30, 3 min at x3600); 0 under virtual time, where checks are exact."""
        return 0.0 if self.virtual else JITTER * self.scale

    @property
    def digits(self) -> int:
        """Decimals of charger seconds worth showing in a timing message: milliseconds when
        the checks are exact, tenths when the tolerance is larger than that anyway."""
        return 3 if self.virtual else 1


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


def time_scale_option(text: str | None) -> float | str | None:
    """A ``--time-scale`` from the command line: ``virtual``, a positive number, or None."""
    if text is None or text == "virtual":
        return text
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError(f"expected virtual or a positive number, got {text!r}")
    return value
