"""Seeded chaos end to end: a charging session through each chaotic emulated modem.

The charger (charger clock 10x real time, MeterValues every charger second) runs a
RemoteStart ... RemoteStop session of ``CHARGE_S`` charger seconds through the EC200U
or the ESP-AT emulator while :class:`~modem.emulator.chaos.Chaos` injects a fault every
``INTERVAL`` real seconds or so until the RemoteStop (a RemoteStop the charger rejects
because its boot on a new connection is not yet accepted is retried, and counted in the
report); the local CSMS is stopped once half-way and a new one
started on the same port with the same :class:`CsmsPolicy` (its answers survive, as with
a database).  Then every StartTransaction, MeterValues and StopTransaction must be in the
CSMS's frame logs once per unique id, in order, with one transactionId; a copy under the
same unique id is a resend (OCPP-J allows it after a reconnect) and is only reported.

``run_chaotic_session`` is shared with ``benchmarks/chaos.py``.  ``pytest -s`` shows the
report; ``CPSIM_CHAOS_SEED`` picks the seed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import socket
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chargepoint.assembly import ChargerSpec, LinkSpec, build_link, build_station
from chargepoint.clocks import scaled_clock
from chargepoint.core.settings import Identity
from chargepoint.csms.framelog import Frame
from chargepoint.csms.handlers import CsmsPolicy
from chargepoint.csms.server import LocalCsms
from chargepoint.station import StationOptions
from chargepoint.station.runner import Backoff, run_station
from chargepoint.timefmt import parse_epoch
from chargepoint.transport.ec200u import ModemSettings
from chargepoint.transport.espat import EspAtSettings
from modem.emulator import Emulator, Timing, run_emulator
from modem.emulator.chaos import Chaos

SEED = int(os.environ.get("CPSIM_CHAOS_SEED", "11"))
SCALE = 10.0
"""Charger seconds per real second."""
CHARGE_S = 180.0
"""Charger seconds between the StartTransaction's answer and the RemoteStop."""
INTERVAL = 1.5
"""Real seconds between faults, on average."""
STEP = 60.0
"""Bound on every wait for the charger (real seconds); never reached when all is well."""
CP = "CP-CHAOS"
TX_ACTIONS = ("StartTransaction", "MeterValues", "StopTransaction")
SSID, PASSWORD = "cpsim-lab", "s3cret"


def free_port() -> int:
    """A free port below the ephemeral range (while the CSMS is down, no port-0 socket
    of the charger's can take it)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for port in random.Random().sample(range(10000, max(low, 10050)), 50):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port below the ephemeral range")


class Csms:
    """The local CSMS on one port, restartable; frames of every incarnation kept."""

    def __init__(self, port: int, log_path: Path) -> None:
        self.port, self.log_path = port, log_path
        self.policy = CsmsPolicy()
        self.server: LocalCsms | None = None
        self.frames: list[Frame] = []
        self.incarnations = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    async def up(self) -> None:
        server = LocalCsms(port=self.port, log_path=self.log_path, policy=self.policy)
        server.frames.listeners.append(self.frames.append)
        await server.start()
        self.server = server
        self.incarnations += 1

    async def down(self) -> None:
        if self.server is not None:
            server, self.server = self.server, None
            await server.stop()

    async def call(self, action: str, payload: dict[str, Any]) -> Any:
        deadline = asyncio.get_running_loop().time() + STEP
        while True:  # the charger may be between two links: retry until it is connected
            assert self.server is not None, f"{action}: the CSMS is down"
            try:
                return await self.server.call(CP, action, payload, timeout=5)
            except Exception:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.2)

    async def wait_for(self, what: str, predicate: Any) -> Frame:
        async with asyncio.timeout(STEP):
            while True:
                for frame in self.frames:
                    if predicate(frame):
                        return frame
                await asyncio.sleep(0.05)
        raise AssertionError(what)  # pragma: no cover


@contextlib.asynccontextmanager
async def chaotic_emulator(dialect: str) -> AsyncIterator[Emulator]:
    """The emulator as the EC200U and ESP-AT charger tests run it (network delays scaled)."""
    if dialect == "ec200u":
        async with run_emulator("ec200u", baud=0, timing=Timing().scaled(0.05)) as emu:
            yield emu
    else:
        fast = Timing().scaled(0.02)
        wifi = (SSID, PASSWORD)
        async with run_emulator(
            "esp-at", baud=None, timing=fast, wifi_ssid=wifi[0], wifi_password=wifi[1]
        ) as emu:
            yield emu


def link_spec(dialect: str, url: str, emu: Emulator) -> LinkSpec:
    if dialect == "ec200u":
        return LinkSpec("ec200u", url, modem=ModemSettings(emu.port_url, apn="internet"))
    return LinkSpec("esp-at", url, modem=EspAtSettings(emu.port_url, SSID, PASSWORD))


@dataclass
class Report:
    dialect: str
    seed: int
    faults: list[str] = field(default_factory=list)
    """Every injection, as printed (``chaos: t=... kind``)."""
    injected: int = 0
    skipped: int = 0
    reconnects: int = 0
    longest_offline_s: float = 0.0
    """Charger seconds: the longest time between a link going down and the next boot."""
    queued: int = 0
    delivered: int = 0
    lost: int = 0
    """Queued, never received by the CSMS, and no longer in the charger's queue."""
    pending: int = 0
    """Still in the charger's queue at the end (only when a run did not finish)."""
    resends: int = 0
    """Copies of a transaction message under an id the CSMS had already received."""
    samples: int = 0
    stop_rejected: int = 0
    """RemoteStopTransaction answered Rejected (the charger between connect and boot)."""
    problems: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [
            f"{self.dialect} seed {self.seed}: {self.injected} faults injected "
            f"({self.skipped} skipped), {self.reconnects} reconnects, longest offline "
            f"{self.longest_offline_s:.1f} s (charger time), queued {self.queued}, "
            f"delivered {self.delivered}, lost {self.lost}, pending {self.pending}, "
            f"same-id resends {self.resends}, "
            f"{self.samples} MeterValues, RemoteStop rejected {self.stop_rejected}x",
            *self.faults,
            *(f"PROBLEM: {p}" for p in self.problems),
        ]


async def run_chaotic_session(
    dialect: str,
    seed: int,
    tmp: Path,
    *,
    charge_s: float = CHARGE_S,
    interval: float = INTERVAL,
    scale: float = SCALE,
    restart_csms: bool = True,
    limit: int | None = None,
) -> Report:
    """One charging session through a chaotic emulated modem; the report of what came."""
    report = Report(dialect, seed)
    return await _run(report, tmp, charge_s, interval, scale, restart_csms, limit)


async def _run(
    report: Report,
    tmp: Path,
    charge_s: float,
    interval: float,
    scale: float,
    restart_csms: bool,
    limit: int | None,
) -> Report:
    dialect, seed = report.dialect, report.seed
    csms = Csms(free_port(), tmp / "csms.jsonl")
    await csms.up()
    clock = scaled_clock(scale)
    station = build_station(
        ChargerSpec(
            Identity(CP, serial="SN-1"),
            StationOptions(
                state_dir=tmp / "state",
                config_overrides={"MeterValueSampleInterval": "1"},
                auto_unplug_s=0.5,
            ),
            clock=clock,
        )
    )
    offline_since: list[float] = []
    offline: list[float] = []

    def watch(event: dict[str, Any]) -> None:
        if event.get("kind") == "session":
            state = event.get("state")
            if state == "Accepted" and offline_since:
                offline.append(clock.time() - offline_since.pop())
            elif state not in ("Accepted", "Pending") and not offline_since:
                offline_since.append(clock.time())

    station.timeline.listen(watch)
    chaos: Chaos | None = None

    def keep_faults() -> None:
        if chaos is not None:
            report.faults = [str(i) for i in chaos.injections]
            report.injected = len(chaos.injected)
            report.skipped = len(chaos.injections) - report.injected

    failure: str | None = None
    try:
        async with chaotic_emulator(dialect) as emu:
            link = build_link(link_spec(dialect, csms.url, emu), station)
            stop = asyncio.Event()
            task = asyncio.create_task(run_station(station, link, stop, Backoff(0.2, 1.0)))
            try:
                await csms.wait_for("first boot", lambda f: f.action == "BootNotification")
                await csms.wait_for(
                    "connector status",
                    lambda f: f.action == "StatusNotification" and f.payload["connectorId"] == 1,
                )

                def server_close() -> Any:
                    return None if csms.server is None else csms.server.disconnect(CP)

                chaos = Chaos(
                    emu.faults, dialect, seed, interval, server_close=server_close, limit=limit
                ).start()
                answer = await csms.call(
                    "RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1}
                )
                assert answer == {"status": "Accepted"}, f"RemoteStartTransaction -> {answer}"
                start = await csms.wait_for("StartTransaction", _is("StartTransaction"))
                start_answer = await csms.wait_for(
                    "its answer", lambda f: f.message_type == 3 and f.message[1] == start.message[1]
                )
                tx_id = start_answer.payload["transactionId"]
                await clock.sleep(charge_s / 2)
                if restart_csms:
                    await csms.down()
                    await asyncio.sleep(clock.real(5.0))
                    await csms.up()
                await clock.sleep(charge_s / 2)
                # The chaos ends with the charging time: under a fault every few seconds the
                # charger is not always online long enough for a remote call to get through.
                await chaos.stop()
                # The charger rejects it while its BootNotification on a new connection is
                # not yet accepted (core: ``self.accepted and ...``): retry, and report it.
                async with asyncio.timeout(STEP):
                    while (
                        answer := await csms.call("RemoteStopTransaction", {"transactionId": tx_id})
                    ) != {"status": "Accepted"}:
                        report.stop_rejected += 1
                        await asyncio.sleep(0.2)
                await csms.wait_for("StopTransaction", _is("StopTransaction"))
                async with asyncio.timeout(STEP):  # every message answered
                    while station.queued:  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
            except Exception as exc:  # reported with what it injected and what arrived
                failure = f"the run did not finish: {type(exc).__name__}: {exc}"
            finally:
                report.pending = station.queued
                if chaos is not None:
                    await chaos.stop()
                    keep_faults()
                stop.set()
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await asyncio.wait_for(task, STEP)
    finally:
        await csms.down()
        if station.store is not None:
            station.store.close()
    report.longest_offline_s = max(offline, default=0.0)
    analyse(report, csms.frames, tmp / "state" / "timeline.jsonl")
    if failure is not None:
        report.problems.insert(0, failure)
    return report


def _is(action: str) -> Any:
    return lambda f: f.direction == "received" and f.action == action


def analyse(report: Report, frames: list[Frame], timeline_path: Path) -> None:
    """Check the CSMS's frames against what the charger queued; fill ``report``."""
    problems = report.problems
    received = [f for f in frames if f.direction == "received" and f.charge_point == CP]
    report.reconnects = max(0, sum(1 for f in received if f.action == "BootNotification") - 1)
    firsts: dict[str, Frame] = {}
    copies: Counter[str] = Counter()
    for frame in received:
        if frame.action in TX_ACTIONS:
            uid = frame.message[1]
            copies[uid] += 1
            firsts.setdefault(uid, frame)
    report.resends = sum(n - 1 for n in copies.values())
    order = [f for f in firsts.values()]  # in order of first arrival
    queued: list[tuple[str, str]] = []
    gave_up: set[str] = set()
    for line in timeline_path.read_text().splitlines():
        event = json.loads(line)
        if event.get("kind") == "queued" and event.get("action") in TX_ACTIONS:
            queued.append((event["action"], event["uniqueId"]))
        elif event.get("kind") == "gave_up":
            gave_up.add(event["uniqueId"])
    report.queued = len(queued)
    report.delivered = sum(1 for _, uid in queued if uid in firsts)
    report.lost = report.queued - report.delivered - report.pending
    if report.lost:
        missing = [q for q in queued if q[1] not in firsts]
        problems.append(f"lost {report.lost}: {missing[:5]}")
    if gave_up:
        problems.append(f"the charger gave up on {sorted(gave_up)[:5]}")
    if [(f.action, f.message[1]) for f in order] != [q for q in queued if q[1] in firsts]:
        problems.append("the CSMS received the transaction messages out of queue order")
    actions = [f.action for f in order]
    if actions.count("StartTransaction") != 1 or actions[:1] != ["StartTransaction"]:
        problems.append(f"StartTransaction x{actions.count('StartTransaction')}, not first")
    if actions.count("StopTransaction") != 1 or actions[-1:] != ["StopTransaction"]:
        problems.append(f"StopTransaction x{actions.count('StopTransaction')}, not last")
    tx_ids = {f.payload.get("transactionId") for f in order if f.action != "StartTransaction"}
    if len(tx_ids) != 1:
        problems.append(f"transactionIds {sorted(map(str, tx_ids))}")
    samples = [f for f in order if f.action == "MeterValues"]
    report.samples = len(samples)
    stamps = [
        parse_epoch(mv["timestamp"]) or 0.0 for f in samples for mv in f.payload["meterValue"]
    ]
    if any(b <= a for a, b in zip(stamps, stamps[1:], strict=False)):
        problems.append("MeterValues timestamps do not rise (a sample twice under two ids?)")
    if report.samples < 10:
        problems.append(f"only {report.samples} MeterValues")


@pytest.mark.parametrize("dialect", ["ec200u", "esp-at"])
async def test_a_session_through_a_chaotic_modem_loses_and_duplicates_nothing(
    dialect: str, tmp_path: Path
) -> None:
    report = await run_chaotic_session(dialect, SEED, tmp_path)
    print("\n".join(report.lines()))
    assert report.injected >= 5, report.lines()
    assert report.reconnects >= 1  # the CSMS restart at least
    assert report.queued == report.delivered and report.lost == 0
    assert not report.problems, "\n".join(report.lines())
