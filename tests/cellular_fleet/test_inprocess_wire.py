"""Chargers booting through emulated modems in process: no pty, paced at the baud rate."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from chargepoint.fleet.cellular import CellularKind
from chargepoint.fleet.linkprofiles import PROFILES
from chargepoint.virtualtime import run_virtual
from modem import serialport
from modem.emulator.config import EmulatorConfig
from modem.emulator.inprocess import InProcessModem, InProcessPortError
from modem.quectel.dialect import QUECTEL

from .harness import SmallFleet, with_fleet


@pytest.mark.parametrize("kind", ["ec200u", "esp-at"])
def test_chargers_boot_through_their_in_process_modems(tmp_path: Path, kind: CellularKind) -> None:
    async def body(fleet: SmallFleet) -> float:
        took = await fleet.until(
            lambda: (
                all(fleet.boots(cp) >= 1 for cp in fleet.ids())
                and all(s.online for s in fleet.stations)
            ),
            120,
        )
        # every charger's bytes went over its own in-memory wire
        for modem in fleet.cellular.modems.values():
            assert modem.url.startswith("inprocess://")
            assert modem.link.sent_to_host > 0 and modem.link.received_from_host > 0
        return took

    took = run_virtual(with_fleet(tmp_path, kind, 3, PROFILES["lte-good"], 1, body))
    assert took < 60  # virtual seconds: bring-up, QIOPEN/WSOPEN, the WebSocket and the boot


def test_the_wire_runs_at_the_baud_rate_and_no_faster() -> None:
    """9600 baud 8N1 carries 960 bytes a second each way; measured on the loop's clock."""

    async def main() -> tuple[float, float, int]:
        config = EmulatorConfig("ec200u", baud=9600, latency_ms=0)
        async with InProcessModem(config, "pace") as modem:
            driver = await serialport.open_driver(
                modem.url, QUECTEL, baudrate=9600, opener=modem.open_port, probe=True
            )
            try:
                loop = asyncio.get_running_loop()
                t0, sent0 = loop.time(), modem.link.sent_to_host
                received0 = modem.link.received_from_host
                # ATI and AT+GMR x 20: ~2 kB of answers and ~300 bytes of commands
                for _ in range(20):
                    await driver.command("ATI")
                elapsed = loop.time() - t0
                to_host = modem.link.sent_to_host - sent0
                return elapsed, to_host, modem.link.received_from_host - received0
            finally:
                await driver.aclose()

    elapsed, answered, asked = run_virtual(main())
    assert answered > 1000 and asked >= 80
    # One command at a time: the wire is busy one way, then the other, so the bytes
    # of both directions together fill it; never faster, and batching loses nothing.
    rate = (answered + asked) / elapsed
    assert 960 * 0.9 <= rate <= 960 * 1.01


def test_a_port_name_that_is_not_the_modem_is_refused() -> None:
    async def main() -> None:
        async with InProcessModem(EmulatorConfig("ec200u"), "one") as modem:
            with pytest.raises(InProcessPortError, match="inprocess://one"):
                await modem.open_port("inprocess://two")

    run_virtual(main())
