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


def setup(
    level: str = "INFO",
    ocpp_messages: bool = True,
    log_format: LogFormat | str = "text",
    charge_point_id: str | None = None,
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
    root.setLevel(level.upper())
    logging.getLogger("ocpp").setLevel(logging.CRITICAL)  # its own CALLERROR tracebacks too
    logging.getLogger("websockets").setLevel(logging.WARNING)
    if not ocpp_messages:
        logging.getLogger("cpsim.ocpp").setLevel(logging.WARNING)
