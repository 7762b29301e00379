"""Logging for the field: one line per event, an OCPP message log, secrets masked.

ocpp logs every frame at INFO on its own logger; ours (``cpsim.ocpp``) logs the
same frames with secrets masked, so ocpp's is quieted.  ``--log-format json``
writes one JSON object per line instead (for a log shipper), with the charger's
id in every line.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Literal

LogFormat = Literal["text", "json"]


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per record: ``time`` (UTC, ISO 8601), ``level``, ``logger``,
    ``message``, ``charge_point_id`` when the process runs one charger, ``exception``."""

    def __init__(self, charge_point_id: str | None = None) -> None:
        super().__init__()
        self.charge_point_id = charge_point_id

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.charge_point_id is not None:
            line["charge_point_id"] = self.charge_point_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


LOG_FILE_BYTES = 5 * 1024 * 1024
LOG_FILE_BACKUPS = 2
"""A log file rotates at 5 MiB and keeps 2 old ones: at most 15 MiB, like firmware's."""


def file_handler(path: Path, log_format: LogFormat | str = "text") -> logging.Handler:
    """A rotating log file, mode 0600 (it holds the OCPP exchange), full dates on every
    line so GetDiagnostics can cut it to the requested window."""
    path.touch(mode=0o600, exist_ok=True)
    handler = RotatingFileHandler(
        path, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8"
    )
    if log_format == "json":
        handler.setFormatter(JsonLinesFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    return handler


def setup(
    level: str = "INFO",
    ocpp_messages: bool = True,
    log_format: LogFormat | str = "text",
    charge_point_id: str | None = None,
    log_file: Path | None = None,
) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonLinesFormatter(charge_point_id))
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    if log_file is not None:
        root.addHandler(file_handler(log_file, log_format))
    root.setLevel(level.upper())
    logging.getLogger("ocpp").setLevel(logging.CRITICAL)  # its own CALLERROR tracebacks too
    logging.getLogger("websockets").setLevel(logging.WARNING)
    if not ocpp_messages:
        logging.getLogger("cpsim.ocpp").setLevel(logging.WARNING)
