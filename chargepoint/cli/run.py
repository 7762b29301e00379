"""``cpsim run``: one simulated charger, over a direct WebSocket or a modem."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from chargepoint import logs
from chargepoint.assembly import ChargerSpec, LinkSpec, assemble
from chargepoint.core.config import check_authorization_key
from chargepoint.core.settings import Identity
from chargepoint.station.runner import run_station
from chargepoint.station.shell import StationOptions
from chargepoint.store import StoreError
from chargepoint.transport import atsafe
from chargepoint.transport.ec200u import ModemSettings
from chargepoint.transport.espat import EspAtSettings
from chargepoint.transport.handshake import (
    Endpoint,
    basic_auth,
    check_base_url,
    check_charge_point_id,
    parse_header,
)

from .common import (
    bad_value,
    check_password,
    log_level_option,
    refuse,
    run_until_interrupted,
)

log = logging.getLogger("cpsim.run")


def default_state_dir(charge_point_id: str) -> Path:
    base = Path(os.environ.get("XDG_STATE_HOME", "~/.local/state")).expanduser()
    return base / "cpsim" / charge_point_id


def parse_headers(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    try:
        return tuple(parse_header(value) for value in values)
    except ValueError as exc:
        bad_value(str(exc), "--header")


def _checked(
    check: Callable[[str], str], optional: bool = False
) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback: ``check``'s ValueError becomes a usage error naming the option."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if optional and value is None:
            return None
        try:
            return check(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None

    return callback


@click.command()
@click.option(
    "--id",
    "charge_point_id",
    required=True,
    callback=_checked(check_charge_point_id),
    help="Charge-point id (end of the URL): 1-48 printable ASCII characters, "
    "no spaces, none of / ? # % :, not . or ..; percent-encoded in the URL where needed.",
)
@click.option(
    "--url",
    required=True,
    callback=_checked(check_base_url),
    help="CSMS base URL, e.g. ws://HOST:PORT/ocpp.",
)
@click.option(
    "--password",
    envvar="CPSIM_PASSWORD",
    callback=_checked(check_password, optional=True),
    help="Set AuthorizationKey, the HTTP Basic auth password (or $CPSIM_PASSWORD), as the "
    "CSMS expects it (the whitepaper's form is 32-40 hex digits; others are used with a "
    "warning). Kept in the state dir, so later runs need not repeat it.",
)
@click.option(
    "--header",
    "headers",
    multiple=True,
    metavar="'Name: value'",
    help="Extra upgrade-request header; repeatable.",
)
@click.option("--connectors", default=1, show_default=True, type=click.IntRange(1, 32))
@click.option("--vendor", default="cpsim", show_default=True)
@click.option("--model", default="cpsim-ac", show_default=True)
@click.option("--serial", default=None)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the charger keeps its state (configuration, open transactions, queued "
    "messages; cpsim state show) [default: ~/.local/state/cpsim/<id>].",
)
@click.option(
    "--ws-client",
    type=click.Choice(["websockets", "sansio"]),
    default="websockets",
    show_default=True,
    help="Direct link: websockets' client or the Sans-I/O adapter.",
)
@click.option(
    "--modem",
    "modem_kind",
    type=click.Choice(["none", "ec200u", "esp-at"]),
    default="none",
    show_default=True,
    help="Reach the CSMS through this modem instead of directly.",
)
@click.option("--port", help="Modem port: a device (/dev/ttyUSB2) or socket://host:port.")
@click.option("--baud", default=115200, show_default=True, type=click.IntRange(300))
@click.option("--apn", help="EC200U: the APN of the SIM's data plan.")
@click.option("--apn-user", default="", help="EC200U: APN user (PAP).")
@click.option("--apn-password", default="", help="EC200U: APN password.")
@click.option(
    "--apn-auth",
    type=click.Choice(["none", "pap", "chap"], case_sensitive=False),
    help="EC200U: APN authentication [default: pap with --apn-user, else none].",
)
@click.option("--wifi-ssid", help="ESP-AT: the Wi-Fi network to join.")
@click.option(
    "--wifi-password",
    default="",
    envvar="CPSIM_WIFI_PASSWORD",
    help="ESP-AT: its password (or $CPSIM_WIFI_PASSWORD).",
)
@click.option(
    "--at-log",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write an AT trace (commands, responses, URCs; secrets masked).",
)
@log_level_option()
def run(
    charge_point_id: str,
    url: str,
    password: str | None,
    headers: tuple[str, ...],
    connectors: int,
    vendor: str,
    model: str,
    serial: str | None,
    state_dir: Path | None,
    ws_client: str,
    modem_kind: str,
    port: str | None,
    baud: int,
    apn: str | None,
    apn_user: str,
    apn_password: str,
    apn_auth: str | None,
    wifi_ssid: str | None,
    wifi_password: str,
    at_log: Path | None,
    log_level: str,
) -> None:
    """Run one simulated charger until Ctrl+C (closes the WebSocket with 1000, exits 0)."""
    logs.setup(log_level)
    if password is not None:
        try:
            check_authorization_key(password)
        except ValueError as exc:
            log.warning("--password used as given, but %s", exc)
    modem: ModemSettings | EspAtSettings | None = None
    parsed_headers = parse_headers(headers)
    if modem_kind == "ec200u":
        if not port or not apn:
            raise click.UsageError("--modem ec200u needs --port and --apn")
        _refuse_for_ec200u(url, apn, apn_user, apn_password)
        modem = ModemSettings(port, baud, apn, apn_user, apn_password, at_log, apn_auth)
    elif modem_kind == "esp-at":
        if not port or not wifi_ssid:
            raise click.UsageError("--modem esp-at needs --port and --wifi-ssid")
        modem = EspAtSettings(port, wifi_ssid, wifi_password, baud=baud, at_log=at_log)
        endpoint = Endpoint(url, charge_point_id, password, parsed_headers)
        _refuse_for_esp_at(endpoint, modem)
    elif ws_client == "sansio" and url.startswith("wss://"):
        refuse(
            "wss:// needs TLS, and --ws-client sansio (the adapter the modems use) has no "
            "TLS yet: use ws://, or --ws-client websockets",
            "--url",
        )
    charger = ChargerSpec(
        Identity(charge_point_id, vendor, model, serial),
        StationOptions(
            connectors=connectors, state_dir=state_dir or default_state_dir(charge_point_id)
        ),
        password=password,
    )
    kind = "direct" if modem_kind == "none" else modem_kind
    link_spec = LinkSpec(kind, url, parsed_headers, ws_client, modem)  # type: ignore[arg-type]
    try:
        station, link = assemble(charger, link_spec)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    except ValueError as exc:  # a stored AuthorizationKey over ESP-AT's header limit
        raise click.UsageError(str(exc)) from None

    async def main(stop: asyncio.Event) -> None:
        await run_station(station, link, stop)

    run_until_interrupted(main)


def _refuse_for_ec200u(url: str, apn: str, apn_user: str, apn_password: str) -> None:
    """Usage errors for what the EC200U link cannot send: AT+QICSGP's fields, wss://."""
    if url.startswith("wss://"):
        refuse(
            "wss:// needs TLS, and the EC200U link does not carry TLS yet (the modem's "
            "AT+QSSL* stack is not used): use ws://, or --modem esp-at (its module does TLS)",
            "--url",
        )
    refuse(atsafe.apn_problem(apn), "--apn")
    refuse(atsafe.qicsgp_credential_problem(apn_user), "--apn-user")
    refuse(atsafe.qicsgp_credential_problem(apn_password), "--apn-password")


def _refuse_for_esp_at(endpoint: Endpoint, settings: EspAtSettings) -> None:
    """Usage errors for what the ESP-AT link cannot send: AT+CWJAP's, AT+WSOPEN's and
    AT+WSHEAD's limits (wss:// is fine: the module does the TLS)."""
    refuse(atsafe.ssid_problem(settings.wifi_ssid), "--wifi-ssid")
    refuse(atsafe.wifi_password_problem(settings.wifi_password), "--wifi-password")
    timeout_ms = min(180_000, max(0, round(settings.open_timeout * 1000)))  # as plan_open
    refuse(
        atsafe.esp_url_problem(endpoint.url, link_id=settings.link_id, timeout_ms=timeout_ms),
        "--url",
    )
    for name, value in endpoint.headers:
        refuse(atsafe.esp_header_problem(name, value), "--header")
    password = endpoint.current_password()
    explicit = any(name.lower() == "authorization" for name, _ in endpoint.headers)
    if password is not None and not explicit:
        problem = atsafe.esp_header_problem(
            "Authorization", basic_auth(endpoint.charge_point_id, password)
        )
        refuse(problem and f"too long with this charge-point id: {problem}", "--password")
