"""The charger's persistent state: one SQLite file per process (``<state-dir>/cpsim.sqlite3``)."""

from .errors import StoreError, StoreFull, StoreUnreadable
from .legacy import LEGACY_CONFIG
from .schema import MIGRATIONS, SCHEMA_VERSION
from .sqlite import DB_NAME, Store, set_aside

__all__ = [
    "DB_NAME",
    "LEGACY_CONFIG",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Store",
    "StoreError",
    "StoreFull",
    "StoreUnreadable",
    "set_aside",
]
