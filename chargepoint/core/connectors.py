"""One connector: its OCPP status, the EV's plug, its meter and its transaction.

The meter is an energy register that only grows, integrated from the power the
EV draws (and charged into the EV's battery), so Power/Current and Energy
readings stay consistent with each other whatever the sample interval or time
scale.  The power is constant between two ``set_power`` calls (the metering
layer re-evaluates it at every change), so the integration is exact."""

from __future__ import annotations

from dataclasses import dataclass, field

from .ev import EvModel
from .records import TransactionRecord


@dataclass(slots=True)  # no __dict__: a fleet has tens of thousands of these
class Meter:
    """Times are the core's ``now``: the charger's own clock, which no CSMS moves (its
    currentTime is an offset on timestamps), so adopting it cannot add or remove energy."""

    energy_wh: float = 0.0
    power_w: float = 0.0
    phases: int = 1
    """The phases the power flows on."""
    offered_w: float = 0.0
    """What the charger offers the EV (Power.Offered): the power never exceeds it."""
    ev: EvModel | None = None
    """The EV the energy flows into (None: the charger's default fixed-power EV)."""
    _since: float | None = None

    def advance(self, now: float) -> float:
        """Integrate the power up to ``now`` into the register and the EV's battery;
        returns the energy added (Wh)."""
        added = 0.0
        if self._since is not None:
            added = self.power_w * max(0.0, now - self._since) / 3600
            self.energy_wh += added
            if added and self.ev is not None:
                self.ev.charge(added)
        self._since = now
        return added

    def set_power(
        self, watts: float, now: float, phases: int | None = None, offered_w: float | None = None
    ) -> float:
        """From ``now`` on the power is ``watts``; returns the energy added until now."""
        added = self.advance(now)
        self.power_w = watts
        if phases is not None:
            self.phases = phases
        self.offered_w = max(watts, offered_w if offered_w is not None else self.offered_w)
        return added

    @property
    def register(self) -> int:
        return int(self.energy_wh)


@dataclass(slots=True)
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
    limited: bool = False
    """Smart charging offers nothing (a limit of 0): SuspendedEVSE."""
    ev_idle: bool = False
    """The EV wants no power (its battery is full, or it paused): SuspendedEV."""
    reserved: int | None = None
    """The id of the reservation holding this connector (§5.13), shown as Reserved."""

    def derived_status(self) -> str:
        """The status the state implies, per the §4.9 transition rules."""
        if self.error_code != "NoError":
            return "Faulted"
        if self.transaction is not None:
            if self.suspended or self.limited:
                return "SuspendedEVSE"  # §4.9: it wins when the EV suspends too
            return "Charging" if self.plugged and not self.ev_idle else "SuspendedEV"
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
