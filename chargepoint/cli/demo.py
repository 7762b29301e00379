"""``cpsim demo``: a local CSMS and one charger playing a short, readable session."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import click
from cryptography import x509
from cryptography.x509.oid import NameOID

from chargepoint import logs
from chargepoint.assembly import ChargerSpec, LinkSpec, assemble
from chargepoint.core.settings import Identity
from chargepoint.csms.framelog import Frame, format_frame
from chargepoint.csms.handlers import CsmsPolicy
from chargepoint.csms.server import Credentials, LocalCsms
from chargepoint.csms.signing_ca import load_signing_ca
from chargepoint.security.pki import DevelopmentPki, init_pki
from chargepoint.station.runner import run_station
from chargepoint.station.shell import StationOptions
from chargepoint.transport.ec200u import ModemSettings
from chargepoint.transport.tlssettings import TlsSettings, tls_settings
from modem.emulator import run_emulator

from .common import log_level_option

CP_ID = "CP001"
DEMO_CPO = "cpsim demo CPO"
"""CpoName: O in the charger's certificates (WP A02.FR.13)."""
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


def is_security_event(frame: Frame) -> bool:
    return frame.action == "SecurityEventNotification" and frame.direction == "received"


def print_frame_explained(frame: Frame) -> None:
    """The frame; under a security event, what it is.  With profiles 2 and 3 the demo's
    charger has the whitepaper's extension (SecurityExtension true), so it pushes its
    critical events: at boot StartupOfTheDevice (WP A04, §8; sent once Accepted)."""
    print_frame(frame)
    if is_security_event(frame) and isinstance(frame.payload, dict):
        click.secho(
            f"--- the charger pushed the security event {frame.payload.get('type')} "
            "(SecurityEventNotification, WP A04; cpsim run --security-extension)",
            fg="cyan",
        )


async def renew(csms: LocalCsms, pki: DevelopmentPki, profile: int, step: float) -> None:
    """The charger certificate's renewal with the local CSMS as signing CA (Security
    Whitepaper A02): root installed, ExtendedTriggerMessage, SignCertificate (a CSR),
    CertificateSigned; on profile 3 the charger reconnects presenting the new one."""
    frames = csms.frames

    def say(text: str) -> None:
        click.secho(f"--- {text}", fg="cyan")

    await asyncio.sleep(step)
    say("certificate renewal: the local CSMS is the signing CA (Security Whitepaper A02)")
    say("the CSMS installs its CA as the charger's CentralSystemRootCertificate (M05)")
    root = pki.ca.cert_path.read_text()
    install = {"certificateType": "CentralSystemRootCertificate", "certificate": root}
    await csms.call(CP_ID, "InstallCertificate", install)
    await asyncio.sleep(step)
    say("the CSMS asks for a new charger certificate (ExtendedTriggerMessage)")
    mark = frames.frames[-1].seq if frames.frames else 0
    trigger = {"requestedMessage": "SignChargePointCertificate"}
    await csms.call(CP_ID, "ExtendedTriggerMessage", trigger)
    request = await frames.wait_for(
        lambda f: f.action == "SignCertificate" and f.direction == "received" and f.seq > mark,
        15,
    )
    subject = x509.load_pem_x509_csr(str(request.payload["csr"]).encode()).subject
    names = [
        f"{label} = {a.value!s}"
        for label, oid in (("CN", NameOID.COMMON_NAME), ("O", NameOID.ORGANIZATION_NAME))
        for a in subject.get_attributes_for_oid(oid)
    ]
    say(f"the charger made a new key pair and a CSR for {', '.join(names)} (SignCertificate)")
    sent = await frames.wait_for(
        lambda f: f.action == "CertificateSigned" and f.direction == "sent" and f.seq > mark, 15
    )
    answer = await frames.wait_for(
        lambda f: f.message_type == 3 and f.message[1] == sent.message[1], 15
    )
    ca = csms.policy.signing_ca
    issued = ca.last_issued if ca is not None else None
    serial = format(issued.serial_number, "X") if issued is not None else "?"
    status = answer.payload.get("status") if isinstance(answer.payload, dict) else None
    say(f"the CSMS signed it (serial {serial}); the charger checked the chain: {status}")
    if status != "Accepted":
        raise click.ClickException(f"the charger answered CertificateSigned {status}")
    if profile != 3:
        say(
            "on profile 2 the certificate is not the charger's login: it presents it once "
            "the CSMS raises SecurityProfile to 3"
        )
        return
    old = format(pki.chargers[CP_ID].cert.serial_number, "X")
    await frames.wait_for(lambda f: csms.client_serials.get(CP_ID) == serial, 30)
    say(
        f"the charger reconnected over mutual TLS presenting the new certificate "
        f"(serial {serial}; before: {old})"
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
    "3 a development PKI is made in a temp dir, the local CSMS serves wss:// and the "
    "charger has the security extension (SecurityExtension: security events pushed).",
)
@log_level_option("WARNING")
def demo(link_kind: str, step: float, security_profile: int, log_level: str) -> None:
    """Local CSMS + one charger: boot, TriggerMessage, remote start, meter values, remote stop;
    with --security-profile 2 or 3, then the charger certificate's renewal (the local CSMS
    signs the charger's CSR).

    By default the charger reaches the CSMS through the bundled EC200U emulator:
    local CSMS <- TCP <- emulator <- pty <- AT driver <- WebSocket <- charger.
    """
    logs.setup(log_level, ocpp_messages=False)

    async def main() -> None:
        with tempfile.TemporaryDirectory(prefix="cpsim-demo-") as tmp:
            state = Path(tmp)
            csms_options, tls, pki = secured(security_profile, state / "pki")
            csms = LocalCsms(port=0, **csms_options)
            async with csms, demo_link(link_kind, csms, state / "cp", tls) as spec:
                csms.frames.listeners.append(print_frame_explained)
                charger_spec = ChargerSpec(
                    Identity(CP_ID, serial="DEMO-0001"),
                    StationOptions(
                        connectors=1,
                        state_dir=state / "cp",
                        auto_unplug_s=1.0,
                        config_overrides={
                            "MeterValueSampleInterval": "2",
                            "CpoName": DEMO_CPO,
                            # profiles 2 and 3 show the whole extension: security events too
                            "SecurityExtension": "true" if pki is not None else "false",
                        },
                    ),
                    password=DEMO_KEY if security_profile in (1, 2) else None,
                )
                station, link = assemble(charger_spec, spec)
                stop = asyncio.Event()
                charger = asyncio.create_task(run_station(station, link, stop))
                try:
                    async with asyncio.timeout(90):
                        await play(csms, step)
                        if pki is not None:
                            await csms.frames.wait_for(is_security_event, 15)
                            await renew(csms, pki, security_profile, step)
                finally:
                    stop.set()
                    await charger
            if (state / "cp" / "at.log").exists():
                click.secho(
                    "--- AT trace excerpt (the whole trace: cpsim run --at-log FILE)", fg="cyan"
                )
                for line in trace_excerpt(state / "cp" / "at.log"):
                    click.echo(line)
        renewed = " and renewed its certificate" if security_profile >= 2 else ""
        click.secho(
            "demo finished: the charger booted, reported status, answered a "
            f"TriggerMessage, charged one session{renewed}",
            fg="green",
        )

    try:
        asyncio.run(main())
    except TimeoutError as exc:
        raise click.ClickException("the demo session did not complete in time") from exc


def secured(
    profile: int, pki_dir: Path
) -> tuple[dict[str, Any], TlsSettings | None, DevelopmentPki | None]:
    """The local CSMS's options, the charger's TLS settings and the PKI for ``profile``:
    for 2 and 3 a development PKI (``cpsim pki init``) in ``pki_dir``, the CSMS on wss://
    with its certificate and its CA as signing CA (SignCertificate answered with a
    CertificateSigned), and for 3 a client certificate required (CN = the charge-point id)."""
    if profile == 0:
        return {}, None, None
    credentials = {"credentials": Credentials(shared=DEMO_KEY)} if profile < 3 else {}
    if profile == 1:
        return credentials, TlsSettings(1), None
    pki = init_pki(pki_dir, (CP_ID,), cpo_name=DEMO_CPO)
    click.secho(
        f"--- security profile {profile}: development CA, CSMS and {CP_ID} certificates "
        f"in {pki_dir}",
        fg="cyan",
    )
    signing_ca = load_signing_ca(pki.ca.cert_path, pki.ca.key_path, organization=DEMO_CPO)
    options: dict[str, Any] = {
        **credentials,
        "tls_cert": pki.csms.cert_path,
        "tls_key": pki.csms.key_path,
        "policy": CsmsPolicy(signing_ca=signing_ca),
    }
    cp = pki.chargers[CP_ID]
    if profile == 3:
        options["client_ca"] = pki.ca.cert_path
        return options, tls_settings(3, pki.ca.cert_path, cp.cert_path, cp.key_path), pki
    return options, tls_settings(2, pki.ca.cert_path), pki
