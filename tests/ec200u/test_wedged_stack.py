"""A data stack wedged by rapid reconnects: every AT+QIOPEN fails (552) and only a power
cycle helps (modem-at.md A.11 field caveat, item 15).  The link resets the modem with
AT+CFUN=1,1 after three failed opens in a row, and the charger comes back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from chargepoint.assembly import LinkSpec
from chargepoint.csms.server import LocalCsms
from chargepoint.transport.ec200u import WEDGED_AFTER, ModemSettings
from modem.emulator import Emulator, run_emulator
from modem.emulator.config import Timing


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with run_emulator("ec200u", baud=0, timing=Timing().scaled(0.05)) as emu:
        yield emu


async def test_a_wedged_data_stack_is_reset_and_the_charger_comes_back(
    csms: LocalCsms, start_charger: Any, emulator: Any, tmp_path: Path
) -> None:
    at_log = tmp_path / "at.log"
    modem = ModemSettings(emulator.port_url, apn="internet", at_log=at_log)
    charger = await start_charger(link_spec=LinkSpec("ec200u", csms.url, modem=modem))
    first = await charger.received("BootNotification", timeout=30)
    await charger.booted(timeout=30)
    emulator.faults.wedge_stack()
    emulator.faults.drop_tcp()
    again = await charger.received("BootNotification", after=first.seq, timeout=60)
    assert again.seq > first.seq
    trace = at_log.read_text()
    reset_at = trace.index("AT+CFUN=1,1")
    failed = trace[:reset_at].count(",552")
    assert failed >= WEDGED_AFTER, trace[-2000:]
    assert "+QIOPEN: 0,552" not in trace[reset_at:]  # the power cycle cleared it
