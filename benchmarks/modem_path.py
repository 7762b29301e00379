"""What the modem path costs: serial bytes, AT commands and latency per OCPP message.

Boot + 100 Heartbeats + a GetConfiguration answer of about 3 kB (8 connectors,
every measurand enabled), through the bundled EC200U and ESP-AT emulators at
115200 baud (real pty, real TCP to the local CSMS).  Serial bytes are counted
on the host side of the port; the floor is what the line rate alone allows for
the bytes one exchange really puts on the wire.  Over ESP-AT the 3 kB answer
must fit one AT+WSSEND (buffer_size - 10 bytes): with ``--buffer 1024`` the
charger refuses it (a CALLERROR), and the benchmark says so.

    python benchmarks/modem_path.py [--path ec200u|esp-at|both] [--heartbeats 100]
                                    [--baud 115200] [--buffer 8192]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import re
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

from ocpp.exceptions import OCPPError

from chargepoint.assembly import ChargerSpec, LinkSpec, build_link, build_station
from chargepoint.core.meter_readings import UNITS
from chargepoint.core.settings import Identity
from chargepoint.csms.server import LocalCsms
from chargepoint.station import Station, StationOptions
from chargepoint.station.runner import run_station
from chargepoint.transport.base import Link
from chargepoint.transport.ec200u import ModemSettings
from chargepoint.transport.espat import EspAtSettings
from modem.emulator import run_emulator
from modem.serialport import PortStreams, open_port

CONNECTORS = 8


class Counter:
    """Serial bytes both ways, counted on the host side of the port the link opens."""

    def __init__(self) -> None:
        self.tx = 0  # host -> modem
        self.rx = 0  # modem -> host

    def snapshot(self) -> tuple[int, int]:
        return self.tx, self.rx

    async def open_port(
        self, url: str, baudrate: int = 115200, *, rtscts: bool = False
    ) -> PortStreams:
        """:func:`modem.serialport.open_port`, its streams counted (the links' ``open_port``)."""
        reader, writer = await open_port(url, baudrate, rtscts=rtscts)
        # Stand-ins with the two methods the AT driver counts through; the rest is passed on.
        return (
            cast(asyncio.StreamReader, CountingReader(reader, self)),
            cast(asyncio.StreamWriter, CountingWriter(writer, self)),
        )


class CountingReader:
    def __init__(self, inner: asyncio.StreamReader, counter: Counter) -> None:
        self._inner, self._counter = inner, counter

    async def read(self, n: int = -1) -> bytes:
        data = await self._inner.read(n)
        self._counter.rx += len(data)
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class CountingWriter:
    def __init__(self, inner: asyncio.StreamWriter, counter: Counter) -> None:
        self._inner, self._counter = inner, counter

    def write(self, data: bytes) -> None:
        self._counter.tx += len(data)
        self._inner.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


SSID, WIFI_PASSWORD = "bench-ap", "bench-pw"


@contextlib.asynccontextmanager
async def counted_link(
    path: str,
    csms: LocalCsms,
    station: Station,
    baud: int,
    buffer_size: int,
    trace: Path,
    counter: Counter,
) -> AsyncIterator[Link]:
    """The link ``cpsim run --modem`` builds, on the emulator, its serial bytes counted."""
    if path == "ec200u":
        async with run_emulator("ec200u", baud=baud) as emu:
            settings = ModemSettings(emu.port_url, baud, at_log=trace, open_port=counter.open_port)
            yield build_link(LinkSpec("ec200u", csms.url, modem=settings), station)
        return
    async with run_emulator(
        "esp-at", baud=baud, wifi_ssid=SSID, wifi_password=WIFI_PASSWORD
    ) as emu:
        esp = EspAtSettings(
            emu.port_url,
            SSID,
            WIFI_PASSWORD,
            baud,
            trace,
            buffer_size,
            open_port=counter.open_port,
        )
        yield build_link(LinkSpec("esp-at", csms.url, modem=esp), station)


def at_commands(trace: Path) -> int:
    return sum(1 for line in trace.read_text().splitlines() if " >> AT" in line)


def histogram(samples_ms: list[float], bins: int = 8, width: int = 40) -> list[str]:
    low, high = min(samples_ms), max(samples_ms)
    step = (high - low) / bins or 1.0
    counts = [0] * bins
    for value in samples_ms:
        counts[min(bins - 1, int((value - low) / step))] += 1
    top = max(counts)
    return [
        f"  {low + i * step:7.1f} ms | {'#' * round(width * c / top):<{width}} {c}"
        for i, c in enumerate(counts)
    ]


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def bench(path: str, heartbeats: int, baud: int, buffer_size: int) -> dict[str, float]:
    """Run the workload over one path; print its figures and return the headline ones."""
    line_rate = baud / 10  # bytes per second, 8N1
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "at.log"
        counter = Counter()
        every = ",".join(sorted(UNITS))  # a heavy configuration: all it measures, in all four
        config = {
            key: every
            for key in (
                "MeterValuesSampledData",
                "MeterValuesAlignedData",
                "StopTxnSampledData",
                "StopTxnAlignedData",
            )
        }
        station = build_station(
            ChargerSpec(
                Identity("BENCH01"),
                StationOptions(connectors=CONNECTORS, state_dir=Path(tmp), config_overrides=config),
            )
        )
        async with (
            LocalCsms(port=0) as csms,
            counted_link(path, csms, station, baud, buffer_size, trace, counter) as link,
        ):
            stop = asyncio.Event()
            started = time.perf_counter()
            task = asyncio.create_task(run_station(station, link, stop))
            try:
                figures = await measure(
                    csms, station, counter, trace, started, heartbeats, line_rate
                )
                figures["3 kB answer round trip (ms)"] = await big_answer(
                    path, csms, counter, trace, line_rate, buffer_size
                )
            finally:  # stop the charger while its modem and the CSMS are still there
                stop.set()
                await task
            return figures


async def measure(
    csms: LocalCsms,
    station: Station,
    counter: Counter,
    trace: Path,
    started: float,
    heartbeats: int,
    line_rate: float,
) -> dict[str, float]:
    """Boot, then ``heartbeats`` Heartbeats: print the figures, return the headline ones."""
    last = await csms.frames.wait_for(
        lambda f: f.action == "StatusNotification" and f.payload["connectorId"] == CONNECTORS,
        120,
    )
    await csms.frames.wait_for(
        lambda f: f.direction == "sent" and f.message[1] == last.message[1], 10
    )
    boot_s = time.perf_counter() - started
    boot_bytes, boot_cmds = sum(counter.snapshot()), at_commands(trace)
    boot_payload = sum(len(_text(f.message)) for f in csms.frames.frames)
    boot_msgs = len(csms.frames.frames)
    print(
        f"boot (modem bring-up, TCP, upgrade, Boot + {CONNECTORS + 1} "
        "StatusNotification): "
        f"{boot_s:.2f}s, {boot_msgs} OCPP messages, {boot_cmds} AT commands, "
        f"{boot_bytes} serial bytes for {boot_payload} payload bytes"
    )

    assert station.connected
    tx0, rx0 = counter.snapshot()
    cmds0, seq0 = at_commands(trace), len(csms.frames.frames)
    latencies = []
    for _ in range(heartbeats):
        t0 = time.perf_counter()
        await station.request("Heartbeat", {})
        latencies.append((time.perf_counter() - t0) * 1000)
    tx1, rx1 = counter.snapshot()
    frames = csms.frames.frames[seq0:]
    payload = sum(len(_text(f.message)) for f in frames)
    serial = (tx1 - tx0) + (rx1 - rx0)
    cmds = at_commands(trace) - cmds0
    floor_ms = serial / heartbeats / line_rate * 1000
    print(f"\n{heartbeats} Heartbeats ({len(frames)} OCPP messages, CALL + CALLRESULT):")
    print(f"  payload bytes per message   {payload / len(frames):8.1f}")
    print(
        f"  serial bytes per message    {serial / len(frames):8.1f}   "
        f"(x{serial / payload:.2f} the payload; "
        f"host->modem {(tx1 - tx0) / len(frames):.1f}, "
        f"modem->host {(rx1 - rx0) / len(frames):.1f})"
    )
    print(f"  AT commands per message     {cmds / len(frames):8.2f}")
    print(
        f"  CALL->CALLRESULT latency    median {statistics.median(latencies):.1f} ms, "
        f"p95 {pct(latencies, 95):.1f} ms; line-rate floor {floor_ms:.1f} ms "
        f"(median / floor = {statistics.median(latencies) / floor_ms:.1f})"
    )
    for row in histogram(latencies):
        print(row)

    return {
        "serial bytes / message": serial / len(frames),
        "payload bytes / message": payload / len(frames),
        "AT commands / message": cmds / len(frames),
        "latency median (ms)": statistics.median(latencies),
        "latency p95 (ms)": pct(latencies, 95),
        "line-rate floor (ms)": floor_ms,
    }


async def big_answer(
    path: str, csms: LocalCsms, counter: Counter, trace: Path, line_rate: float, buffer_size: int
) -> float:
    """GetConfiguration's answer of about 3 kB; its round trip in ms, NaN if it was refused.

    Over ESP-AT it must fit one AT+WSSEND (buffer_size - 10 bytes): with a
    smaller buffer the charger refuses to send it and answers a CALLERROR.
    """
    tx0, rx0 = counter.snapshot()
    cmds0 = at_commands(trace)
    t0 = time.perf_counter()
    try:
        await csms.call("BENCH01", "GetConfiguration", {}, timeout=60)
    except OCPPError as exc:
        refused = re.search(r"(\d+)-byte message", exc.description)
        what = f"{int(refused[1]) / 1000:.1f} kB answer" if refused else "answer"
        print(
            f"\nGetConfiguration: the charger refused its {what} as too large for one "
            f"AT+WSSEND at buffer size {buffer_size} (at most {buffer_size - 10} bytes; "
            f"CALLERROR {exc.code}). Run with --buffer 4096 or more to measure it."
            if "AT+WSSEND" in exc.description
            else f"\nGetConfiguration: CALLERROR {exc.code}: {exc.description}"
        )
        return math.nan
    elapsed = (time.perf_counter() - t0) * 1000
    answer, request = csms.frames.frames[-1], csms.frames.frames[-2]
    size, asked = len(_text(answer.message)), len(_text(request.message))
    serial = (counter.tx - tx0) + (counter.rx - rx0)
    print(f"\nGetConfiguration answer of {size} bytes (request {asked} bytes):")
    print(
        f"  serial bytes {serial} (x{serial / (size + asked):.2f} the payload), "
        f"AT commands {at_commands(trace) - cmds0}, round trip {elapsed:.0f} ms; "
        f"line-rate floor {serial / line_rate * 1000:.0f} ms"
    )
    return elapsed


def _text(message: Any) -> str:
    import json

    return message if isinstance(message, str) else json.dumps(message, separators=(",", ":"))


def _cell(value: float) -> str:
    return f"{'refused':>12}" if math.isnan(value) else f"{value:>12.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", choices=["ec200u", "esp-at", "both"], default="both")
    parser.add_argument("--heartbeats", type=int, default=100)
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--buffer", type=int, default=8192, help="ESP-AT AT+WSCFG buffer size")
    args = parser.parse_args()
    paths = ["ec200u", "esp-at"] if args.path == "both" else [args.path]
    figures = {}
    for path in paths:
        print(f"=== {path} at {args.baud} baud, Python {sys.version.split()[0]}\n")
        figures[path] = asyncio.run(bench(path, args.heartbeats, args.baud, args.buffer))
        print()
    if len(figures) > 1:
        print(f"{'Heartbeat exchange':<30}" + "".join(f"{p:>12}" for p in figures))
        for name in figures[paths[0]]:
            print(f"{name:<30}" + "".join(_cell(figures[p][name]) for p in figures))


if __name__ == "__main__":
    main()
