"""Pieces shared by the commands: running asyncio until Ctrl+C, one-line errors, and the
usage errors for values a link cannot send."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine
from typing import Any, NoReturn

import click

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def bad_value(problem: str, option: str) -> NoReturn:
    """A usage error (exit 2): ``Invalid value for '--option': problem``.

    ``problem`` is a sentence from :mod:`chargepoint.transport.atsafe` or the handshake
    checks: it never repeats a secret value, and the option name says which value it is.
    """
    raise click.BadParameter(problem, param_hint=f"'{option}'")


def refuse(problem: str | None, option: str) -> None:
    """:func:`bad_value` when there is a ``problem``."""
    if problem is not None:
        bad_value(problem, option)


def check_password(text: str) -> str:
    """The password the CSMS gave (AuthorizationKey): used as it is, even when it breaks
    A00.FR.205, but never empty and without control characters (the text never shows it).

    A real CSMS decides what it accepts; refusing its password would only stop the
    charger from connecting.  ChangeConfiguration keeps the whitepaper's rule.
    """
    if not text:
        raise ValueError("must not be empty")
    if any(ord(c) < 0x20 or c == "\x7f" for c in text):
        raise ValueError("must not contain control characters")
    return text


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
