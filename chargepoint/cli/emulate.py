"""``cpsim modem emulate``: serve an emulated modem until Ctrl+C or SIGTERM.

The pty path (or socket URL) is printed alone on the first stdout line so a
script can read one line and hand it to the charger; logs go to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

import click

from modem.emulator import DIALECTS, Emulator
from modem.emulator.chaos import Chaos, Injection
from modem.emulator.config import EmulatorConfig
from modem.emulator.ec200u import PROFILES

from .common import CouldNotStart

PROMPTS = {"default": None, "space": b"\r\n> "}
WIFI_FAILURES = {"timeout": 1, "refused": 4}  # +CWJAP:<code>


def _print_injection(injection: Injection) -> None:
    click.echo(str(injection))
    sys.stdout.flush()


async def _serve(
    emulator: Emulator, chaos_seed: int | None = None, chaos_interval: float = 5.0
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl+C still works
            loop.add_signal_handler(sig, stop.set)
    await emulator.start()
    try:
        click.echo(emulator.port_url)
        sys.stdout.flush()
        if emulator.control_url:
            click.echo(f"control port: {emulator.control_url}", err=True)
        chaos = None
        if chaos_seed is not None:
            chaos = Chaos(
                emulator.faults,
                emulator.config.dialect,
                chaos_seed,
                chaos_interval,
                report=_print_injection,
            ).start()
        try:
            await stop.wait()
        finally:
            if chaos is not None:
                await chaos.stop()
    finally:
        await emulator.aclose()


DIALECT_OPTIONS = {
    "ec200u": ("profile", "good_apns", "prompt_style"),
    "esp-at": (
        "wifi_ssid",
        "wifi_password",
        "wifi_failure",
        "no_ws",
        "ws_auto_reconnect",
        "ws_piece_seed",
    ),
}
"""Options that only one dialect has a use for (the EC200U's field profiles and APNs,
the ESP-AT's Wi-Fi and WebSocket commands)."""


def _refuse_other_dialect(ctx: click.Context, dialect: str) -> None:
    """A usage error for an option given explicitly that this dialect would ignore."""
    for owner, names in DIALECT_OPTIONS.items():
        if owner == dialect:
            continue
        for name in names:
            if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE:
                option = next(p for p in ctx.command.params if p.name == name)
                raise click.UsageError(
                    f"{option.opts[0]} is for --dialect {owner}, not {dialect}", ctx
                )


@click.command("emulate")
@click.option("--dialect", type=click.Choice(sorted(DIALECTS)), default="ec200u", show_default=True)
@click.option(
    "--baud",
    type=click.IntRange(min=0),
    default=115200,
    show_default=True,
    help="Pace the link like a UART at this rate (0: unpaced).",
)
@click.option(
    "--latency-ms",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Extra delay before every response.",
)
@click.option(
    "--listen",
    metavar="socket://HOST:PORT",
    default=None,
    help="Serve pyserial socket:// instead of creating a pty.",
)
@click.option(
    "--control",
    metavar="socket://HOST:PORT",
    default=None,
    help="Line-based fault-injection port (send 'help').",
)
@click.option(
    "--profile",
    type=click.Choice(list(PROFILES)),
    default="ok",
    show_default=True,
    help="Field situation the modem reports.",
)
@click.option(
    "--good-apn",
    "good_apns",
    multiple=True,
    metavar="APN",
    help="APN the network accepts (bad-apn profile); repeatable.",
)
@click.option(
    "--prompt-style",
    type=click.Choice(list(PROMPTS)),
    default="default",
    show_default=True,
    help=r"QISEND prompt: default '\r\n>' (EC200U), space '\r\n> '.",
)
@click.option(
    "--wifi-ssid",
    default=None,
    help="ESP-AT: the access point in range (default: any SSID joins).",
)
@click.option(
    "--wifi-password",
    default=None,
    help="ESP-AT: its password (default: any password is accepted).",
)
@click.option(
    "--wifi-failure",
    type=click.Choice(list(WIFI_FAILURES)),
    default=None,
    help="ESP-AT: every join fails: timeout (+CWJAP:1 after 15 s) or refused (+CWJAP:4).",
)
@click.option(
    "--no-ws",
    is_flag=True,
    help="ESP-AT: firmware built without WebSocket commands (AT+WSCFG answers ERROR).",
)
@click.option(
    "--ws-auto-reconnect",
    is_flag=True,
    help="ESP-AT: reconnect a dropped link by itself (+WS_CONNECTED again).",
)
@click.option(
    "--ws-short-pieces",
    "ws_piece_seed",
    type=int,
    default=None,
    metavar="SEED",
    help="ESP-AT: cut +WS_DATA into random 1..buffer_size pieces (seeded), as a slow link does.",
)
@click.option(
    "--chaos",
    "chaos_seed",
    type=int,
    default=None,
    metavar="SEED",
    help="Inject a reproducible random sequence of faults (seeded); one stdout line each.",
)
@click.option(
    "--chaos-interval",
    type=click.FloatRange(min=0, min_open=True),
    default=5.0,
    show_default=True,
    metavar="S",
    help="Mean seconds between chaos faults (each wait is 0.5..1.5 times this).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
    help="debug logs every byte on the wire.",
)
def emulate(
    dialect: str,
    baud: int,
    latency_ms: int,
    listen: str | None,
    control: str | None,
    profile: str,
    good_apns: tuple[str, ...],
    prompt_style: str,
    wifi_ssid: str | None,
    wifi_password: str | None,
    wifi_failure: str | None,
    no_ws: bool,
    ws_auto_reconnect: bool,
    ws_piece_seed: int | None,
    chaos_seed: int | None,
    chaos_interval: float,
    log_level: str,
) -> None:
    """Emulate an AT-command modem on a pty (or socket://) with real TCP behind it.

    Runs until Ctrl+C or SIGTERM (exit 0); exit 2 for an option of the other dialect
    or a port it cannot serve.
    """
    _refuse_other_dialect(click.get_current_context(), dialect)
    logging.basicConfig(
        level=log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config = EmulatorConfig(
        dialect=dialect,
        baud=baud or None,
        latency_ms=latency_ms,
        profile=profile,
        good_apns=good_apns,
        prompt=PROMPTS[prompt_style],
        wifi_ssid=wifi_ssid,
        wifi_password=wifi_password,
        wifi_failure=None if wifi_failure is None else WIFI_FAILURES[wifi_failure],
        ws_commands=not no_ws,
        ws_auto_reconnect=ws_auto_reconnect,
        ws_piece_seed=ws_piece_seed,
    )
    try:
        asyncio.run(
            _serve(Emulator(config, listen=listen, control=control), chaos_seed, chaos_interval)
        )
    except KeyboardInterrupt:
        pass  # no signal handlers on this platform: Ctrl+C is a normal stop
    except (ValueError, OSError) as exc:
        raise CouldNotStart(str(exc)) from exc
