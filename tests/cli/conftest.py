"""Running ``cpsim`` as a user does: a real process (``python -m chargepoint``) or click's
CliRunner on the real command group, and the one-line message it ends with."""

from __future__ import annotations

import asyncio
import socket
import sys

from click.testing import CliRunner, Result

CPSIM = [sys.executable, "-m", "chargepoint"]


def cpsim(*args: str) -> Result:
    """``cpsim ARGS`` in this process (click's CliRunner); stderr kept apart."""
    from chargepoint.cli import main

    return CliRunner().invoke(main, list(args))


async def cpsim_in_thread(*args: str, timeout: float = 60) -> Result:
    """:func:`cpsim` for a command with its own event loop, while this test's loop runs
    the emulator or the CSMS it talks to."""
    return await asyncio.wait_for(asyncio.to_thread(cpsim, *args), timeout)


def last_line(result: Result) -> str:
    """The line a user reads last (click puts usage errors on stderr)."""
    lines = (result.stderr or result.stdout).strip().splitlines()
    return lines[-1] if lines else ""


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
