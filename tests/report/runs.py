"""Real runs to report on: a charger over the emulated EC200U against the local CSMS
(timeline, frame log, AT trace in one state dir), and a bundled scenario."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner

from chargepoint.assembly import ChargerSpec, LinkSpec, assemble
from chargepoint.cli.demo import play
from chargepoint.core.settings import Identity
from chargepoint.csms.server import LocalCsms
from chargepoint.station.runner import run_station
from chargepoint.station.shell import StationOptions
from chargepoint.transport.ec200u import ModemSettings
from modem.emulator import run_emulator

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "scenarios" / "smart_charging_cuts_power.yaml"


def modem_run(state: Path) -> Path:
    """``cpsim demo``'s session (boot, TriggerMessage, remote start, meter values, remote
    stop) over the EC200U emulator, its logs kept in ``state``: ``timeline.jsonl``,
    ``csms.frames.jsonl`` (cpsim csms --log) and ``at.log`` (--at-log)."""
    state.mkdir(parents=True, exist_ok=True)
    asyncio.run(_modem_session(state))
    return state


async def _modem_session(state: Path) -> None:
    async with (
        LocalCsms(port=0, log_path=state / "csms.frames.jsonl") as csms,
        run_emulator("ec200u", baud=115200) as emu,
    ):
        spec = LinkSpec(
            "ec200u",
            csms.url,
            modem=ModemSettings(emu.port_url, apn="internet", at_log=state / "at.log"),
        )
        charger = ChargerSpec(
            Identity("CP001", serial="REPORT-0001"),
            StationOptions(
                connectors=1,
                state_dir=state,
                auto_unplug_s=1.0,
                config_overrides={"MeterValueSampleInterval": "1"},
            ),
        )
        station, link = assemble(charger, spec)
        stop = asyncio.Event()
        task = asyncio.create_task(run_station(station, link, stop))
        try:
            async with asyncio.timeout(90):
                await play(csms, 0.1)
        finally:
            stop.set()
            await task


def scenario_report(directory: Path) -> Path:
    """``cpsim scenario run smart_charging_cuts_power.yaml --report DIR`` (virtual time)."""
    from chargepoint.cli import main

    result = CliRunner().invoke(
        main, ["scenario", "run", str(SCENARIO), "--report", str(directory)]
    )
    assert result.exit_code == 0, (result.output, result.exception)
    return directory
