"""The charger's asyncio shell: the core (:mod:`chargepoint.core`) on a live link."""

from chargepoint.core.settings import Identity

from .shell import CallFailed, Offline, SessionEnd, Station, StationOptions

__all__ = ["CallFailed", "Identity", "Offline", "SessionEnd", "Station", "StationOptions"]
