"""``cpsim demo``: a local CSMS and one charger playing a short, readable session."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

import click

from chargepoint import logs
from chargepoint.csms.framelog import Frame
from chargepoint.csms.server import LocalCsms
from chargepoint.station.runner import run_station
from chargepoint.station.station import Identity, Station, StationOptions
from chargepoint.transport.direct import DirectLink
from chargepoint.transport.handshake import Endpoint

CP_ID = "CP001"


def print_frame(frame: Frame) -> None:
    arrow = "CP001 -> CSMS" if frame.direction == "received" else "CSMS -> CP001"
    msg = frame.message
    kind = {2: "CALL", 3: "RESULT", 4: "ERROR"}.get(frame.message_type or 0, "?")
    label = frame.action or ""
    body = json.dumps(frame.payload if frame.payload is not None else msg[2:] if isinstance(
        msg, list) else msg, separators=(",", ":"))
    if len(body) > 110:
        body = body[:107] + "..."
    click.echo(f"{frame.time[11:23]}  {arrow}  {kind:<6} {label:<20} {body}")


async def play(csms: LocalCsms, step: float) -> None:
    frames = csms.frames

    def say(text: str) -> None:
        click.secho(f"--- {text}", fg="cyan")

    say("boot")
    await frames.wait_for(lambda f: f.action == "StatusNotification"
                          and f.payload.get("connectorId") == 1, 15)
    await asyncio.sleep(step)
    say("the CSMS asks for a StatusNotification (TriggerMessage)")
    await csms.call(CP_ID, "TriggerMessage", {"requestedMessage": "StatusNotification",
                                              "connectorId": 1})
    await asyncio.sleep(step)
    say("the CSMS starts a charging session remotely")
    await csms.call(CP_ID, "RemoteStartTransaction", {"connectorId": 1, "idTag": "DEMO-TAG"})
    started = await frames.wait_for(lambda f: f.direction == "sent" and f.message_type == 3
                                    and isinstance(f.payload, dict)
                                    and "transactionId" in f.payload, 15)
    transaction_id = started.payload["transactionId"]
    await frames.wait_for(lambda f: f.action == "MeterValues"
                          and f.payload.get("transactionId") == transaction_id, 15)
    seen = len(frames.calls(action="MeterValues"))
    await frames.wait_for(lambda f: len(frames.calls(action="MeterValues")) > seen, 15)
    say("the CSMS stops the session")
    await csms.call(CP_ID, "RemoteStopTransaction", {"transactionId": transaction_id})
    await frames.wait_for(lambda f: f.action == "StatusNotification"
                          and f.payload.get("status") == "Available"
                          and f.payload.get("connectorId") == 1
                          and f.seq > started.seq, 15)


@click.command()
@click.option("--step", default=0.5, show_default=True, help="Pause between acts, in seconds.")
@click.option("--log-level", default="WARNING", show_default=True)
def demo(step: float, log_level: str) -> None:
    """Local CSMS + one charger: boot, TriggerMessage, remote start, meter values, remote stop."""
    logs.setup(log_level, ocpp_messages=False)

    async def main() -> None:
        with tempfile.TemporaryDirectory(prefix="cpsim-demo-") as state:
            async with LocalCsms(port=0) as csms:
                csms.frames.listeners.append(print_frame)
                station = Station(Identity(CP_ID, serial="DEMO-0001"), StationOptions(
                    connectors=1, state_dir=Path(state), auto_unplug_s=1.0,
                    config_overrides={"MeterValueSampleInterval": "2"}))
                stop = asyncio.Event()
                link = DirectLink(Endpoint(csms.url, CP_ID), flavour="sansio")
                charger = asyncio.create_task(run_station(station, link, stop))
                try:
                    await asyncio.wait_for(play(csms, step), 60)
                finally:
                    stop.set()
                    await charger
        click.secho("demo finished: the charger booted, reported status, answered a "
                    "TriggerMessage and charged one session", fg="green")

    try:
        asyncio.run(main())
    except TimeoutError as exc:
        raise click.ClickException("the demo session did not complete in time") from exc
