"""A modem slower than the driver: a QISEND prompt after its timeout, and a modem that hangs.

The charger runs against the local CSMS over real TCP through the emulated EC200U
on a pty.  Everything is scaled by :data:`SCALE`: the driver's timeout table and
the fault delays are multiplied by it, so the reference's figures (a 5 s QISEND
timeout, prompts 3, 7, 15 and 20 s late, Quectel's 60 s of silence) keep their
proportions while the test runs fast.  Nothing here measures wall-clock time.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.protocol import SERVER, Protocol

from chargepoint.assembly import LinkSpec
from chargepoint.csms.server import LocalCsms
from chargepoint.transport.ec200u import ModemSettings
from modem.at.driver import SILENT_PAYLOAD_PHASE
from modem.emulator import run_emulator
from modem.emulator.config import Timing

SCALE = 0.2
QISEND_TIMEOUT = 5.0  # the driver's (and the module's) default, reference A.4 / A.11
TIMEOUTS = {
    "AT": 5.0 * SCALE,  # every command without its own entry (default 5 s)
    "AT+QISEND=": QISEND_TIMEOUT * SCALE,
    SILENT_PAYLOAD_PHASE: 60.0 * SCALE,
}
# Close codes a server uses when the client broke the protocol: a corrupt frame.
MISUSE = {1002, 1003, 1007, 1009, 1011}


@pytest.fixture
async def emulator() -> AsyncIterator[Any]:
    async with run_emulator("ec200u", baud=0, timing=Timing().scaled(0.05)) as emu:
        yield emu


@pytest.fixture
def server_failures(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, str]]]:
    """Every (code, reason) with which the CSMS's WebSocket failed a connection."""
    failures: list[tuple[int, str]] = []
    original = Protocol.fail

    def fail(self: Protocol, code: int, reason: str = "") -> None:
        if self.side is SERVER:
            failures.append((int(code), reason))
        original(self, code, reason)

    monkeypatch.setattr(Protocol, "fail", fail)
    yield failures


def link(csms: LocalCsms, emu: Any, at_log: Path, **timeouts: float) -> LinkSpec:
    return LinkSpec(
        "ec200u",
        csms.url,
        modem=ModemSettings(
            emu.port_url,
            apn="internet",
            at_log=at_log,
            timeouts={**TIMEOUTS, **timeouts},
            boot_timeout=30.0,
        ),
    )


_TRACE = re.compile(r"^\S+ \S+ \S+ (>>|<<|--) (.*)$")
_SEND = re.compile(r"AT\+QISEND=\d+,([1-9]\d*)$")
_FINAL = re.compile(r"(SEND OK|SEND FAIL|ERROR|\+CME ERROR|RDY)\b")


def writes_inside_sends(trace: str) -> tuple[int, list[str]]:
    """(sends seen, every write between an AT+QISEND=<id>,<n> and its final result that
    is not exactly its <n> payload bytes after its prompt)."""
    sends = 0
    bad: list[str] = []
    announced: int | None = None
    prompted = paid = False
    for line in trace.splitlines():
        match = _TRACE.match(line)
        if match is None:
            continue
        direction, text = match.groups()
        if announced is None:
            if direction == ">>" and (send := _SEND.match(text)):
                sends += 1
                announced, prompted, paid = int(send.group(1)), False, False
            continue
        if direction == "<<":
            if text.startswith(">"):
                prompted = True
            elif _FINAL.match(text):
                announced = None
        elif direction == ">>":
            if prompted and not paid and text.startswith(f"[{announced} bytes]"):
                paid = True
                continue
            bad.append(text)
    return sends, bad


async def start_transaction(charger: Any) -> int:
    await charger.call("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1})
    start = await charger.received("StartTransaction", timeout=30)
    tx_id: int = (await charger.answer_to(start)).payload["transactionId"]
    return tx_id


def record_queue(charger: Any) -> list[tuple[str, str]]:
    """(action, uniqueId) of every transaction message the charger core queues."""
    core = charger.station.core
    queued: list[tuple[str, str]] = []
    enqueue = core.enqueue

    def recording(action: str, payload: dict[str, Any], local_tx: int = 0) -> Any:
        message = enqueue(action, payload, local_tx)
        queued.append((message.action, message.unique_id))
        return message

    core.enqueue = recording
    return queued


async def queue_empty(charger: Any, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while charger.station.core.outbox.persisted():  # noqa: ASYNC110
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("late", [3, 7, 15, 20])
async def test_prompt_later_than_the_driver_timeout(
    late: int,
    csms: LocalCsms,
    start_charger: Any,
    emulator: Any,
    server_failures: list[tuple[int, str]],
    tmp_path: Path,
) -> None:
    """The prompt comes ``late`` s after AT+QISEND (driver timeout 5 s, scaled)."""
    at_log = tmp_path / "at.log"
    charger = await start_charger(
        link_spec=link(csms, emulator, at_log),
        config_overrides={"MeterValueSampleInterval": "1"},
    )
    queued = record_queue(charger)
    await charger.booted(timeout=30)
    tx_id = await start_transaction(charger)
    await charger.received("MeterValues", timeout=30)
    boots = len(csms.frames.calls(charger.id, "BootNotification"))
    mark = csms.frames.frames[-1].seq
    emulator.faults.late_prompt(late * SCALE)  # the next send (a MeterValues, a ping, ...)
    if late > QISEND_TIMEOUT:  # the send timed out: a new socket, a new session
        boot = await charger.received("BootNotification", after=mark, timeout=60)
        mark = boot.seq
    await charger.received("MeterValues", after=mark, timeout=60)  # the session goes on
    await charger.call("RemoteStopTransaction", {"transactionId": tx_id}, timeout=30)
    stop = await charger.received("StopTransaction", after=mark, timeout=30)
    assert stop.payload["transactionId"] == tx_id
    await queue_empty(charger)
    await charger.shutdown()

    # 0 protocol misuse: the CSMS failed no connection for a corrupt frame, and every
    # frame it received parses as an OCPP message.
    assert [f for f in server_failures if f[0] in MISUSE] == []
    received = [f for f in csms.frames.frames if f.direction == "received"]
    assert received and all(isinstance(f.message, list) for f in received)
    # nothing of the transaction queue lost: each queued message reached the CSMS
    got = {(f.action, f.message[1]) for f in received if f.message_type == 2}
    assert queued and [q for q in queued if q not in got] == []
    # the AT trace: nothing written between an AT+QISEND and its prompt / final result
    trace = at_log.read_text()
    sends, bad = writes_inside_sends(trace)
    assert sends > 0 and bad == []
    assert ",563" not in trace  # the connectID was free when it was opened again
    reopened = len(csms.frames.calls(charger.id, "BootNotification")) - boots
    if late > QISEND_TIMEOUT:
        assert "late prompt for AT+QISEND=" in trace
        assert reopened >= 1
        # the socket was closed only after the module left its payload phase
        timed_out = trace.index("timeout after")
        close = trace.index(">> AT+QICLOSE=0", timed_out)
        assert timed_out < trace.index("late prompt for AT+QISEND=") < close
    else:
        assert "timeout after" not in trace and reopened == 0


async def test_hung_modem_is_reset_and_the_link_comes_back(
    csms: LocalCsms,
    start_charger: Any,
    emulator: Any,
    server_failures: list[tuple[int, str]],
    tmp_path: Path,
) -> None:
    """Every command times out: AT retries, AT+CFUN=1,1, RDY, the link again."""
    at_log = tmp_path / "at.log"
    charger = await start_charger(
        link_spec=link(csms, emulator, at_log, **{SILENT_PAYLOAD_PHASE: 2.0}),
        config_overrides={"MeterValueSampleInterval": "1"},
    )
    queued = record_queue(charger)
    await charger.booted(timeout=30)
    tx_id = await start_transaction(charger)
    await charger.received("MeterValues", timeout=30)
    mark = csms.frames.frames[-1].seq
    emulator.faults.hang()
    boot = await charger.received("BootNotification", after=mark, timeout=90)
    await charger.received("MeterValues", after=boot.seq, timeout=30)
    await charger.call("RemoteStopTransaction", {"transactionId": tx_id}, timeout=30)
    stop = await charger.received("StopTransaction", after=mark, timeout=30)
    assert stop.payload["transactionId"] == tx_id
    await queue_empty(charger)
    modem = charger.link._device
    assert modem is not None and modem.resets == 1
    await charger.shutdown()

    trace = at_log.read_text()
    assert "AT+CFUN=1,1" in trace
    assert trace.index("watchdog: the module does not answer") < trace.index("<< RDY")
    assert [f for f in server_failures if f[0] in MISUSE] == []
    received = [f for f in csms.frames.frames if f.direction == "received"]
    got = {(f.action, f.message[1]) for f in received if f.message_type == 2}
    assert [q for q in queued if q not in got] == []
    assert writes_inside_sends(trace)[1] == []
