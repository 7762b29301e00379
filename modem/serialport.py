"""Opening the modem's port: a device path or a pyserial URL (``socket://host:port``).

pyserial-asyncio-fast gives a non-blocking asyncio (reader, writer) pair, the
shape :class:`modem.at.ATDriver` wants.  This module only adds what a person at
the bench needs: errors that say *why* a port would not open.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Awaitable, Mapping
from pathlib import Path
from typing import Any, Protocol

import serial
import serial_asyncio_fast

from .at import ATDriver, ATPortError, ATTrace, Dialect

_HINTS = {
    errno.ENOENT: "no such port; is the modem plugged in? "
    "(python -m serial.tools.list_ports lists them)",
    errno.EACCES: "permission denied; add the user to the 'dialout' group or fix the udev rule",
    errno.EBUSY: "port busy; another program (ModemManager, minicom, another cpsim) holds it",
    errno.ECONNREFUSED: "connection refused; is the emulator or ser2net listening there?",
}


PortStreams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class PortOpener(Protocol):
    """How a port is opened: :func:`open_port`, or a stand-in with its signature (a
    benchmark that counts the serial bytes wraps it, a test may inject a fault)."""

    def __call__(
        self, url: str, baudrate: int = ..., *, rtscts: bool = ...
    ) -> Awaitable[PortStreams]: ...


def _explain(exc: BaseException) -> str:
    for cause in (exc, exc.__cause__, exc.__context__):
        code = getattr(cause, "errno", None)
        if isinstance(code, int) and code in _HINTS:
            return f"{_HINTS[code]} ({exc})"
    if "lock" in str(exc).lower():
        return f"{_HINTS[errno.EBUSY]} ({exc})"
    return str(exc)


async def open_port(url: str, baudrate: int = 115200, *, rtscts: bool = False) -> PortStreams:
    """Open ``url`` (``/dev/ttyUSB2``, ``COM5``, ``socket://127.0.0.1:7000``) 8N1.

    A device path is opened exclusively, so two programs never share one AT
    port (their responses would interleave).
    """
    extra: dict[str, Any] = {} if "://" in url else {"exclusive": True}
    try:
        return await serial_asyncio_fast.open_serial_connection(
            url=url, baudrate=baudrate, rtscts=rtscts, **extra
        )
    except (serial.SerialException, OSError, ValueError) as exc:
        raise ATPortError(url, f"cannot open: {_explain(exc)}") from exc


async def open_driver(
    url: str,
    dialect: Dialect,
    *,
    baudrate: int = 115200,
    rtscts: bool = False,
    at_log: str | Path | None = None,
    timeouts: Mapping[str, float] | None = None,
    probe: bool = True,
    opener: PortOpener | None = None,
) -> ATDriver:
    """Open the port (with ``opener``, default :func:`open_port`), start an
    :class:`ATDriver` on it and (by default) probe with ``AT``."""
    reader, writer = await (opener or open_port)(url, baudrate, rtscts=rtscts)
    driver = ATDriver(
        reader,
        writer,
        dialect=dialect,
        port=url,
        trace=ATTrace(url, at_log),
        timeouts=timeouts,
    )
    driver.start()
    if probe:
        try:
            await driver.probe()
        except BaseException:
            await driver.aclose()
            raise
    return driver
