"""One connector: its OCPP status, the EV's plug, its meter and its transaction.

The meter is an energy register that only grows, integrated from the power the
EV draws, so Power/Current and Energy readings stay consistent with each other
whatever the sample interval or time scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .records import TransactionRecord

VOLTAGE = 230.0


@dataclass
class Meter:
    """Times are the core's ``now``: the charger's own clock, which no CSMS moves (its
    currentTime is an offset on timestamps), so adopting it cannot add or remove energy."""

    energy_wh: float = 0.0
    power_w: float = 0.0
    _since: float | None = None

    def advance(self, now: float) -> None:
        if self._since is not None:
            hours = max(0.0, now - self._since) / 3600
            self.energy_wh += self.power_w * hours
        self._since = now

    def set_power(self, watts: float, now: float) -> None:
        self.advance(now)
        self.power_w = watts

    @property
    def register(self) -> int:
        return int(self.energy_wh)

    @property
    def current_a(self) -> float:
        return round(self.power_w / VOLTAGE, 1)


@dataclass
class Connector:
    id: int
    status: str = "Available"
    error_code: str = "NoError"
    plugged: bool = False
    operative: bool = True
    pending_operative: bool | None = None  # ChangeAvailability answered Scheduled
    suspended: bool = False
    meter: Meter = field(default_factory=Meter)
    transaction: TransactionRecord | None = None
    auto_plugged: bool = False  # plugged by a remote start, unplugged after the stop
    reserved: int | None = None
    """The id of the reservation holding this connector (§5.13), shown as Reserved."""

    def derived_status(self) -> str:
        """The status the state implies, per the §4.9 transition rules."""
        if self.error_code != "NoError":
            return "Faulted"
        if self.transaction is not None:
            if self.suspended:
                return "SuspendedEVSE"
            return "Charging" if self.plugged else "SuspendedEV"
        if not self.operative:
            return "Unavailable"
        if self.reserved is not None and not self.plugged:
            return "Reserved"
        if self.plugged:
            return (
                "Finishing"
                if self.status in ("Finishing", "Charging", "SuspendedEV", "SuspendedEVSE")
                else "Preparing"
            )
        return "Available"
