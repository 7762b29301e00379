"""Fixtures for the field tests: the EC200U emulator in a given profile, a CSMS,
ports that are not modems, and the CLI run in a worker thread.

The CLI calls ``asyncio.run`` itself, so it runs in a thread while the emulator
and the CSMS keep serving on the test's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from click.testing import CliRunner, Result

from chargepoint.csms.server import LocalCsms
from chargepoint.fieldtest import (
    CheckOptions,
    CsmsTarget,
    PortOptions,
    ReachOptions,
    judge,
    run_check,
)
from modem.diagnostics import ApnSettings, CheckResult, Report, Verdict
from modem.emulator import Emulator, Timing, run_emulator

FAST = Timing().scaled(0.05)
STEP = 20.0  # no whole check may take longer in a test
QUICK_REACH = ReachOptions(ping_count=1, ping_timeout=1, connect_timeout=10)


@contextlib.asynccontextmanager
async def ec200u(profile: str = "ok", good_apns: Sequence[str] = ()) -> AsyncIterator[Emulator]:
    async with run_emulator(
        "ec200u", baud=None, profile=profile, good_apns=good_apns, timing=FAST
    ) as emu:
        yield emu


async def run_field_check(
    port: str | PortOptions,
    csms_url: str | None,
    *,
    apn: str | None = "internet",
    cp_id: str | None = "CP001",
    password: str | None = None,
    wait: float = 1.0,
    reach: ReachOptions = QUICK_REACH,
    report: Report | None = None,
) -> tuple[list[CheckResult], Verdict]:
    """``cpsim modem check`` as a function: the rows and the verdict."""
    target = None if csms_url is None else CsmsTarget.parse(csms_url, cp_id, password)
    options = CheckOptions(
        port if isinstance(port, PortOptions) else PortOptions(port),
        None if apn is None else ApnSettings(apn),
        target,
        registration_wait=wait,
        reach=reach,
    )
    report = report or Report()
    await asyncio.wait_for(run_check(options, report), STEP)
    return report.results, judge(report.results)


def rows(results: Sequence[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results}


def localhost(csms: LocalCsms) -> str:
    """The CSMS by name, so the DNS check runs (the emulator resolves through the OS)."""
    return csms.url.replace("127.0.0.1", "localhost")


@dataclass
class Seen:
    """What the progress listener saw, in order."""

    rows: list[str]
    notes: list[str]

    def report(self) -> Report:
        return Report(lambda r: self.rows.append(r.name), self.notes.append)


def seen() -> Seen:
    return Seen([], [])


async def invoke(command: click.Command, args: list[str]) -> Result:
    """Run a click command in a thread (it has its own event loop) and wait for it."""
    runner = CliRunner()
    return await asyncio.wait_for(
        asyncio.to_thread(runner.invoke, command, args, catch_exceptions=False), STEP
    )


@contextlib.contextmanager
def silent_pty() -> Any:
    """A pty nobody answers on (the slave path is what a user would pass)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        yield os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


Responder = Callable[[bytes], Awaitable[bytes | None]]


@contextlib.asynccontextmanager
async def line_server(respond: Responder, banner: bytes = b"") -> AsyncIterator[str]:
    """A ``socket://`` port whose answers ``respond(line)`` scripts (None: say nothing).

    Lines end with CR LF, as ESP-AT requires: a CR alone is not a line for it.
    """

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            if banner:
                writer.write(banner)
            while True:
                line = (await reader.readuntil(b"\r\n"))[:-2]
                answer = await respond(line)
                if answer:
                    writer.write(answer)
                    await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"socket://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


def _lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def answered_in_log(at_log: Path, command: str, timeout: float = STEP) -> None:
    """Wait until the ``--at-log`` trace shows ``command`` sent and answered ``OK``.

    For DNS and ping that is the moment the check starts waiting for URCs: the
    place a test stops the modem to see the wait end.
    """
    async with asyncio.timeout(timeout):
        while True:
            lines = await asyncio.to_thread(_lines_of, at_log)
            sent = [i for i, line in enumerate(lines) if f" >> {command}" in line]
            if sent and any(line.endswith(" << OK") for line in lines[sent[-1] :]):
                return
            await asyncio.sleep(0.02)
