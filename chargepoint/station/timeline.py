"""The timeline: every state change and every message of a charger, one JSON line each.

The core emits the events (stamped on the charger's clock); this writes them to
``timeline.jsonl`` in the state dir (or a report dir) and hands them to anyone
listening (the scenario runner, a live view).  Lines never carry a configuration
value or a payload, so no secret reaches the file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

log = logging.getLogger("cpsim.timeline")

Listener = Callable[[dict[str, Any]], None]


class Timeline:
    def __init__(self, path: Path | None = None, charge_point: str | None = None) -> None:
        self.path = path
        self.charge_point = charge_point
        self._file: IO[str] | None = None
        self._listeners: list[Listener] = []
        self._failing = False

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` for each event; returns the function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def write(self, event: dict[str, Any]) -> None:
        if self.charge_point is not None:
            event = {"cp": self.charge_point, **event}
        for listener in list(self._listeners):
            listener(event)
        if self.path is None:
            return
        try:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                self._file = os.fdopen(fd, "a", encoding="utf-8")
            self._file.write(json.dumps(event, separators=(",", ":")) + "\n")
        except OSError as exc:
            self._failed(exc)

    def flush(self) -> None:
        """Called after every step of the charger, so a kill -9 loses no event."""
        if self._file is None:
            return
        try:
            self._file.flush()
        except OSError as exc:
            self._failed(exc)
            return
        if self._failing:
            self._failing = False
            log.warning("%s: written again", self.path)

    def _failed(self, exc: OSError) -> None:
        """A full disk must not stop the charger: say so once, and try again later."""
        if not self._failing:
            self._failing = True
            log.error(
                "%s: timeline lines lost until it can be written: %s", self.path, exc.strerror
            )
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def close(self) -> None:
        if self._file is not None:
            self.flush()
            self._file.close()
            self._file = None
