"""The EV at the end of a connector's cable, and the charger's own rating: a pure model
(no clock, no I/O) of what the EV asks for and what it is given.

Two kinds of EV:

- :class:`FixedPowerEv` draws a fixed power whenever it is allowed to (the charger's
  ``ev_power_w``); it has no battery, is never full and reports no SoC.  A power up
  to one phase's rating is drawn on one phase (7.4 kW at 32 A), more on all of the
  charger's phases (11 kW, 22 kW).
- :class:`BatteryEv` has a battery (``capacity_wh``, state of charge) and an on-board
  charger taking at most ``max_current_a`` on each of its ``phases``.

The charging curve of a :class:`BatteryEv` (a CC/CV charge as the grid sees it):

- up to ``TAPER_FROM`` (80 %) SoC the EV asks for its full power, ``max_current_a`` x
  voltage x phases in use;
- from 80 % to 100 % the demand falls linearly to ``TAPER_FLOOR`` (10 %) of it, in
  ``TAPER_STEPS`` (20) steps of 1 % SoC, each step asking for the value at its upper
  end: 95.5 % of full power from 80 to 81 %, ..., 10 % from 99 to 100 %.  Within a step
  the demand is constant, so the power is piecewise constant, the energy integrates
  exactly, and the next change is an instant the charger can arm a timer for
  (:meth:`BatteryEv.wh_to_next_step`) rather than poll;
- at 100 % the EV stops drawing (the connector shows SuspendedEV, §4.9 C4).

Energy is stored at 100 % efficiency: the battery gains exactly what the meter counts.

The phases in use are the fewest of the charger's and the EV's (§3.13.7 NOTE: a
1-phase EV or charger charges on one phase).  What is delivered is the least of the
EV's demand, the charger's rating and the smart-charging limit for those phases
(:func:`offered_w`; OCPP §7.12, E3.69, E3.34 for the conversion).
"""

from __future__ import annotations

import math
from dataclasses import InitVar, dataclass, field, replace
from typing import Protocol

from .limits import NOMINAL_VOLTAGE

TAPER_FROM = 0.80
"""State of charge (fraction) where the demand starts to fall."""
TAPER_FLOOR = 0.10
"""The demand in the last step before full, as a fraction of the full power."""
TAPER_STEPS = 20
"""Steps of the taper, from TAPER_FROM to full: 1 % SoC each."""
EPSILON_WH = 1e-6
"""Energy within this of a step boundary has reached it (float rounding of the timer's
instant must not leave a step a microwatt-hour short)."""
MAX_PHASES = 3


class InvalidEv(ValueError):
    """An EV or charger rating that cannot exist (a negative capacity, 4 phases...)."""


@dataclass(frozen=True)
class ChargerRating:
    """What the charger itself can give one connector, whatever any profile says."""

    max_current_a: float = 32.0
    """Per phase."""
    phases: int = 3
    voltage: float = NOMINAL_VOLTAGE
    """Nominal, per phase (the conversion of §7.12 uses it, not a measured one)."""

    def __post_init__(self) -> None:
        _check_positive("the charger's max current", self.max_current_a)
        _check_positive("the charger's voltage", self.voltage)
        _check_phases("the charger", self.phases)

    def max_power_w(self, phases: int) -> float:
        return self.max_current_a * self.voltage * phases


class EvModel(Protocol):
    paused: bool
    """The EV itself does not want power (its own timer, the driver's app: S2 open)."""

    def phases_on(self, charger: ChargerRating) -> int:
        """The phases it charges on at this charger."""

    def demand_w(self, charger: ChargerRating) -> float:
        """The power it asks for now, at its state of charge (0: it does not want any)."""

    def soc(self) -> float | None:
        """State of charge in percent; None when it does not say (no battery model)."""

    def charge(self, wh: float) -> None:
        """The meter counted ``wh`` more into it."""

    def wh_to_next_step(self) -> float | None:
        """Energy until its demand changes by itself (None: never)."""


@dataclass
class FixedPowerEv:
    power_w: float
    paused: bool = False

    def __post_init__(self) -> None:
        _check_positive("the EV's power", self.power_w)

    def phases_on(self, charger: ChargerRating) -> int:
        return 1 if self.power_w <= charger.max_power_w(1) else charger.phases

    def demand_w(self, charger: ChargerRating) -> float:
        return 0.0 if self.paused else self.power_w

    def soc(self) -> float | None:
        return None

    def charge(self, wh: float) -> None:
        pass

    def wh_to_next_step(self) -> float | None:
        return None


@dataclass
class BatteryEv:
    capacity_wh: float = 60_000.0
    max_current_a: float = 16.0
    """Per phase: the EV's on-board charger."""
    phases: int = 3
    paused: bool = False
    initial_soc: InitVar[float] = 20.0
    """Percent."""
    energy_wh: float = field(init=False)
    """What the battery holds now."""

    def __post_init__(self, initial_soc: float) -> None:
        _check_positive("the battery's capacity", self.capacity_wh)
        _check_positive("the EV's max current", self.max_current_a)
        _check_phases("the EV", self.phases)
        if not (isinstance(initial_soc, int | float) and 0 <= initial_soc <= 100):
            raise InvalidEv(f"SoC {initial_soc!r} % is not from 0 to 100")
        self.energy_wh = self.capacity_wh * initial_soc / 100

    def with_soc(self, soc_percent: float) -> BatteryEv:
        """The same EV at another state of charge."""
        return replace(self, initial_soc=soc_percent)

    def phases_on(self, charger: ChargerRating) -> int:
        return min(self.phases, charger.phases)

    def soc(self) -> float | None:
        return 100 * self.energy_wh / self.capacity_wh

    @property
    def full(self) -> bool:
        return self.energy_wh >= self.capacity_wh - EPSILON_WH

    def _step(self) -> int:
        """-1 before the taper, 0 .. TAPER_STEPS - 1 within it, TAPER_STEPS when full."""
        if self.full:
            return TAPER_STEPS
        taper_wh = self.capacity_wh * TAPER_FROM
        if self.energy_wh + EPSILON_WH < taper_wh:
            return -1
        step_wh = self.capacity_wh * (1 - TAPER_FROM) / TAPER_STEPS
        return min(TAPER_STEPS - 1, math.floor((self.energy_wh + EPSILON_WH - taper_wh) / step_wh))

    def curve(self) -> float:
        """The demand as a fraction of the EV's full power, at its state of charge."""
        step = self._step()
        if step < 0:
            return 1.0
        if step >= TAPER_STEPS:
            return 0.0  # full
        return 1 - (1 - TAPER_FLOOR) * (step + 1) / TAPER_STEPS

    def demand_w(self, charger: ChargerRating) -> float:
        if self.paused:
            return 0.0
        full_power = self.max_current_a * charger.voltage * self.phases_on(charger)
        return full_power * self.curve()

    def charge(self, wh: float) -> None:
        self.energy_wh = min(self.capacity_wh, self.energy_wh + max(0.0, wh))

    def wh_to_next_step(self) -> float | None:
        step = self._step()
        if step >= TAPER_STEPS:
            return None
        taper_wh = self.capacity_wh * TAPER_FROM
        step_wh = self.capacity_wh * (1 - TAPER_FROM) / TAPER_STEPS
        boundary = taper_wh + (step + 1) * step_wh
        return max(0.0, boundary - self.energy_wh)


def offered_w(charger: ChargerRating, phases: int, limit_w: float | None) -> float:
    """What the charger offers on ``phases``: its rating, under the smart-charging limit
    (already in W for those phases, ``ChargingLimit.watts``); never negative."""
    rated = charger.max_power_w(phases)
    return max(0.0, rated if limit_w is None else min(rated, limit_w))


def _check_positive(what: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise InvalidEv(f"{what} must be a positive number, got {value!r}")


def _check_phases(what: str, phases: int) -> None:
    if not isinstance(phases, int) or isinstance(phases, bool) or not 1 <= phases <= MAX_PHASES:
        raise InvalidEv(f"{what} has 1 to {MAX_PHASES} phases, not {phases!r}")
