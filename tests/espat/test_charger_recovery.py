"""The charger through an ESP-AT module slower than the driver's timeout, or silent.

Issue 11's bug as a user met it: an AT+WSSEND answered after its timeout left
the charger offline for good ("link 0 is already open" at every reconnect)
while the module kept the CSMS's WebSocket up, and Ctrl+C took more than 15 s.
Real local CSMS, real emulator, the charger as ``cpsim run`` builds it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chargepoint.csms.server import LocalCsms
from chargepoint.transport.espat import EspAtLink
from modem.emulator import Emulator

from .helpers import esp, esp_emulator, eventually
from .test_charger import esp_link

# Driver timeouts short enough for a test; the emulator's late answers come after them.
TIMEOUTS = {"AT+WSSEND=": 2.0, "silent payload phase": 3.0}
LATE = 4.0
TX_ACTIONS = ("StartTransaction", "MeterValues", "StopTransaction")
STOP_BOUND = 30.0  # generous: the run must end, not race a stopwatch


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with esp_emulator(baud=115200) as emu:
        yield emu


def written_calls(at_log: Path) -> list[tuple[str, str]]:
    """(unique id, action) of every transaction CALL the charger wrote after a prompt."""
    actions = "|".join(TX_ACTIONS)
    pattern = rf'>> \[\d+ bytes\] \[2,"([^"]+)","({actions})"'
    return re.findall(pattern, at_log.read_text())


@pytest.mark.parametrize("phase", ["result", "prompt"])
async def test_a_wssend_answered_after_the_timeout_recovers_and_loses_nothing(
    csms: LocalCsms,
    emulator: Emulator,
    start_charger,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    phase: str,
) -> None:
    at_log = tmp_path / "at.log"
    charger = await start_charger(
        link_spec=esp_link(csms, emulator, at_log=at_log, timeouts=TIMEOUTS),
        config_overrides={"MeterValueSampleInterval": "1"},
    )
    await charger.booted(timeout=30)
    answer = await charger.call("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1})
    assert answer == {"status": "Accepted"}
    start = await charger.received("StartTransaction", timeout=15)
    tx_id = (await charger.answer_to(start)).payload["transactionId"]
    await charger.received("MeterValues", timeout=15, after=start.seq)

    # The next AT+WSSEND is answered after the driver's timeout, its frame dropped
    # (ERROR): the message must be sent again on the next connection, once.
    esp(emulator).wssend_late(LATE, phase=phase)
    mark = csms.frames.frames[-1].seq
    boot = await charger.received("BootNotification", after=mark, timeout=60)
    for _ in range(2):  # transaction messages flow on the new connection
        await charger.received(
            "MeterValues", after=boot.seq, timeout=30, where=lambda p: p["transactionId"] == tx_id
        )
    answer = await charger.call("RemoteStopTransaction", {"transactionId": tx_id}, timeout=30)
    assert answer == {"status": "Accepted"}
    stop = await charger.received("StopTransaction", after=boot.seq, timeout=30)
    assert stop.payload["transactionId"] == tx_id

    async with asyncio.timeout(STOP_BOUND):  # a stop ends the run
        charger.stop.set()
        await charger.task

    assert "already open" not in caplog.text
    received = [
        (f.message[1], f.action)
        for f in csms.frames.frames
        if f.direction == "received" and f.charge_point == charger.id and f.action in TX_ACTIONS
    ]
    # Exactly once at the CSMS: no message twice (not even as a resend), none missing.
    assert len(received) == len(set(received))
    written = written_calls(at_log)
    assert set(received) == set(written)
    assert len(written) > len(set(written))  # the timed-out one was written again
    log = at_log.read_text()
    # The link was closed in the module before it was opened again.
    stalled = log.index("timeout after 2 s waiting for")
    assert log.index(">> AT+WSCLOSE=0", stalled) < log.index(">> AT+WSOPEN=0", stalled)


async def test_a_module_that_stops_answering_is_reset_and_the_charger_reconnects(
    csms: LocalCsms, emulator: Emulator, start_charger, tmp_path: Path
) -> None:
    at_log = tmp_path / "at.log"
    charger = await start_charger(
        link_spec=esp_link(csms, emulator, at_log=at_log, timeouts=TIMEOUTS)
    )
    await charger.booted(timeout=30)
    link = charger.link
    assert isinstance(link, EspAtLink)
    emulator.faults.hang()  # AT+RST still resets it
    mark = csms.frames.frames[-1].seq
    # Something to send: its answer's WSSEND goes unanswered, the watchdog resets the module.
    with pytest.raises(TimeoutError):
        await charger.call("TriggerMessage", {"requestedMessage": "Heartbeat"}, timeout=3)
    boot = await charger.received("BootNotification", after=mark, timeout=60)
    await charger.received(
        "StatusNotification", after=boot.seq, timeout=30, where=lambda p: p["connectorId"] == 1
    )
    assert link._device is not None and link._device.resets == 1
    log = at_log.read_text()
    assert log.index(">> AT+RST") < log.index("<< ready") < log.rindex(">> ATE0")


@pytest.mark.parametrize("when", ["in session", "reconnecting"])
async def test_a_stop_ends_the_run_while_the_module_is_unresponsive(
    csms: LocalCsms, emulator: Emulator, start_charger, tmp_path: Path, when: str
) -> None:
    at_log = tmp_path / "at.log"
    charger = await start_charger(
        link_spec=esp_link(csms, emulator, at_log=at_log, timeouts=TIMEOUTS)
    )
    await charger.booted(timeout=30)
    esp(emulator).hang(rst=False)  # nothing but a power cycle helps
    if when == "reconnecting":
        with pytest.raises(TimeoutError):  # the answer's WSSEND goes unanswered
            await charger.call("TriggerMessage", {"requestedMessage": "Heartbeat"}, timeout=3)
        await eventually(lambda: "timeout after 2 s" in at_log.read_text(), "the send timed out")
    # in session: the close frame goes unanswered
    async with asyncio.timeout(STOP_BOUND):
        charger.stop.set()
        await charger.task
