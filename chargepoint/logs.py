"""Logging for the field: one line per event, an OCPP message log, secrets masked.

ocpp logs every frame at INFO on its own logger; ours (``cpsim.ocpp``) logs the
same frames with secrets masked, so ocpp's is quieted.
"""

from __future__ import annotations

import logging
import sys


def setup(level: str = "INFO", ocpp_messages: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
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
