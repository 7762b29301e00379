"""A charger core whose smart-charging limits a test sets by hand (no profiles): the
metering layer sees them through the hooks the SmartCharging layer implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from core.harness import Harness  # tests/ is on sys.path (rootdir packages)

from chargepoint.core import ChargerCore, CoreSettings, Identity
from chargepoint.core.limits import ChargingLimit


class LimitedCore(ChargerCore):
    """``schedule``: (core time from, connector limit, station limit), in time order;
    the last entry whose time has come is in force."""

    schedule: list[tuple[float, ChargingLimit | None, ChargingLimit | None]]

    def _now_entry(self) -> tuple[float, ChargingLimit | None, ChargingLimit | None]:
        entry: tuple[float, ChargingLimit | None, ChargingLimit | None] = (0.0, None, None)
        for item in getattr(self, "schedule", []):
            if item[0] <= self.now:
                entry = item
        return entry

    def charging_limit(self, connector_id: int) -> ChargingLimit | None:
        return self._now_entry()[1]

    def station_limit(self) -> ChargingLimit | None:
        return self._now_entry()[2]

    def next_limit_change(self) -> float | None:
        later = [at for at, _, _ in getattr(self, "schedule", []) if at > self.now]
        return min(later) if later else None


def limited_harness(
    schedule: Sequence[tuple[float, ChargingLimit | None, ChargingLimit | None]] = (),
    connectors: int = 1,
    config: dict[str, str] | None = None,
    **settings: Any,
) -> tuple[Harness, LimitedCore]:
    """A harness whose core is a :class:`LimitedCore` (times in the schedule are offsets
    from the harness's start)."""
    h = Harness(connectors=connectors, config=config, **settings)
    settings.setdefault("auto_unplug_s", -1)
    core = LimitedCore(
        Identity("CP1", serial="SN-1"),
        CoreSettings(connectors=connectors, config_overrides=config or {}, **settings),
        h.store.load(),
        h.now,
    )
    core.schedule = [(h.now + at, c, s) for at, c, s in schedule]
    h.core = core
    h.absorb(core.take_actions())
    return h, core


def watts(value: float) -> ChargingLimit:
    return ChargingLimit(value, "W")


def amps(value: float, phases: int = 3) -> ChargingLimit:
    return ChargingLimit(value, "A", phases)
