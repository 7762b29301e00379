"""The charger's persistent state: one SQLite file per process (``<state-dir>/cpsim.sqlite3``)."""

from .dbfile import DB_NAME, set_aside
from .errors import StoreError, StoreFull, StoreLocked, StoreUnreadable
from .legacy import LEGACY_CONFIG
from .lock import LOCK_NAME, StateDirLock
from .schema import MIGRATIONS, SCHEMA_VERSION
from .sqlite import Store

__all__ = [
    "DB_NAME",
    "LEGACY_CONFIG",
    "LOCK_NAME",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "StateDirLock",
    "Store",
    "StoreError",
    "StoreFull",
    "StoreLocked",
    "StoreUnreadable",
    "set_aside",
]
