"""``cpsim``: the command line.

This module stays light: the console script's :func:`entry` imports the commands
(websockets, ocpp, pydantic, ... a few tenths of a second) inside its own handler,
so a Ctrl+C during start-up is exit 130 and one line, never a traceback.
``from chargepoint.cli import main`` still gives the click group.
"""

from __future__ import annotations

import sys
from typing import Any

INTERRUPTED = 130  # common.ExitCode.INTERRUPTED, without importing click yet


def entry() -> None:
    """The ``cpsim`` console script (and ``python -m chargepoint``)."""
    try:
        from .app import main

        main()
    except KeyboardInterrupt:
        sys.stderr.write("cpsim: interrupted\n")
        sys.exit(INTERRUPTED)


def __getattr__(name: str) -> Any:
    if name == "main":
        from .app import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
