"""StopTransaction's transactionData (§3.16.1, §3.16.2, E3.91): the meter values collected
during a transaction for its StopTransaction, at most ``StopTransactionMaxMeterValues``.

Each collected MeterValue is kept in the store as one small named value
(``metering.txdata.<local tx>.<seq>``), so a power loss loses none of them: the
StopTransaction of the interrupted transaction (reason PowerLoss), or the resumed
transaction's, still carries them.  Beyond the bound the oldest after the first (the
Transaction.Begin reading) are dropped, so the CSMS gets the start and the latest values.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from .actions import DeleteValue, Persist, SaveValue

log = logging.getLogger("cpsim.core")

PREFIX = "metering.txdata."
_NAME = re.compile(r"metering\.txdata\.([0-9]{1,12})\.([0-9]{1,12})")
MAX_STORED_CHARS = 20_000
"""One stored MeterValue's text: a longer one is not what this charger wrote."""


@dataclass
class Collected:
    name: str
    """Its name in the store."""
    value: dict[str, Any]


class TransactionData:
    def __init__(self) -> None:
        self._by_tx: dict[int, list[Collected]] = {}
        self._next_seq: dict[int, int] = {}

    def restore(self, values: Mapping[str, str], open_tx: Collection[int]) -> list[Persist]:
        """Take the collected values of the transactions still open from the store; returns
        the deletions of what belongs to none (or no longer makes sense)."""
        stale: list[Persist] = []
        found: dict[int, list[tuple[int, Collected]]] = {}
        for name in sorted(n for n in values if n.startswith(PREFIX)):
            match = _NAME.fullmatch(name)
            value = _meter_value(values[name]) if match else None
            if match is None or value is None or int(match[1]) not in open_tx:
                if match is None or value is None:
                    log.warning("stored %s is not a MeterValue this charger wrote: dropped", name)
                stale.append(DeleteValue(name))
                continue
            local_tx, seq = int(match[1]), int(match[2])
            found.setdefault(local_tx, []).append((seq, Collected(name, value)))
        for local_tx, items in found.items():
            items.sort(key=lambda item: item[0])
            self._by_tx[local_tx] = [collected for _, collected in items]
            self._next_seq[local_tx] = items[-1][0] + 1
        return stale

    def add(self, local_tx: int, value: dict[str, Any], limit: int) -> list[Persist]:
        """Collect ``value``; returns what the store must do (save it, drop the excess)."""
        seq = self._next_seq.get(local_tx, 0)
        self._next_seq[local_tx] = seq + 1
        collected = Collected(f"{PREFIX}{local_tx}.{seq:08d}", value)
        data = self._by_tx.setdefault(local_tx, [])
        data.append(collected)
        changes: list[Persist] = [SaveValue(collected.name, json.dumps(value))]
        while len(data) > max(0, limit):
            dropped = data.pop(1 if len(data) > 1 and limit > 1 else 0)
            changes.append(DeleteValue(dropped.name))
        return [c for c in changes if not _saved_then_deleted(c, changes)]

    def take(self, local_tx: int) -> tuple[list[dict[str, Any]], list[Persist]]:
        """The transaction's collected values, forgotten (and their deletions)."""
        self._next_seq.pop(local_tx, None)
        data = self._by_tx.pop(local_tx, [])
        return [c.value for c in data], [DeleteValue(c.name) for c in data]


def _saved_then_deleted(change: Persist, changes: list[Persist]) -> bool:
    """A value saved and dropped in one go (a bound of 0) need not reach the store."""
    name = getattr(change, "name", None)
    saved = any(isinstance(c, SaveValue) and c.name == name for c in changes)
    deleted = any(isinstance(c, DeleteValue) and c.name == name for c in changes)
    return saved and deleted


def _meter_value(text: str) -> dict[str, Any] | None:
    """A MeterValue as this charger stores it, or None."""
    if len(text) > MAX_STORED_CHARS:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not (
        isinstance(value, dict)
        and isinstance(value.get("timestamp"), str)
        and isinstance(value.get("sampledValue"), list)
        and value["sampledValue"]
        and all(
            isinstance(s, dict) and isinstance(s.get("value"), str) for s in value["sampledValue"]
        )
    ):
        return None
    return value
