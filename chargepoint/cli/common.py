"""Pieces shared by the commands: the exit-code table, running asyncio until Ctrl+C,
one-line errors, and the usage errors for values that can never work (named before
anything is opened).

Exit codes, the same for every command (README "Exit codes"):

====  ===========================================================================
0     done; for a command that runs until stopped (run, csms, modem emulate), Ctrl+C
      or SIGTERM is its normal end
1     a check failed (a scenario, a field test, a verdict)
2     usage error, or it could not start (a file, port or state dir it cannot use)
130   interrupted (Ctrl+C before a command that ends by itself was done); reports
      and ``--junit`` files are still written
====  ===========================================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import re
import signal
import stat
from collections.abc import Callable, Coroutine
from enum import IntEnum
from pathlib import Path
from typing import Any, NoReturn

import click

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ExitCode(IntEnum):
    """The one exit-code table of every ``cpsim`` command."""

    OK = 0
    FAILED = 1
    USAGE = 2
    INTERRUPTED = 130


class CouldNotStart(click.ClickException):
    """``Error: ...`` and exit 2: the command cannot start (a port, file or state dir it
    cannot use), as opposed to a check that ran and failed (exit 1)."""

    exit_code = ExitCode.USAGE


def interrupted() -> NoReturn:
    """Exit 130 with one line (no traceback)."""
    click.echo("cpsim: interrupted", err=True)
    raise click.exceptions.Exit(ExitCode.INTERRUPTED)


class CpsimGroup(click.Group):
    """A click group where Ctrl+C anywhere in a command (before its own handler is in
    place, or in a command without one) is exit 130 and one line, not click's
    ``Aborted!`` with exit 1 nor a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            interrupted()
        except click.Abort as exc:
            if isinstance(exc.__context__, KeyboardInterrupt):
                interrupted()
            raise


def file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be written (created or appended to), or None."""
    if path.is_dir():
        return f"{path} is a directory"
    parent = path.parent
    if not parent.exists():
        return f"{path}: its directory {parent} does not exist"
    if not parent.is_dir():
        return f"{path}: {parent} is not a directory"
    if path.exists():
        if not os.access(path, os.W_OK):
            return f"{path}: no permission to write it"
    elif not os.access(parent, os.W_OK | os.X_OK):
        return f"{path}: no permission to create files in {parent}"
    return None


def writable_file(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Click callback for a file the command writes (``--at-log``, ``--log``): a usage
    error before anything is opened when it can never be written."""
    if value is None:
        return None
    problem = file_problem(Path(value))
    if problem is not None:
        raise click.BadParameter(problem)
    return Path(value)


PORT_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
SYSFS_CHAR = Path("/sys/dev/char")


def port_problem(port: str) -> str | None:
    """Why ``port`` can never be a modem's AT port, or None.  Decided without opening it
    (opening a real modem's tty toggles DTR): a URL scheme pyserial does not know, a
    regular file, a directory, a character device the kernel does not list as a tty
    (``/dev/null``).  A device that does not exist yet is allowed: a USB modem appears
    when plugged in, and the link retries."""
    scheme = PORT_SCHEME.match(port)
    if scheme is not None:
        name = scheme.group(1).lower()
        known = re.fullmatch(r"[a-z0-9_]+", name) and importlib.util.find_spec(
            f"serial.urlhandler.protocol_{name}"
        )
        if not known:
            return (
                f"unknown port scheme {name}://: give a device (/dev/ttyUSB2, COM5) or "
                "socket://HOST:PORT"
            )
        return None
    path = Path(port)
    try:
        info = path.stat()
    except OSError:
        return None  # not there yet (or not a path at all: COM5)
    if stat.S_ISDIR(info.st_mode):
        return f"{port} is a directory, not a serial port"
    if stat.S_ISREG(info.st_mode):
        return f"{port} is a regular file, not a serial port"
    if stat.S_ISCHR(info.st_mode):
        entry = SYSFS_CHAR / f"{os.major(info.st_rdev)}:{os.minor(info.st_rdev)}" / "subsystem"
        if entry.exists():
            subsystem = entry.resolve().name
            if subsystem != "tty":
                return f"{port} is a {subsystem} device, not a serial port"
        return None
    if stat.S_ISSOCK(info.st_mode) or stat.S_ISFIFO(info.st_mode):
        return f"{port} is not a serial port (for a TCP port use socket://HOST:PORT)"
    return None


def port_option(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback for ``--port``: :func:`port_problem` as a usage error."""
    if value is not None and (problem := port_problem(value)) is not None:
        raise click.BadParameter(problem)
    return value


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


def log_format_option() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--log-format``: ``text`` lines for a person, or ``json`` lines for a log shipper."""
    return click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="json: one JSON object per line (time, level, logger, message, charge-point id).",
    )


def run_until_interrupted(main: Callable[[asyncio.Event], Coroutine[Any, Any, Any]]) -> Any:
    """Run ``main(stop)``; SIGINT/SIGTERM set ``stop`` so it can close links cleanly."""

    async def runner() -> Any:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            # NotImplementedError: Windows; RuntimeError: not the main thread (a test)
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        return await main(stop)

    return asyncio.run(runner())
