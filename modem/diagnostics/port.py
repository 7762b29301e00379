"""Is there a modem on this port, and which kind?  Answered plainly within 5 seconds.

A technician's laptop shows several ports per USB modem (diagnostics, NMEA,
AT, PPP) and a wrong pick is the most common first mistake, so the probe says
what it heard instead of an AT answer.  It sends CR LF: ESP-AT waits for the
LF, while a Quectel treats it as filler (V.250), so one probe finds both kinds
and a modem of the other dialect is named instead of timing out.
"""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from modem.at import GENERIC, ATCommandError, ATDriver, ATPortError, ATTimeout, ATTrace, Line, Urc
from modem.at.events import Event
from modem.serialport import open_port

Family = Literal["quectel", "esp-at", "unknown"]

DETECT = dataclasses.replace(GENERIC, name="detect", line_ending=b"\r\n")
HEARD_KEPT = 3


@dataclass(frozen=True)
class PortIdentity:
    """What answered: ``family``, a readable ``description`` and the raw ID lines."""

    url: str
    family: Family
    description: str
    lines: tuple[str, ...]
    probe_ms: int


class _Recorder(ATTrace):
    """The normal trace, also keeping the last lines heard, to quote them in an error."""

    def __init__(self, port: str, path: str | Path | None) -> None:
        super().__init__(port, path)
        self.heard: list[str] = []
        self.echoes = 0

    def received(self, event: Event, note: str = "") -> None:
        super().received(event, note)
        if isinstance(event, Line) and note == "echo":
            self.echoes += 1
        elif isinstance(event, Line | Urc) and event.text.strip():
            text = event.text.strip()[:80]
            if text not in self.heard:
                self.heard = [*self.heard[-(HEARD_KEPT - 1) :], text]


def classify(lines: list[str]) -> tuple[Family, str]:
    """``ATI``/``AT+GMR`` lines -> family and description."""
    for i, line in enumerate(lines):
        if line.lower().startswith("quectel"):
            model = lines[i + 1] if i + 1 < len(lines) else ""
            return "quectel", f"Quectel {model}".strip()
        if line.startswith("AT version:"):
            return "esp-at", f"ESP-AT module ({line})"
    return "unknown", " / ".join(lines[:3]) or "no answer to ATI or AT+GMR"


async def _lines(driver: ATDriver, command: str) -> list[str]:
    try:
        return (await driver.command(command, timeout=2.0)).lines
    except (ATCommandError, ATTimeout):
        return []


def _plainly(exc: ATPortError, trace: _Recorder) -> str:
    if trace.heard:
        quoted = " | ".join(trace.heard)
        return (
            f"{exc.reason.split(':')[0]}; it sent '{quoted}' instead: this is not an "
            "AT-command port (a console or GPS/NMEA port?); try the modem's other ports"
        )
    if trace.echoes:
        return (
            f"{exc.reason.split(':')[0]}; it echoes what is sent but never answers OK: "
            "a loopback or a terminal, not a modem"
        )
    return (
        f"{exc.reason} (a USB modem has several ports: on a Quectel the AT port is "
        "usually the third, e.g. /dev/ttyUSB2)"
    )


async def identify(
    url: str, baudrate: int = 115200, *, within: float = 3.5, at_log: str | Path | None = None
) -> PortIdentity:
    """Probe ``url`` with ``AT``, then ``ATI`` (and ``AT+GMR``); the port is closed again.

    Raises :class:`ATPortError` saying plainly what is wrong within ``within`` s.
    """
    reader, writer = await open_port(url, baudrate)
    trace = _Recorder(url, at_log)
    driver = ATDriver(reader, writer, dialect=DETECT, port=url, trace=trace)
    driver.start()
    try:
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            await driver.probe(within=within)
        except ATPortError as exc:
            raise ATPortError(url, _plainly(exc, trace)) from exc
        probe_ms = round((loop.time() - start) * 1000)
        lines = await _lines(driver, "ATI")
        family, description = classify(lines)
        if family == "unknown":
            lines += await _lines(driver, "AT+GMR")
            family, description = classify(lines)
        return PortIdentity(url, family, description, tuple(lines), probe_ms)
    finally:
        await driver.aclose()
