"""``cpsim run``: one simulated charger, over a direct WebSocket or a modem."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import click

from chargepoint import logs
from chargepoint.assembly import ChargerSpec, LinkSpec, assemble
from chargepoint.core.config import check_authorization_key, check_cpo_name
from chargepoint.core.profiles import FEATURE_PROFILES, UnknownFeatureProfile, parse_profiles
from chargepoint.core.settings import Identity
from chargepoint.station.driveport import DrivePort, loopback_problem
from chargepoint.station.runner import StopReport, run_station
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
from modem.at import ATPortError
from modem.diagnostics.port import identify

from .common import (
    CouldNotStart,
    ExitCode,
    bad_value,
    check_password,
    log_format_option,
    log_level_option,
    port_option,
    refuse,
    run_until_interrupted,
    writable_file,
)
from .interactive import prompt_until_quit
from .tlsoptions import resolve_tls, tls_options

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


def _profiles(value: str) -> frozenset[str]:
    try:
        return parse_profiles(value)
    except UnknownFeatureProfile as exc:
        raise click.BadParameter(str(exc), param_hint="--feature-profiles") from None


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
@tls_options
@click.option(
    "--cpo-name",
    metavar="NAME",
    callback=_checked(check_cpo_name, optional=True),
    help="Set CpoName, the O (organisation) of the charger's certificate requests "
    "(SignCertificate, WP A02.FR.13): a certificate renewal needs it. Kept in the state dir.",
)
@click.option(
    "--security-extension/--no-security-extension",
    default=None,
    help="The OCPP 1.6 Security Whitepaper's extension: security events pushed "
    "(SecurityEventNotification: StartupOfTheDevice, SettingSystemTime, ...) and the plain "
    "UpdateFirmware refused for SignedUpdateFirmware. Kept in the state dir as cpsim's "
    "read-only key SecurityExtension [default: off, or as kept: a CSMS without the "
    "extension answers its messages NotImplemented].",
)
@click.option("--connectors", default=1, show_default=True, type=click.IntRange(1, 32))
@click.option(
    "--feature-profiles",
    default=",".join(FEATURE_PROFILES),
    show_default=True,
    callback=lambda ctx, param, value: _profiles(value),
    help="The OCPP 1.6 feature profiles this charger has (Core always); one left out "
    "answers its calls NotSupported and has none of its keys.",
)
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
@click.option(
    "--port",
    callback=port_option,
    help="Modem port: a device (/dev/ttyUSB2) or socket://host:port.",
)
@click.option("--baud", default=115200, show_default=True, type=click.IntRange(300))
@click.option("--apn", help="EC200U: the APN of the SIM's data plan.")
@click.option("--apn-user", default="", help="EC200U: APN user (PAP).")
@click.option("--apn-password", default="", help="EC200U: APN password.")
@click.option(
    "--apn-auth",
    type=click.Choice(["none", "pap", "chap"], case_sensitive=False),
    help="EC200U: APN authentication [default: pap with --apn-user, else none].",
)
@click.option(
    "--tls-on-host",
    is_flag=True,
    help="EC200U: wss:// (and https:// transfers) with TLS on this host over the modem's "
    "plain TCP socket, for a module whose own TLS stack (AT+QSSL*) is too old.",
)
@click.option(
    "--ntp-server",
    metavar="HOST",
    help="EC200U / ESP-AT: where the module sets its clock before it verifies a CSMS "
    "certificate (AT+QNTP / AT+CIPSNTPCFG) [default: pool.ntp.org].",
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
    callback=writable_file,
    help="Write an AT trace (commands, responses, URCs; secrets masked).",
)
@click.option(
    "--log",
    "log_file",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=writable_file,
    help="The charger's log file: the OCPP exchange and its events, secrets masked, "
    "rotated at 5 MiB; GetDiagnostics uploads it [default: cpsim.log in the state dir].",
)
@click.option(
    "--control",
    metavar="socket://127.0.0.1:PORT",
    callback=lambda ctx, param, value: control_address(value),
    help="Drive the charger while it runs: JSON lines on this loopback port, the scenario "
    "steps' commands (plug_in, present_tag, stop_charging, set_ev, fault, send, status, ...).",
)
@click.option(
    "--interactive",
    is_flag=True,
    help="A prompt over the same commands as --control (Tab completes; quit stops); the "
    "OCPP exchange is logged on stderr as it happens.",
)
@log_level_option()
@log_format_option()
def run(
    charge_point_id: str,
    url: str,
    password: str | None,
    headers: tuple[str, ...],
    security_profile: int | None,
    ca_file: Path | None,
    cert: Path | None,
    key: Path | None,
    cpo_name: str | None,
    security_extension: bool | None,
    connectors: int,
    feature_profiles: frozenset[str],
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
    tls_on_host: bool,
    ntp_server: str | None,
    wifi_ssid: str | None,
    wifi_password: str,
    at_log: Path | None,
    control: tuple[str, int] | None,
    interactive: bool,
    log_level: str,
    log_format: str,
    log_file: Path | None = None,
) -> None:
    """Run one simulated charger until Ctrl+C or SIGTERM.

    On Ctrl+C a running transaction is stopped first (StopTransaction, reason Local),
    then the WebSocket is closed with 1000.  Exit 0 when stopped so; 2 for a usage
    error or when it cannot start (a state dir in use, a modem of the other dialect).
    """
    _refuse_misplaced(modem_kind, port, apn, apn_user, apn_password, apn_auth, wifi_ssid, at_log)
    if tls_on_host and modem_kind != "ec200u":
        raise click.UsageError("--tls-on-host: only with --modem ec200u")
    if ntp_server is not None and modem_kind == "none":
        raise click.UsageError("--ntp-server: only with --modem ec200u or --modem esp-at")
    _refuse_id_in_url(url, charge_point_id)
    tls = resolve_tls(url, security_profile, ca_file, cert, key)
    logs.setup(log_level, log_format=log_format, charge_point_id=charge_point_id)
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
        modem = ModemSettings(
            port,
            baud,
            apn,
            apn_user,
            apn_password,
            at_log,
            apn_auth,
            tls_on_host=tls_on_host,
        )
        if ntp_server is not None:
            modem = replace(modem, ntp_server=ntp_server)
    elif modem_kind == "esp-at":
        if not port or not wifi_ssid:
            raise click.UsageError("--modem esp-at needs --port and --wifi-ssid")
        modem = EspAtSettings(port, wifi_ssid, wifi_password, baud=baud, at_log=at_log)
        if ntp_server is not None:
            modem = replace(modem, ntp_server=ntp_server)
        endpoint = Endpoint(url, charge_point_id, password, parsed_headers, tls)
        _refuse_for_esp_at(endpoint, modem)
    charger = ChargerSpec(
        Identity(charge_point_id, vendor, model, serial),
        StationOptions(
            connectors=connectors,
            state_dir=state_dir or default_state_dir(charge_point_id),
            feature_profiles=feature_profiles,
        ),
        password=password,
        set_at_start=set_at_start(cpo_name, security_extension),
    )
    kind = "direct" if modem_kind == "none" else modem_kind
    link_spec = LinkSpec(kind, url, parsed_headers, ws_client, modem, tls)  # type: ignore[arg-type]
    try:
        station, link = assemble(charger, link_spec)
    except StoreError as exc:
        raise CouldNotStart(str(exc)) from None
    except ValueError as exc:  # a stored AuthorizationKey over ESP-AT's header limit
        raise click.UsageError(str(exc)) from None
    profile = station.security_profile()
    explicit = any(name.lower() == "authorization" for name, _ in parsed_headers)
    asked = profile == 2 or (profile == 1 and security_profile == 1)  # not ws:// by default
    if asked and station.authorization_key() is None and not explicit:
        # profiles 1 and 2 authenticate with HTTP Basic (WP §2.1): a CSMS will answer 401
        # until a key is set, which the log must say at once
        log.warning(
            "SecurityProfile %d uses HTTP Basic auth but no AuthorizationKey is set "
            "(give --password or $CPSIM_PASSWORD): connecting without it",
            profile,
        )
    # Real firmware keeps its log for GetDiagnostics (§5.9): so does this charger, by default
    # beside its store (the state dir exists now: the store was opened in it).
    assert station.options.state_dir is not None
    log_path = log_file or station.options.state_dir / "cpsim.log"
    try:
        logging.getLogger().addHandler(logs.file_handler(log_path, log_format))
    except OSError as exc:
        raise CouldNotStart(f"{log_path}: cannot write the log ({exc.strerror})") from None
    station.add_diagnostics_log(log_path)

    async def main(stop: asyncio.Event) -> StopReport | str:
        if modem is not None:
            mismatch = await wrong_dialect(modem_kind, modem.port, baud, at_log)
            if mismatch is not None:
                await station.shutdown()
                return mismatch
        async with contextlib.AsyncExitStack() as extras:
            if control is not None:
                try:
                    drive = await DrivePort(station, *control).start()
                except OSError as exc:
                    await station.shutdown()
                    return f"--control {control[0]}:{control[1]}: cannot listen ({exc.strerror})"
                extras.push_async_callback(drive.aclose)
                click.echo(f"control port: {drive.url}", err=True)
            if interactive:
                prompt = asyncio.create_task(prompt_until_quit(station, stop), name="prompt")
                extras.callback(prompt.cancel)
            return await run_station(station, link, stop, stop_reason="Local")

    outcome = run_until_interrupted(main)
    if isinstance(outcome, str):
        click.echo(f"cpsim run: {outcome}", err=True)
        sys.exit(ExitCode.USAGE)
    if outcome.unsent:
        click.echo(
            f"cpsim run: stopped; {outcome.unsent} transaction message(s) the CSMS has not "
            f"confirmed stay queued in {charger.options.state_dir} and are sent at the "
            "next start",
            err=True,
        )


def set_at_start(cpo_name: str | None, security_extension: bool | None) -> dict[str, str]:
    """The keys ``--cpo-name`` and ``--security-extension`` set (kept in the store); a key
    not given keeps what an earlier run or the CSMS set."""
    keys = {"CpoName": cpo_name} if cpo_name is not None else {}
    if security_extension is not None:
        keys["SecurityExtension"] = "true" if security_extension else "false"
    return keys


def control_address(value: str | None) -> tuple[str, int] | None:
    """``socket://HOST:PORT`` with a loopback HOST (the port has no authentication)."""
    if value is None:
        return None
    if not value.startswith("socket://"):
        raise click.BadParameter("expected socket://127.0.0.1:PORT")
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None or not parts.hostname:
        raise click.BadParameter("expected socket://127.0.0.1:PORT (PORT 0: any free port)")
    problem = loopback_problem(parts.hostname)
    if problem is not None:
        raise click.BadParameter(problem)
    return parts.hostname, port


def _refuse_misplaced(
    modem_kind: str,
    port: str | None,
    apn: str | None,
    apn_user: str,
    apn_password: str,
    apn_auth: str | None,
    wifi_ssid: str | None,
    at_log: Path | None,
) -> None:
    """Options that do nothing with this --modem: a usage error, not silence."""
    cellular = {"--apn": apn, "--apn-user": apn_user, "--apn-password": apn_password}
    cellular["--apn-auth"] = apn_auth
    modem_only = {"--port": port, **cellular, "--wifi-ssid": wifi_ssid, "--at-log": at_log}
    if modem_kind == "none":
        given = [name for name, value in modem_only.items() if value]
        if given:
            raise click.UsageError(
                f"{', '.join(given)}: only with --modem ec200u or --modem esp-at "
                "(without --modem the charger connects directly)"
            )
    elif modem_kind == "esp-at":
        given = [name for name, value in cellular.items() if value]
        if given:
            raise click.UsageError(f"{', '.join(given)}: APNs are cellular (--modem ec200u)")
    elif wifi_ssid:
        raise click.UsageError("--wifi-ssid is for --modem esp-at")


def _refuse_id_in_url(url: str, charge_point_id: str) -> None:
    """``--url ws://h/ocpp/CP1 --id CP1`` would connect to ``/ocpp/CP1/CP1``: refused (a
    CSMS whose path really repeats the id is rare; a copied full URL is common)."""
    last = unquote(urlsplit(url).path.rstrip("/").rpartition("/")[2])
    if last == charge_point_id:
        base = url.rstrip("/")[: -len(url.rstrip("/").rpartition("/")[2]) - 1]
        bad_value(
            f"it already ends with the charge-point id {charge_point_id!r}, which cpsim "
            f"appends (it would connect to .../{last}/{last}): give the base URL {base}",
            "--url",
        )


async def wrong_dialect(
    modem_kind: str, port: str, baud: int, at_log: Path | None = None
) -> str | None:
    """Ask the module on ``port`` what it is (ATI / AT+GMR, as ``modem check`` does);
    a sentence when it is a modem of the other dialect.  A port that does not answer
    yet is left to the link, which retries (a modem may still be booting)."""
    try:
        found = await identify(port, baud, at_log=at_log)
    except ATPortError as exc:
        log.warning("%s; the charger keeps trying", exc)
        return None
    wanted = "quectel" if modem_kind == "ec200u" else "esp-at"
    if found.family == wanted:
        return None
    if found.family == "unknown":
        log.warning("%s answers AT but not as a known %s: trying anyway", port, modem_kind)
        return None
    other = "ec200u" if found.family == "quectel" else "esp-at"
    return (
        f"{port} is {'an' if other == 'esp-at' else 'a'} {found.description}, not "
        f"{modem_kind}: run again with --modem {other}"
    )


def _refuse_for_ec200u(url: str, apn: str, apn_user: str, apn_password: str) -> None:
    """Usage errors for what the EC200U link cannot send: AT+QICSGP's fields (wss:// is
    the module's own TLS, AT+QSSL*)."""
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
