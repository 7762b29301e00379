"""Pieces shared by the commands: running asyncio until Ctrl+C, one-line errors."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine
from typing import Any

import click

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def log_level_option(
    default: str = "INFO", help: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--log-level``: one of the logging levels, in any case (a typo is a usage error)."""
    return click.option(
        "--log-level",
        type=click.Choice(LOG_LEVELS, case_sensitive=False),
        default=default,
        show_default=True,
        help=help,
    )


def run_until_interrupted(main: Callable[[asyncio.Event], Coroutine[Any, Any, Any]]) -> Any:
    """Run ``main(stop)``; SIGINT/SIGTERM set ``stop`` so it can close links cleanly."""

    async def runner() -> Any:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        return await main(stop)

    return asyncio.run(runner())
