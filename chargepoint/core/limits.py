"""A charging limit as OCPP gives it, and its conversion between amperes and watts.

A limit in ``A`` is the current per phase; one in ``W`` is the total power over
all phases (§7.12).  For AC the conversion uses the nominal voltage, not the
measured one, and ``numberPhases`` absent means 3 (E3.69).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

NOMINAL_VOLTAGE = 230.0
"""Volts per phase (EVerest's SupplyVoltage default, the SAP simulator's AC default)."""


@dataclass(frozen=True)
class ChargingLimit:
    value: float
    unit: Literal["A", "W"]
    phases: int = 3
    """numberPhases of the period (3 when the profile left it out, §7.14)."""

    def watts(self, phases_in_use: int | None = None, voltage: float = NOMINAL_VOLTAGE) -> float:
        """The limit as total power.  A current limit counts for the phases actually in
        use; a power limit is already the total (E3.34: never rescale ``limit``)."""
        if self.unit == "W":
            return self.value
        return self.value * voltage * (phases_in_use or self.phases)

    def amps(self, phases_in_use: int | None = None, voltage: float = NOMINAL_VOLTAGE) -> float:
        """The limit as current per phase."""
        if self.unit == "A":
            return self.value
        return self.value / (voltage * (phases_in_use or self.phases))
