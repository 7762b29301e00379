"""Power loss, end to end: ``cpsim run`` killed with SIGKILL at 30 random points of a session
with a CSMS that is itself down at some of them (OCPP 1.6 §3.7, §3.7.1).

The charger is a real process with one state dir for the whole run.  The CSMS is a
:class:`LocalCsms` in this process on one fixed port: to be down it is stopped, and later a
new one (an *incarnation*) is started on the same port; they share one policy (transaction
ids go on counting) and one JSONL frame log.  The charger is driven only through the CSMS
(ChangeConfiguration, RemoteStart/RemoteStopTransaction).

A seeded plan picks, for each of the 30 cycles: a kill during start-up or after the boot;
a remote start, a remote start and stop, or neither; the kill point, either a random time
or an exact protocol point (the CSMS has just received a transaction message, or is about
to send its answer, so the message is in flight or answered but not taken); and whether the
CSMS is down at the kill (its connection cut at that point, then stopped) and for how long
after the restart.  After each kill the test reads what the charger had persisted.

At the end every StartTransaction, MeterValues and StopTransaction is in the CSMS frame
logs, in the order queued, none lost, a duplicate only as a same-id resend; every
transaction open at a kill ends with StopTransaction reason PowerLoss and the persisted
register as meterStop; the charger's ``timeline.jsonl`` names every message it queued, in
the same order.  Seed: ``CPSIM_POWER_LOSS_SEED``; ``pytest -s`` shows the report.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from chargepoint.core.records import StoredState, TransactionRecord
from chargepoint.csms.framelog import Frame
from chargepoint.csms.handlers import CsmsPolicy
from chargepoint.csms.server import LocalCsms
from chargepoint.store import DB_NAME, Store
from chargepoint.timefmt import parse_epoch

SEED = int(os.environ.get("CPSIM_POWER_LOSS_SEED", "73"))
CYCLES = 30
CP = "CP-POWERLOSS"
TX_ACTIONS = ("StartTransaction", "MeterValues", "StopTransaction")
STOP_REASONS = {"Remote", "PowerLoss", "Local", "EVDisconnected", "DeAuthorized", "Reboot"}
ENERGY = "Energy.Active.Import.Register"
WAIT_S = 20.0
"""Bound on every wait for the charger (a boot, an answer); never reached when all is well."""


# --- the plan -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    early: bool
    """The kill falls in the start-up (store, connect, boot, delivery of the stored queue)."""
    tx: str
    """"none"; "start": RemoteStart, open at the kill; "stop": RemoteStart, then RemoteStop."""
    hold_s: float
    """"stop": charging time between the StartTransaction's answer and the RemoteStop."""
    kill_at: str
    """"time": ``run_s`` later; "receive": when the CSMS receives the ``nth`` ``target``
    message from then on (before it answers); "answer": when it is about to answer it."""
    target: str | None
    """StartTransaction, MeterValues, StopTransaction; None: any transaction message."""
    nth: int
    run_s: float
    """"time": how long the charger runs until the kill (from the spawn if ``early``, else
    after the remote calls); for a protocol point that does not come within 4 s, the same."""
    csms_down: bool
    """The CSMS is down at the kill: cut at the kill point (``down_lead_s`` before the kill) ..."""
    down_lead_s: float
    down_after_s: float
    """... and started again this long after the charger has been restarted."""


def make_plans(rng: random.Random) -> list[Plan]:
    plans = []
    for _ in range(CYCLES):
        early = rng.random() < 0.25
        tx = "none" if early else rng.choice(["none", "start", "start", "stop", "stop"])
        # A protocol point needs a transaction message to come: one of the stored queue
        # after a restart (early), the StartTransaction or a sample ("start"), the Stop.
        kill_at = (
            "time" if tx == "none" and not early else rng.choice(["time", "receive", "answer"])
        )
        if early:
            run_s, target, nth = rng.uniform(0.05, 1.0), None, rng.choice([1, 1, 2])
        elif tx == "stop":  # the kill falls around the StopTransaction
            run_s, target, nth = rng.uniform(0.0, 0.5), "StopTransaction", 1
        else:
            run_s = rng.uniform(0.1, 1.8)
            target = rng.choice(["StartTransaction", "MeterValues"]) if tx == "start" else None
            nth = rng.choice([1, 2]) if target == "MeterValues" else 1
        down = rng.random() < 0.35
        plans.append(
            Plan(
                early=early,
                tx=tx,
                hold_s=rng.uniform(0.2, 1.5),
                kill_at=kill_at,
                target=target,
                nth=nth,
                run_s=run_s,
                csms_down=down,
                down_lead_s=rng.uniform(0.0, 0.6) if down else 0.0,
                down_after_s=rng.uniform(0.05, 0.8) if down else 0.0,
            )
        )
    return plans


# --- the CSMS, over its incarnations ----------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    index: int
    """Order over every CSMS incarnation (they never overlap)."""
    incarnation: int
    frame: Frame

    @property
    def unique_id(self) -> str:
        return str(self.frame.message[1])


@dataclass
class Trigger:
    fires: Callable[[Frame], bool]
    act: Callable[[], None]
    fired: asyncio.Future[Seen]


class Tap:
    """Every frame of every CSMS incarnation in one list; bounded waits on it, and triggers
    that act synchronously when the CSMS logs a frame (before it sends or handles it)."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self._changed = asyncio.Event()
        self._trigger: Trigger | None = None

    def listener(self, incarnation: int) -> Callable[[Frame], None]:
        def record(frame: Frame) -> None:
            seen = Seen(len(self.seen), incarnation, frame)
            self.seen.append(seen)
            self._changed.set()
            trigger = self._trigger
            if trigger is not None and trigger.fires(frame):
                self._trigger = None
                trigger.act()
                if not trigger.fired.done():
                    trigger.fired.set_result(seen)

        return record

    def arm(self, fires: Callable[[Frame], bool], act: Callable[[], None]) -> asyncio.Future[Seen]:
        fired: asyncio.Future[Seen] = asyncio.get_running_loop().create_future()
        self._trigger = Trigger(fires, act, fired)
        return fired

    def disarm(self) -> None:
        self._trigger = None

    async def wait_for(
        self, what: str, predicate: Callable[[Frame], bool], after: int, timeout: float = WAIT_S
    ) -> Seen:
        try:
            async with asyncio.timeout(timeout):
                looked = after
                while True:
                    for item in self.seen[looked:]:
                        if predicate(item.frame):
                            return item
                    looked = len(self.seen)
                    self._changed.clear()
                    await self._changed.wait()
        except TimeoutError:
            raise AssertionError(f"the CSMS saw no {what} within {timeout:.0f}s") from None


def nth_transaction_message(
    kind: str, target: str | None, nth: int, id_tag: str | None = None
) -> Callable[[Frame], bool]:
    """``kind`` "receive": the CSMS logs the ``nth`` ``target`` CALL (any transaction message
    if None; for ``id_tag`` if given) it receives from now on; "answer": it logs its answer
    to it, just before sending it."""
    calls: set[str] = set()

    def fires(frame: Frame) -> bool:
        if frame.direction == "received" and frame.action in TX_ACTIONS:
            if target in (None, frame.action) and id_tag in (None, frame.payload.get("idTag")):
                calls.add(str(frame.message[1]))
                return kind == "receive" and len(calls) == nth
            return False
        return (
            kind == "answer"
            and frame.direction == "sent"
            and frame.message_type == 3
            and len(calls) == nth
            and frame.message[1] in calls
        )

    return fires


class Csms:
    def __init__(self, port: int, log_path: Path, tap: Tap) -> None:
        self.port, self.log_path, self.tap = port, log_path, tap
        self.policy = CsmsPolicy()  # shared: transaction ids go on counting over incarnations
        self.server: LocalCsms | None = None
        self.incarnations = 0
        self._coming: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    @property
    def is_up(self) -> bool:
        return self.server is not None

    async def up(self) -> None:
        if self._coming is not None:
            coming, self._coming = self._coming, None
            await coming
        await self._start()

    async def _start(self) -> None:
        if self.server is None:
            server = LocalCsms(port=self.port, log_path=self.log_path, policy=self.policy)
            server.frames.listeners.append(self.tap.listener(self.incarnations))
            await server.start()
            self.incarnations += 1
            self.server = server

    def up_after(self, delay: float) -> None:
        async def later() -> None:
            await asyncio.sleep(delay)
            await self._start()

        self._coming = asyncio.create_task(later())

    def cut(self) -> None:
        """Cut the charger's connection at once (no close frame), from inside a trigger."""
        if self.server is not None:
            self.server.drop(CP)

    async def down(self) -> None:
        if self._coming is not None:  # let it come up (never cancel half a start), then stop
            coming, self._coming = self._coming, None
            await coming
        if self.server is not None:
            server, self.server = self.server, None
            await server.stop()

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        assert self.server is not None, f"{action}: the CSMS is down"
        return await self.server.call(CP, action, payload, timeout=10)


def free_port() -> int:
    """A free port below the ephemeral range: while the CSMS is down, nobody's port 0 takes
    it, and the charger's own connect cannot pick it as its source port (a TCP self-connect)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    ports = random.Random().sample(range(10000, max(low, 10050)), 50)  # not the plan's rng
    for port in ports:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port below the ephemeral range")


# --- the charger process ----------------------------------------------------------------------


def cpsim(*args: str) -> list[str]:
    return [sys.executable, "-m", "chargepoint", *args]


class Charger:
    def __init__(self, state_dir: Path, url: str, log_dir: Path) -> None:
        self.state_dir, self.url, self.log_dir = state_dir, url, log_dir
        self.proc: asyncio.subprocess.Process | None = None
        self._signalled = False
        self.logs: list[Path] = []
        self.spawned_at = 0
        """Frames seen before this process started."""

    async def spawn(self, mark: int) -> None:
        log = self.log_dir / f"charger-{len(self.logs) + 1:02d}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                *cpsim("run", "--id", CP, "--url", self.url, "--state-dir", str(self.state_dir)),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.spawned_at = mark
        self._signalled = False

    def kill_now(self) -> None:
        """SIGKILL, synchronously (from inside a trigger), once.

        ``os.kill``, not ``Process.send_signal``: that polls first, which can reap the child
        behind asyncio's watcher, which then reports exit status 255.
        """
        if self.proc is not None and not self._signalled:
            self._signalled = True
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)

    async def kill(self) -> int:
        """SIGKILL (if not sent already) and reap; the exit status (-9 unless it had ended)."""
        self.kill_now()
        assert self.proc is not None
        proc, self.proc = self.proc, None
        return await proc.wait()

    async def booted(self, tap: Tap) -> None:
        """Wait for the boot of this process (bounded), or fail at once if it ends first."""
        assert self.proc is not None
        boot = asyncio.ensure_future(tap.wait_for(*booted(self.spawned_at)))
        ended = asyncio.ensure_future(self.proc.wait())
        await asyncio.wait({boot, ended}, return_when=asyncio.FIRST_COMPLETED)
        if boot.done():
            ended.cancel()
            boot.result()
            return
        boot.cancel()
        tail = self.logs[-1].read_text("utf-8", "replace").splitlines()[-5:]
        raise AssertionError(
            f"the charger exited ({ended.result()}) before it booted; the end of "
            f"{self.logs[-1]}:\n" + "\n".join(tail)
        )

    async def stop(self) -> int:
        """SIGTERM (Ctrl+C's path): the charger closes its link and exits 0."""
        assert self.proc is not None
        proc, self.proc = self.proc, None
        proc.terminate()
        async with asyncio.timeout(WAIT_S):
            return await proc.wait()


def stored(state_dir: Path) -> StoredState:
    """What the (dead) charger had persisted."""
    if not (state_dir / DB_NAME).exists():
        return StoredState()
    with Store.open_readonly(state_dir) as store:
        return store.load(CP)


async def state_show(state_dir: Path) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        *cpsim("state", "show", "--state-dir", str(state_dir), "--json"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    doc: dict[str, Any] = json.loads(out)
    return doc


async def drained(state_dir: Path, timeout: float = 60) -> dict[str, Any]:
    """Poll ``cpsim state show --json`` until the queue is empty and no transaction open."""
    last: dict[str, Any] = {}
    try:
        async with asyncio.timeout(timeout):
            while True:
                doc = await state_show(state_dir)
                last = next((c for c in doc["chargers"] if c["id"] == CP), {})
                if last and not last["queue"] and not last["transactions"]:
                    return last
                await asyncio.sleep(0.25)
    except TimeoutError:
        raise AssertionError(
            f"the charger did not drain its queue within {timeout:.0f}s: "
            f"{len(last.get('queue', []))} queued, "
            f"{len(last.get('transactions', []))} open transaction(s)"
        ) from None


# --- one run: 30 cycles -----------------------------------------------------------------------


@dataclass
class Kill:
    cycle: int
    mark: int
    """Frames the CSMS had seen before the kill."""
    point: str
    """"time", or the protocol point, e.g. "kill as the CSMS received StartTransaction",
    "cut as the CSMS answered MeterValues" (cut: the CSMS's connection, then the kill)."""
    csms_down: bool
    early: bool
    status: int
    """The process's exit status: -9 (SIGKILL) unless it had ended by itself."""
    state: StoredState


@dataclass
class Remote:
    cycle: int
    id_tag: str
    start: str
    stop: str | None = None


def booted(after: int) -> tuple[str, Callable[[Frame], bool], int]:
    """The boot's StatusNotification of connector 1 (boot Accepted, statuses reported)."""
    return (
        "boot (StatusNotification of connector 1)",
        lambda f: (
            f.direction == "received"
            and f.action == "StatusNotification"
            and f.payload.get("connectorId") == 1
        ),
        after,
    )


async def remote_calls(
    number: int, plan: Plan, csms: Csms, tap: Tap, arm: Callable[[str | None], None]
) -> Remote | None:
    """The cycle's RemoteStart (and RemoteStop), arming the kill point where no message of
    the queue can fire it during a call: a cut then would leave the call unanswered."""
    if plan.tx == "none":
        arm(None)
        return None
    tag = f"PL-{number:02d}"
    mark = len(tap.seen)
    if plan.tx == "start" and plan.target == "StartTransaction":
        arm(tag)  # this cycle's, not one of an earlier cycle still queued
    answer = await csms.call("RemoteStartTransaction", {"connectorId": 1, "idTag": tag})
    remote = Remote(number, tag, answer["status"])
    if plan.tx == "start" and plan.target != "StartTransaction":
        arm(None)
    if plan.tx != "stop" or remote.start != "Accepted":
        return remote
    start = await tap.wait_for(
        f"StartTransaction for {tag}",
        lambda f: f.action == "StartTransaction" and f.payload.get("idTag") == tag,
        mark,
    )
    answered = await tap.wait_for(
        f"answer to StartTransaction {start.unique_id}",
        lambda f: f.direction == "sent" and f.message_type == 3 and f.message[1] == start.unique_id,
        start.index,
    )
    await asyncio.sleep(plan.hold_s)
    arm(None)  # the queue is empty up to this transaction's: its StopTransaction comes next
    transaction_id = answered.frame.payload["transactionId"]
    stop = await csms.call("RemoteStopTransaction", {"transactionId": transaction_id})
    remote.stop = stop["status"]
    return remote


async def run_cycle(
    number: int, plan: Plan, csms: Csms, charger: Charger, tap: Tap, pending: int
) -> tuple[Kill, Remote | None]:
    """One cycle; ``pending``: transaction messages the charger will send after a restart."""
    remote: Remote | None = None
    fired: asyncio.Future[Seen] | None = None
    how = "cut" if plan.csms_down else "kill"

    def arm(id_tag: str | None) -> None:
        nonlocal fired
        if plan.kill_at != "time":
            act = csms.cut if plan.csms_down else charger.kill_now
            fires = nth_transaction_message(plan.kill_at, plan.target, plan.nth, id_tag)
            fired = tap.arm(fires, act)

    if plan.early:
        if pending >= plan.nth:
            arm(None)
    else:
        await charger.booted(tap)
        remote = await remote_calls(number, plan, csms, tap, arm)
    point = "time"
    if fired is not None:
        # The exact protocol point if the charger gets there in time; else a time after all.
        await asyncio.wait({fired}, timeout=4.0)
        tap.disarm()
        if fired.done():
            seen = fired.result()
            if plan.kill_at == "receive":
                point = f"{how} as the CSMS received {seen.frame.action}"
            else:
                point = f"{how} as the CSMS answered {_action_of(tap, seen.unique_id)}"
    if point == "time":
        await asyncio.sleep(max(0.0, plan.run_s - plan.down_lead_s))
    if plan.csms_down:
        await csms.down()
        await asyncio.sleep(plan.down_lead_s)
    mark = len(tap.seen)
    csms_down = not csms.is_up
    status = await charger.kill()
    state = stored(charger.state_dir)
    await charger.spawn(len(tap.seen))
    if plan.csms_down:
        csms.up_after(plan.down_after_s)
    return Kill(number, mark, point, csms_down, plan.early, status, state), remote


def _action_of(tap: Tap, unique_id: str) -> str:
    for seen in tap.seen:
        if seen.frame.message_type == 2 and seen.unique_id == unique_id:
            return str(seen.frame.action)
    return "?"


@dataclass
class Run:
    where: Path
    wall_s: float
    report: dict[str, Any]
    problems: list[str]
    logs: list[Path]
    exit_status: int
    final: dict[str, Any]


async def power_loss_scenario(where: Path) -> Run:
    began = time.monotonic()
    plans = make_plans(random.Random(SEED))
    state_dir = where / "state"
    tap = Tap()
    csms = Csms(free_port(), where / "csms.jsonl", tap)
    charger = Charger(state_dir, csms.url, where)
    kills: list[Kill] = []
    remotes: list[Remote] = []
    try:
        await csms.up()
        await charger.spawn(0)
        await charger.booted(tap)
        answer = await csms.call(
            "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "1"}
        )
        assert answer == {"status": "Accepted"}
        for number, plan in enumerate(plans, 1):
            pending = len(kills[-1].state.queue) + len(kills[-1].state.transactions) if kills else 0
            kill, remote = await run_cycle(number, plan, csms, charger, tap, pending)
            kills.append(kill)
            remotes += [remote] if remote is not None else []
        await csms.up()
        await charger.booted(tap)  # SIGTERM needs its handler installed
        final = await drained(state_dir)
        exit_status = await charger.stop()
    finally:
        tap.disarm()
        if charger.proc is not None:
            await charger.kill()
        await csms.down()
    timeline = read_timeline(state_dir / "timeline.jsonl")
    report, problems = analyse(tap.seen, kills, remotes, timeline)
    report["CSMS incarnations"] = csms.incarnations
    wall_s = time.monotonic() - began
    return Run(where, wall_s, report, problems, charger.logs, exit_status, final)


def listing(where: Path, problems: list[str], most: int = 25) -> str:
    more = [f"... and {len(problems) - most} more"] if len(problems) > most else []
    return "\n".join([f"{len(problems)} problem(s), logs in {where}:", *problems[:most], *more])


@pytest.mark.timeout(300)
async def test_power_loss_at_30_random_points(tmp_path: Path) -> None:
    run = await power_loss_scenario(tmp_path)
    print(f"\npower loss e2e, seed {SEED} (CPSIM_POWER_LOSS_SEED), {run.wall_s:.0f}s wall:")
    for name, value in run.report.items():
        print(f"  {name}: {value}")
    tracebacks = [log.name for log in run.logs if "Traceback" in log.read_text("utf-8")]
    assert not tracebacks, f"tracebacks in the charger's output: {tracebacks} (in {run.where})"
    assert run.exit_status == 0
    assert run.final["config"]["MeterValueSampleInterval"] == "1"  # persisted over 30 kills
    if run.problems:
        pytest.fail(listing(run.where, run.problems), pytrace=False)
    report = run.report
    assert report["kills"] == CYCLES and report["exited by itself"] == []
    assert report["kills while the CSMS was down"] >= 1
    assert report["transactions"] >= 5 and report["messages"]["MeterValues"] >= 5
    assert report["stop reasons"].get("PowerLoss", 0) >= 1
    resends = report["same-id resends"]["total"]
    assert 1 <= resends <= report["kills"]
    assert resends == report["in flight at a kill (received, still stored)"]
    assert report["gave up"] == 0
    assert report["timeline queued lines"] > 0  # check (3) was not vacuous
    assert report["timeline torn lines"] == 0


# --- the checks -------------------------------------------------------------------------------


@dataclass
class Timeline:
    queued: list[tuple[str, str]] = field(default_factory=list)
    """(action, uniqueId) of every "queued" line, in file order."""
    gave_up: set[str] = field(default_factory=set)
    torn: int = 0
    """Lines that are not JSON (a line cut by the kill and the next run's first line)."""


def read_timeline(path: Path) -> Timeline:
    timeline = Timeline()
    if not path.exists():
        return timeline
    for line in path.read_text("utf-8", "replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            timeline.torn += 1
            continue
        if event.get("kind") == "queued":
            timeline.queued.append((event["action"], event["uniqueId"]))
        elif event.get("kind") == "gave_up":
            timeline.gave_up.add(event["uniqueId"])
    return timeline


@dataclass
class Tx:
    start: list[Seen]
    """The StartTransaction's receipts (one unique id)."""
    transaction_ids: list[int]
    """What the CSMS answered to each receipt, in order (its last one is the one in use)."""
    meter_values: list[list[Seen]] = field(default_factory=list)
    stops: list[list[Seen]] = field(default_factory=list)

    @property
    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = self.start[0].frame.payload
        return payload

    @property
    def key(self) -> tuple[str, int, str]:
        """What makes a StartTransaction one start of one transaction."""
        p = self.payload
        return (p["idTag"], p["meterStart"], p["timestamp"])

    @property
    def name(self) -> str:
        return f"transaction {self.payload['idTag']} (ids {self.transaction_ids})"


def energy(meter_value: dict[str, Any]) -> float | None:
    for sampled in meter_value.get("sampledValue", []):
        if sampled.get("measurand", ENERGY) == ENERGY:
            return float(sampled["value"])
    return None


def analyse(
    seen: list[Seen], kills: list[Kill], remotes: list[Remote], timeline: Timeline
) -> tuple[dict[str, Any], list[str]]:
    """The report's figures and the problems found."""
    problems: list[str] = []
    calls = [s for s in seen if s.frame.direction == "received" and s.frame.message_type == 2]
    answers: dict[str, list[Seen]] = defaultdict(list)
    for s in seen:
        if s.frame.direction == "sent" and s.frame.message_type == 3:
            answers[s.unique_id].append(s)
    receipts: dict[str, list[Seen]] = defaultdict(list)
    for s in calls:
        receipts[s.unique_id].append(s)

    # (4) a unique id is one message: same action and payload at every receipt; only
    # transaction messages are ever received twice
    for uid, got in receipts.items():
        first = got[0].frame
        for again in got[1:]:
            if (again.frame.action, again.frame.payload) != (first.action, first.payload):
                problems.append(
                    f"unique id {uid} carried two messages: {first.action} {first.payload} "
                    f"and {again.frame.action} {again.frame.payload}"
                )
        if len(got) > 1 and first.action not in TX_ACTIONS:
            problems.append(f"{first.action} {uid} received {len(got)} times")

    # In receive order, the transaction messages' receipts form one run per unique id: a
    # message is resent only while it is the head of the queue, before anything after it.
    runs: list[list[Seen]] = []
    for s in calls:
        if s.frame.action not in TX_ACTIONS:
            continue
        if runs and runs[-1][0].unique_id == s.unique_id:
            runs[-1].append(s)
        else:
            runs.append([s])
    run_ids = [run[0].unique_id for run in runs]
    for uid, count in Counter(run_ids).items():
        if count > 1:
            problems.append(
                f"{receipts[uid][0].frame.action} {uid} received again after later "
                "transaction messages (out of order)"
            )
    resends: Counter[str] = Counter()
    for run in runs:
        resends[str(run[0].frame.action)] += len(run) - 1
    for uid in set(run_ids):
        if not answers.get(uid):
            problems.append(f"{receipts[uid][0].frame.action} {uid} never answered by the CSMS")

    # (1), (2) transactions: a StartTransaction, its MeterValues, one StopTransaction, in
    # that order, one transaction after the other (one connector)
    owner: dict[int, str] = {}
    txs: dict[str, Tx] = {}
    current: Tx | None = None
    for run in runs:
        frame, uid = run[0].frame, run[0].unique_id
        if frame.action == "StartTransaction":
            if current is not None and not current.stops:
                problems.append(f"{uid} started a transaction while {current.name} was open")
            ids = [int(a.frame.payload["transactionId"]) for a in answers[uid]]
            for transaction_id in ids:
                owner[transaction_id] = uid
            current = txs[uid] = Tx(run, ids)
            continue
        transaction_id = frame.payload.get("transactionId")
        tx = txs.get(owner.get(transaction_id, "")) if isinstance(transaction_id, int) else None
        if tx is None:
            problems.append(
                f"{frame.action} {uid} names transactionId {transaction_id}, "
                "which no StartTransaction before it was given"
            )
            continue
        if transaction_id != tx.transaction_ids[-1]:
            problems.append(
                f"{frame.action} {uid} names transactionId {transaction_id}, not the one the "
                f"charger last got for its StartTransaction ({tx.transaction_ids})"
            )
        if tx.stops:
            problems.append(f"{frame.action} {uid} received after the StopTransaction of {tx.name}")
        (tx.meter_values if frame.action == "MeterValues" else tx.stops).append(run)

    started = Counter(tx.key[0] for tx in txs.values())
    for tag, count in started.items():
        if count > 1:
            problems.append(f"{tag}: {count} StartTransactions under different unique ids")
    reasons: Counter[str] = Counter()
    previous_stop: int | None = None
    for tx in txs.values():
        meter_start = int(tx.payload["meterStart"])
        if previous_stop is not None and meter_start < previous_stop:
            problems.append(f"{tx.name}: meterStart {meter_start} < last meterStop {previous_stop}")
        stamps: list[float] = []
        readings: list[float] = [meter_start]
        for run in tx.meter_values:
            for meter_value in run[0].frame.payload["meterValue"]:
                stamps.append(parse_epoch(meter_value["timestamp"]) or 0.0)
                value = energy(meter_value)
                if value is not None:
                    readings.append(value)
        if any(b <= a for a, b in zip(stamps, stamps[1:], strict=False)):
            problems.append(f"{tx.name}: MeterValues timestamps not strictly increasing")
        if len(tx.stops) != 1:
            problems.append(f"{tx.name}: {len(tx.stops)} StopTransaction(s) (unique ids)")
            continue
        stop = tx.stops[0][0].frame.payload
        reasons[stop.get("reason", "Local")] += 1
        meter_stop = int(stop["meterStop"])
        previous_stop = meter_stop
        readings.append(meter_stop)
        if any(b < a for a, b in zip(readings, readings[1:], strict=False)):
            problems.append(
                f"{tx.name}: energy went down: meterStart, readings, meterStop = {readings}"
            )
        if stop.get("reason", "Local") not in STOP_REASONS:
            problems.append(f"{tx.name}: StopTransaction reason {stop.get('reason')!r}")
        if stamps and (parse_epoch(stop["timestamp"]) or 0.0) < stamps[-1]:
            problems.append(f"{tx.name}: StopTransaction timestamp before its last MeterValues")

    by_tag = {tx.key[0]: tx for tx in txs.values()}
    for remote in remotes:
        tx = by_tag.get(remote.id_tag)
        if remote.stop == "Accepted" and (tx is None or not tx.stops or _reason(tx) != "Remote"):
            problems.append(f"{remote.id_tag}: RemoteStop Accepted, but no StopTransaction Remote")

    # §3.7 across restarts: what the store held at a kill reaches the CSMS after it, with
    # its unique id; what it no longer held had been answered; open transactions end with
    # PowerLoss and the persisted register
    in_flight = 0
    power_loss: dict[int, tuple[TransactionRecord, int, str]] = {}
    for previous, kill in zip([0, *(k.mark for k in kills)], kills, strict=False):
        held = {m.unique_id for m in kill.state.queue}
        for message in kill.state.queue:
            after = [s for s in receipts.get(message.unique_id, []) if s.index >= kill.mark]
            if not after:
                problems.append(
                    f"kill {kill.cycle}: {message.action} {message.unique_id} was in the store, "
                    "never received after the restart"
                )
                continue
            sent = {k: v for k, v in after[0].frame.payload.items() if k != "transactionId"}
            kept = {k: v for k, v in message.payload.items() if k != "transactionId"}
            if sent != kept:
                problems.append(f"kill {kill.cycle}: {message.unique_id} resent changed: {kept}")
            if any(previous <= s.index < kill.mark for s in receipts[message.unique_id]):
                in_flight += 1  # received since the last kill, not taken: resent once
        for uid in set(run_ids) - held:
            before = [s for s in receipts[uid] if s.index < kill.mark]
            if before and not any(a.index < kill.mark for a in answers[uid]):
                problems.append(
                    f"kill {kill.cycle}: {before[0].frame.action} {uid} gone from the store "
                    "though the CSMS had not answered it"
                )
        for record in kill.state.transactions:
            reading = kill.state.registers.get(record.connector_id)
            meter_stop = (
                max(int(reading.energy_wh), record.meter_start) if reading else record.meter_start
            )
            when = reading.timestamp if reading else record.started
            expected = power_loss.setdefault(record.local_id, (record, meter_stop, when))
            if expected[1:] != (meter_stop, when):
                problems.append(f"kill {kill.cycle}: register of {record} changed while dead")
    by_key = {tx.key: tx for tx in txs.values()}
    for record, meter_stop, when in power_loss.values():
        tx = by_key.get((record.id_tag, record.meter_start, record.started))
        if tx is None:
            problems.append(f"{record}: open at a kill, no StartTransaction at the CSMS")
            continue
        if record.transaction_id is not None and record.transaction_id != tx.transaction_ids[-1]:
            problems.append(f"{tx.name}: the store held transactionId {record.transaction_id}")
        if not tx.stops:
            continue
        stop = tx.stops[0][0].frame.payload
        ended = (stop.get("reason"), stop["meterStop"], stop["timestamp"])
        if ended != ("PowerLoss", meter_stop, when):
            problems.append(
                f"{tx.name}: open at a kill, ended with {ended}, not PowerLoss {meter_stop} {when}"
            )
    if reasons["PowerLoss"] != len(power_loss):
        problems.append(
            f"{reasons['PowerLoss']} PowerLoss stops for {len(power_loss)} transactions open "
            "at a kill"
        )

    # (3) the charger's timeline: everything it says it queued reached the CSMS, in order,
    # and it names every message the CSMS received, but for the newest message in the store
    # at a kill that had not gone out yet (its step's lines may be cut by the kill)
    delivered = set(run_ids)
    noted = {uid for _, uid in timeline.queued}
    for action, uid in timeline.queued:
        if uid not in delivered and uid not in timeline.gave_up:
            problems.append(f"timeline: {action} {uid} queued, never received by the CSMS")
    if [uid for _, uid in timeline.queued if uid in delivered] != [
        uid for uid in run_ids if uid in noted
    ]:
        problems.append("timeline: the CSMS received the messages in another order than queued")
    if len(noted) != len(timeline.queued):
        problems.append("timeline: a unique id queued twice")
    cut_short = {
        newest.unique_id
        for kill in kills
        if kill.state.queue
        for newest in [max(kill.state.queue, key=lambda m: m.seq)]
        if not any(s.index < kill.mark for s in receipts.get(newest.unique_id, []))
    }
    unnamed = delivered - noted
    for uid in sorted(unnamed - cut_short):
        problems.append(f"timeline: no queued line for {receipts[uid][0].frame.action} {uid}")

    messages = Counter(str(receipts[uid][0].frame.action) for uid in run_ids)
    report: dict[str, Any] = {
        "cycles": len(kills),
        "kill points": dict(sorted(Counter(k.point for k in kills).items())),
        "kills": len(kills),
        "kills while the CSMS was down": sum(k.csms_down for k in kills),
        "kills during start-up": sum(k.early for k in kills),
        "exited by itself": [(k.cycle, k.status) for k in kills if k.status != -signal.SIGKILL],
        "remote starts / stops accepted": (
            f"{sum(r.start == 'Accepted' for r in remotes)} / "
            f"{sum(r.stop == 'Accepted' for r in remotes)}"
        ),
        "transactions": len(txs),
        "stop reasons": dict(reasons),
        "messages": {action: messages[action] for action in TX_ACTIONS},
        "receipts": sum(len(run) for run in runs),
        "same-id resends": {"total": sum(resends.values()), **dict(resends)},
        "in flight at a kill (received, still stored)": in_flight,
        "transaction ids the CSMS gave a resent StartTransaction": sum(
            len(set(tx.transaction_ids)) - 1 for tx in txs.values()
        ),
        "timeline queued lines": len(timeline.queued),
        "messages missing from the timeline (kill in their step)": len(unnamed),
        "timeline torn lines": timeline.torn,
        "gave up": len(timeline.gave_up),
    }
    return report, problems


def _reason(tx: Tx) -> str:
    return str(tx.stops[0][0].frame.payload.get("reason", "Local"))
