"""``cpsim demo``: a local CSMS and one charger playing a short, readable session."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import click

from chargepoint import logs
from chargepoint.assembly import ChargerSpec, LinkSpec, assemble
from chargepoint.core.settings import Identity
from chargepoint.csms.framelog import Frame, format_frame
from chargepoint.csms.server import Credentials, LocalCsms
from chargepoint.security.pki import init_pki
from chargepoint.station.runner import run_station
from chargepoint.station.shell import StationOptions
from chargepoint.transport.ec200u import ModemSettings
from chargepoint.transport.tlssettings import TlsSettings, tls_settings
from modem.emulator import run_emulator

from .common import log_level_option

CP_ID = "CP001"
DEMO_KEY = "0123456789abcdef0123456789abcdef"
"""The demo's AuthorizationKey (security profiles 1 and 2): a throw-away value."""


def print_frame(frame: Frame) -> None:
    click.echo(format_frame(frame))


async def play(csms: LocalCsms, step: float) -> None:
    frames = csms.frames

    def say(text: str) -> None:
        click.secho(f"--- {text}", fg="cyan")

    say("boot")
    await frames.wait_for(
        lambda f: f.action == "StatusNotification" and f.payload.get("connectorId") == 1, 15
    )
    await asyncio.sleep(step)
    say("the CSMS asks for a StatusNotification (TriggerMessage)")
    await csms.call(
        CP_ID, "TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1}
    )
    await asyncio.sleep(step)
    say("the CSMS starts a charging session remotely")
    await csms.call(CP_ID, "RemoteStartTransaction", {"connectorId": 1, "idTag": "DEMO-TAG"})
    started = await frames.wait_for(
        lambda f: (
            f.direction == "sent"
            and f.message_type == 3
            and isinstance(f.payload, dict)
            and "transactionId" in f.payload
        ),
        15,
    )
    transaction_id = started.payload["transactionId"]
    await frames.wait_for(
        lambda f: f.action == "MeterValues" and f.payload.get("transactionId") == transaction_id, 15
    )
    seen = len(frames.calls(action="MeterValues"))
    await frames.wait_for(lambda f: len(frames.calls(action="MeterValues")) > seen, 15)
    say("the CSMS stops the session")
    await csms.call(CP_ID, "RemoteStopTransaction", {"transactionId": transaction_id})
    await frames.wait_for(
        lambda f: (
            f.action == "StatusNotification"
            and f.payload.get("status") == "Available"
            and f.payload.get("connectorId") == 1
            and f.seq > started.seq
        ),
        15,
    )


def trace_excerpt(path: Path, lines: int = 24) -> list[str]:
    """From the socket's opening: QIOPEN, the upgrade over QISEND, the 101 read by QIRD."""
    text = path.read_text().splitlines()
    opens = ("AT+QIOPEN", "AT+QSSLOPEN")
    start = next((i for i, line in enumerate(text) if any(o in line for o in opens)), 0)
    return [
        line[11:] if len(line) < 150 else line[11:146] + "..."
        for line in text[start : start + lines]
    ]


@contextlib.asynccontextmanager
async def demo_link(
    kind: str, csms: LocalCsms, state: Path, tls: TlsSettings | None = None
) -> AsyncIterator[LinkSpec]:
    if kind == "direct":
        yield LinkSpec("direct", csms.url, flavour="sansio", tls=tls)
        return
    async with run_emulator("ec200u", baud=115200) as emu:
        click.secho(
            f"--- emulated EC200U on {emu.port_url} (115200 baud), "
            f"{'TLS (AT+QSSL*)' if tls is not None and tls.uses_tls else 'TCP'} "
            "through it to the local CSMS",
            fg="cyan",
        )
        yield LinkSpec(
            "ec200u",
            csms.url,
            modem=ModemSettings(emu.port_url, apn="internet", at_log=state / "at.log"),
            tls=tls,
        )


@click.command()
@click.option(
    "--link",
    "link_kind",
    type=click.Choice(["ec200u", "direct"]),
    default="ec200u",
    show_default=True,
    help="Through the emulated EC200U, or a direct WebSocket.",
)
@click.option("--step", default=0.5, show_default=True, help="Pause between acts, in seconds.")
@click.option(
    "--security-profile",
    type=click.IntRange(0, 3),
    default=0,
    show_default=True,
    help="1: Basic auth; 2: wss:// + Basic auth; 3: wss:// + client certificate. For 2 and "
    "3 a development PKI is made in a temp dir and the local CSMS serves wss://.",
)
@log_level_option("WARNING")
def demo(link_kind: str, step: float, security_profile: int, log_level: str) -> None:
    """Local CSMS + one charger: boot, TriggerMessage, remote start, meter values, remote stop.

    By default the charger reaches the CSMS through the bundled EC200U emulator:
    local CSMS <- TCP <- emulator <- pty <- AT driver <- WebSocket <- charger.
    """
    logs.setup(log_level, ocpp_messages=False)

    async def main() -> None:
        with tempfile.TemporaryDirectory(prefix="cpsim-demo-") as tmp:
            state = Path(tmp)
            csms_options, tls = secured(security_profile, state / "pki")
            csms = LocalCsms(port=0, **csms_options)
            async with csms, demo_link(link_kind, csms, state / "cp", tls) as spec:
                csms.frames.listeners.append(print_frame)
                charger_spec = ChargerSpec(
                    Identity(CP_ID, serial="DEMO-0001"),
                    StationOptions(
                        connectors=1,
                        state_dir=state / "cp",
                        auto_unplug_s=1.0,
                        config_overrides={"MeterValueSampleInterval": "2"},
                    ),
                    password=DEMO_KEY if security_profile in (1, 2) else None,
                )
                station, link = assemble(charger_spec, spec)
                stop = asyncio.Event()
                charger = asyncio.create_task(run_station(station, link, stop))
                try:
                    async with asyncio.timeout(90):
                        await play(csms, step)
                finally:
                    stop.set()
                    await charger
            if (state / "cp" / "at.log").exists():
                click.secho(
                    "--- AT trace excerpt (the whole trace: cpsim run --at-log FILE)", fg="cyan"
                )
                for line in trace_excerpt(state / "cp" / "at.log"):
                    click.echo(line)
        click.secho(
            "demo finished: the charger booted, reported status, answered a "
            "TriggerMessage and charged one session",
            fg="green",
        )

    try:
        asyncio.run(main())
    except TimeoutError as exc:
        raise click.ClickException("the demo session did not complete in time") from exc


def secured(profile: int, pki_dir: Path) -> tuple[dict[str, Any], TlsSettings | None]:
    """The local CSMS's options and the charger's TLS settings for ``profile``: for 2 and
    3 a development PKI (``cpsim pki init``) in ``pki_dir``, the CSMS on wss:// with its
    certificate, and for 3 a client certificate required (CN = the charge-point id)."""
    if profile == 0:
        return {}, None
    credentials = {"credentials": Credentials(shared=DEMO_KEY)} if profile < 3 else {}
    if profile == 1:
        return credentials, TlsSettings(1)
    pki = init_pki(pki_dir, (CP_ID,))
    click.secho(
        f"--- security profile {profile}: development CA, CSMS and {CP_ID} certificates "
        f"in {pki_dir}",
        fg="cyan",
    )
    options: dict[str, Any] = {
        **credentials,
        "tls_cert": pki.csms.cert_path,
        "tls_key": pki.csms.key_path,
    }
    cp = pki.chargers[CP_ID]
    if profile == 3:
        options["client_ca"] = pki.ca.cert_path
        return options, tls_settings(3, pki.ca.cert_path, cp.cert_path, cp.key_path)
    return options, tls_settings(2, pki.ca.cert_path)
