"""The charger's behaviour, sans-I/O: events in, actions out (see :mod:`.charger`)."""

from .charger import ChargerCore
from .records import StoredState
from .settings import CoreSettings, Identity

__all__ = ["ChargerCore", "CoreSettings", "Identity", "StoredState"]
