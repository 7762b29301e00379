"""What a meter shows, as OCPP sampledValues, and the arithmetic of metering: pure
functions, no clock (the metering layer, :mod:`.metering`, uses them).

Readings are consistent with each other: Power.Active.Import = Voltage x the sum of
Current.Import over the phases; Current.Offered x Voltage x phases in use =
Power.Offered; a per-phase measurand has one value per supply phase (§3.16.3), 0 on a
phase the EV does not use; the energy register is shown in whole Wh.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

DAY_S = 86_400

UNITS = {
    "Energy.Active.Import.Register": "Wh",
    "Power.Active.Import": "W",
    "Power.Offered": "W",
    "Current.Import": "A",
    "Current.Offered": "A",
    "Voltage": "V",
    "SoC": "Percent",
}
"""The measurands this charger measures; others configured are left out of readings."""


@dataclass(frozen=True)
class Reading:
    """What a meter shows at one instant (a connector's, or connector 0's: the sum)."""

    energy_wh: float
    power_w: float
    currents_a: tuple[float, ...]
    """Per supply phase, L1 first (0 on a phase not in use)."""
    voltage: float
    offered_w: float
    offered_a: float
    soc: float | None
    main: bool = False
    """Connector 0: measured at the grid connection (location Inlet)."""


def sampled_values(
    reading: Reading, measurands: Sequence[str], context: str
) -> list[dict[str, Any]]:
    """The sampledValue list for ``measurands`` (in their order; unknown ones skipped).
    Per-phase measurands get one value per supply phase (§3.16.3)."""
    location = "Inlet" if reading.main else "Outlet"
    out: list[dict[str, Any]] = []

    def add(measurand: str, value: str, phase: str | None = None, where: str = location) -> None:
        item = {"value": value, "context": context, "measurand": measurand}
        if phase is not None:
            item["phase"] = phase
        item |= {"location": where, "unit": UNITS[measurand]}
        out.append(item)

    for measurand in measurands:
        if measurand == "Energy.Active.Import.Register":
            add(measurand, str(int(reading.energy_wh)))
        elif measurand == "Power.Active.Import":
            add(measurand, f"{reading.power_w:.1f}")
        elif measurand == "Power.Offered":
            add(measurand, f"{reading.offered_w:.1f}")
        elif measurand == "Current.Offered":
            add(measurand, f"{reading.offered_a:.2f}")
        elif measurand == "Current.Import":
            for i, amps in enumerate(reading.currents_a, 1):
                add(measurand, f"{amps:.2f}", f"L{i}")
        elif measurand == "Voltage":
            for i in range(1, len(reading.currents_a) + 1):
                add(measurand, f"{reading.voltage:.1f}", f"L{i}-N")
        elif measurand == "SoC" and reading.soc is not None:
            add(measurand, str(int(reading.soc)), where="EV")
    return out


def share_power(wants: dict[int, float], total: float) -> dict[int, float]:
    """Max-min fair shares of ``total`` (W): the smallest wants are met first, and each
    of the rest gets an equal part of what is left, never more than it wants."""
    shares: dict[int, float] = {}
    left = max(0.0, total)
    order = sorted(wants, key=lambda k: wants[k])
    for i, key in enumerate(order):
        fair = left / (len(order) - i)
        shares[key] = min(wants[key], fair)
        left -= shares[key]
    return shares


def next_aligned(wall: float, interval: int) -> float:
    """The next clock-aligned instant after ``wall``: intervals counted from each
    midnight (UTC), the last one of a day cut short by the next midnight (§3.16.2)."""
    midnight = math.floor(wall / DAY_S) * DAY_S
    boundary = midnight + (math.floor((wall - midnight) / interval) + 1) * interval
    return float(min(boundary, midnight + DAY_S))
