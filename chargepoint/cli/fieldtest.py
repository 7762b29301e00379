"""``cpsim modem check`` and ``cpsim modem apn-scan``: field tests for SIM cards and APNs.

For a technician with a modem on a laptop: one line per check on stderr as it
completes, then a table (or ``--json``) on stdout and a one-line verdict with
the likely fix.  Exit 0 when a charger with this SIM would work, 1 when not,
2 for a usage problem or a check cpsim cannot do yet.
"""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import re
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import click

from chargepoint.fieldtest.check import CheckOptions, PortOptions, ReachOptions, run_check
from chargepoint.fieldtest.outcome import (
    as_json,
    judge,
    progress_line,
    step_progress,
    table,
    verdict_line,
)
from chargepoint.fieldtest.scan import (
    ScanOptions,
    distinct,
    parse_apn_file,
    run_scan,
    scan_json,
    scan_table,
)
from chargepoint.fieldtest.target import CsmsTarget
from chargepoint.transport import atsafe
from chargepoint.transport.handshake import basic_auth, check_charge_point_id
from chargepoint.transport.tlssettings import TlsSettings
from modem.diagnostics import ApnSettings, Report, auth_code

from .common import (
    ExitCode,
    bad_value,
    check_password,
    interrupted,
    port_option,
    refuse,
    writable_file,
)
from .tlsoptions import resolve_tls

ESP_AT_NOT_YET = (
    "the ESP-AT Wi-Fi checks are not available in this installation: the ESP-AT driver "
    "(modem.espat) they build on is missing"
)


def _target(
    url: str | None,
    cp_id: str | None,
    password: str | None,
    dialect: str,
    tls: TlsSettings | None = None,
) -> CsmsTarget | None:
    """The CSMS to test, or None; a usage error naming the option for anything the link
    cannot send (checked before any port is opened)."""
    if url is None:
        if cp_id is not None:
            raise click.BadParameter("--id needs --csms-url", param_hint="--id")
        return None
    if password:
        try:
            check_password(password)
        except ValueError as exc:
            bad_value(str(exc), "--password")
    if cp_id is not None:
        try:
            check_charge_point_id(cp_id)
        except ValueError as exc:
            bad_value(str(exc), "--id")
    try:
        target = CsmsTarget.parse(url, cp_id, password or None, tls)
        if cp_id is None:  # the URL's last segment, as the CSMS decodes it
            try:
                decoded = unquote(target.charge_point_id, errors="strict")
            except UnicodeDecodeError:
                raise ValueError(
                    "the charge-point id at the end of the URL is not UTF-8 once decoded"
                ) from None
            check_charge_point_id(decoded)
            target = CsmsTarget.parse(target.endpoint.base_url, decoded, password or None, tls)
    except ValueError as exc:
        bad_value(str(exc), "--csms-url")
    if dialect == "esp-at":
        _refuse_for_esp_at(target)
    # wss://: with --ca-file the TLS row proves the module's handshake and the chain
    # (EC200U and ESP-AT); without, it says plainly that it was not run (exit 1,
    # "not proven").
    return target


def _check_tls(
    url: str | None, ca_file: Path | None, cert: Path | None, key: Path | None
) -> TlsSettings | None:
    """The TLS row's files (profile 3 with --cert/--key, else 2); a usage error naming
    the option, the file and the problem (missing, unreadable, not PEM, expired, a key
    that is not the certificate's) before any port is opened."""
    if ca_file is None and cert is None and key is None:
        return None
    given = "--ca-file" if ca_file is not None else "--cert" if cert is not None else "--key"
    if url is None or not url.startswith("wss://"):
        raise click.BadParameter("is for a wss:// --csms-url", param_hint=given)
    if ca_file is None:
        # The module has no CA store of its own: --cert alone would prove nothing.
        raise click.BadParameter(
            "--cert/--key need --ca-file (the CA that signed the CSMS certificate)",
            param_hint=given,
        )
    return resolve_tls(url, None, ca_file, cert, key)


_HOST_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,62}[A-Za-z0-9])?")


def _ntp_server(value: str) -> str:
    """A host name or IPv4 address the modems' AT commands can quote as it is."""
    if not _HOST_NAME.fullmatch(value):
        bad_value(
            "an NTP server is a host name or IPv4 address: letters, digits, '.' and '-', "
            "at most 64 characters",
            "--ntp-server",
        )
    return value


def _refuse_for_esp_at(target: CsmsTarget) -> None:
    """AT+WSOPEN's 256-byte line and AT+WSHEAD's header limit (fieldtest: link 0, 20 s)."""
    refuse(atsafe.esp_url_problem(target.url), "--csms-url")
    password = target.endpoint.current_password()
    if password is not None:
        problem = atsafe.esp_header_problem(
            "Authorization", basic_auth(target.charge_point_id, password)
        )
        refuse(problem and f"too long with this charge-point id: {problem}", "--password")


def _apn_names(apns: tuple[str, ...]) -> None:
    """A usage error for ``--apn "m2m.op,x"`` and the like, before any modem is opened."""
    for apn in apns:
        refuse(atsafe.apn_problem(apn), "--apn")


def _apn_credentials(user: str, password: str) -> None:
    """AT+QICSGP's user and password: no quote, no control character, <= 127 bytes."""
    refuse(atsafe.qicsgp_credential_problem(user), "--apn-user")
    refuse(atsafe.qicsgp_credential_problem(password), "--apn-password")


def _apn_file(path: Path) -> list[ApnSettings]:
    """The file's APNs, each checked as ``--apn``, ``--apn-user`` and ``--apn-password``
    are; a usage error naming ``--apn-file`` and the line (never a password)."""
    try:
        tries = parse_apn_file(path)
        lines = _apn_file_lines(path)
    except UnicodeDecodeError as exc:
        bad_value(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})", "--apn-file")
    except (ValueError, csv.Error, OSError) as exc:
        bad_value(str(exc), "--apn-file")
    for number, entry in zip(lines, tries, strict=True):
        for what, problem in (
            ("", atsafe.apn_problem(entry.apn)),
            ("the APN user ", atsafe.qicsgp_credential_problem(entry.user)),
            ("the APN password ", atsafe.qicsgp_credential_problem(entry.password)),
        ):
            refuse(problem and f"{path}:{number}: {what}{problem}", "--apn-file")
    return tries


def _apn_file_lines(path: Path) -> list[int]:
    """The line each entry :func:`parse_apn_file` returns starts on (same skipping rule)."""
    lines: list[int] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        start = 1
        for row in reader:
            cells = [c.strip() for c in row]
            if cells and cells[0] and not cells[0].startswith("#"):
                lines.append(start)
            start = reader.line_num + 1
    return lines


def _setup_logging(level: str) -> None:
    # Library warnings ("AT+CIMI -> SIM PIN required; reported as unknown") would
    # interleave with the progress lines; the rows already say it.
    logging.basicConfig(
        level=level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )


def _run(main: Callable[[], Coroutine[Any, Any, int]]) -> None:
    try:
        code = asyncio.run(main())
    except KeyboardInterrupt:
        interrupted()
    sys.exit(code)


def _progress(result: Any) -> None:
    click.echo(progress_line(result), err=True)


def _note(text: str) -> None:
    click.echo(f"  ... {text}", err=True)


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options both commands share, in the order ``--help`` shows them."""
    decorators = [
        click.option(
            "--port",
            required=True,
            callback=port_option,
            help="Modem AT port: /dev/ttyUSB2, COM5, socket://H:P.",
        ),
        click.option(
            "--dialect",
            type=click.Choice(["ec200u", "esp-at"]),
            default="ec200u",
            show_default=True,
        ),
        click.option("--baud", default=115200, show_default=True, type=click.IntRange(1)),
        click.option(
            "--csms-url", metavar="URL", help="ws://HOST:PORT/PATH[/ID]: test the CSMS too."
        ),
        click.option("--id", "cp_id", metavar="CP", help="Charge-point id (ends the URL)."),
        click.option(
            "--password",
            envvar="CPSIM_PASSWORD",
            help="AuthorizationKey for HTTP Basic auth (or $CPSIM_PASSWORD).",
        ),
        click.option(
            "--apn-user", default="", help="APN user name (PAP unless --apn-auth says otherwise)."
        ),
        click.option(
            "--apn-password", default="", envvar="CPSIM_APN_PASSWORD", help="APN password."
        ),
        click.option(
            "--apn-auth", type=click.Choice(["none", "pap", "chap"], case_sensitive=False)
        ),
        click.option(
            "--wait",
            default=30.0,
            show_default=True,
            type=click.FloatRange(0),
            help="Seconds to wait for network registration while searching.",
        ),
        click.option("--json", "as_json_", is_flag=True, help="Print the report as JSON."),
        click.option(
            "--at-log",
            type=click.Path(dir_okay=False, path_type=Path),
            callback=writable_file,
            help="Append the AT trace (secrets masked) to this file.",
        ),
        click.option(
            "--log-level",
            type=click.Choice(["debug", "info", "warning", "error"]),
            default="error",
            show_default=True,
        ),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


def tls_file_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--ca-file, --cert, --key for a wss:// --csms-url (checked before any port opens)."""
    path = click.Path(dir_okay=False, path_type=Path)
    for decorator in reversed(
        [
            click.option(
                "--ca-file",
                type=path,
                help="wss://: the CA of the CSMS certificate; proves the module's TLS "
                "handshake and the certificate chain.",
            ),
            click.option("--cert", type=path, help="wss://: client certificate (profile 3)."),
            click.option("--key", type=path, help="wss://: its private key."),
        ]
    ):
        func = decorator(func)
    return func


@click.command("check")
@common_options
@click.option("--apn", metavar="APN", help="APN to activate [default: what the modem holds].")
@click.option("--ssid", help="ESP-AT: Wi-Fi network to join [default: the one it is on].")
@click.option(
    "--wifi-password", default="", envvar="CPSIM_WIFI_PASSWORD", help="ESP-AT: Wi-Fi password."
)
@click.option(
    "--ping-count",
    default=3,
    show_default=True,
    type=click.IntRange(0, 10),
    help="Echoes to the CSMS host (0: no ping).",
)
@click.option("--vendor", default="cpsim", show_default=True, help="BootNotification vendor.")
@click.option(
    "--model", default="cpsim-fieldtest", show_default=True, help="BootNotification model."
)
@tls_file_options
@click.option(
    "--ntp-server",
    metavar="HOST",
    default="pool.ntp.org",
    show_default=True,
    callback=lambda _ctx, _param, value: _ntp_server(value),
    help="wss://: where the module sets its clock before it verifies the CSMS certificate "
    "(AT+QNTP / AT+CIPSNTPCFG).",
)
def check(
    port: str,
    dialect: str,
    baud: int,
    csms_url: str | None,
    cp_id: str | None,
    password: str | None,
    apn_user: str,
    apn_password: str,
    apn_auth: str | None,
    wait: float,
    as_json_: bool,
    at_log: Path | None,
    log_level: str,
    apn: str | None,
    ssid: str | None,
    wifi_password: str,
    ping_count: int,
    vendor: str,
    model: str,
    ca_file: Path | None,
    cert: Path | None,
    key: Path | None,
    ntp_server: str,
) -> None:
    """Will a charger with this SIM reach its CSMS?  If not, why.

    Checks the module, SIM, radio, registration, the data session on the APN and,
    with --csms-url, DNS, ping, TCP, the WebSocket upgrade and a BootNotification.
    With --dialect esp-at: the module, the Wi-Fi network, its signal, the IP
    address, then DNS, ping, the WebSocket and a BootNotification.
    A wss:// CSMS adds a TLS row: with --ca-file (and --cert/--key for profile 3)
    the module's own TLS handshake and the certificate chain are proven, and a
    failure is named (untrusted CA, host name, expired, clock not set, client
    certificate); without --ca-file it says "not proven".
    Exit 0: it would work; 1: it would not; 2: usage error or not available.
    """
    tls = _check_tls(csms_url, ca_file, cert, key)
    target = _target(csms_url, cp_id, password, dialect, tls)
    port_options = PortOptions(port, baud, at_log)
    reach = ReachOptions(ping_count=ping_count, vendor=vendor, model=model, ntp_server=ntp_server)
    context: dict[str, Any] = {"command": "check", "port": port, "dialect": dialect}
    run: Callable[[Report], Coroutine[Any, Any, None]]
    if dialect == "esp-at":
        if apn or apn_user or apn_password:
            raise click.BadParameter("APNs are cellular; ESP-AT uses --ssid", param_hint="--apn")
        if ssid is not None:
            refuse(atsafe.ssid_problem(ssid), "--ssid")
        refuse(atsafe.wifi_password_problem(wifi_password), "--wifi-password")
        run = _wifi_runner(port_options, ssid, wifi_password, target, reach)
        context["ssid"] = ssid
    else:
        if ssid is not None:
            raise click.BadParameter("--ssid is for --dialect esp-at", param_hint="--ssid")
        if apn is None and (apn_user or apn_password):
            raise click.BadParameter("--apn-user/--apn-password need --apn", param_hint="--apn")
        settings = None
        if apn is not None:
            _apn_names((apn,))
            _apn_credentials(apn_user, apn_password)
            settings = ApnSettings(apn, apn_user, apn_password, auth_code(apn_user, apn_auth))
        options = CheckOptions(port_options, settings, target, wait, reach)
        context["apn"] = settings.as_json() if settings else None

        async def run(report: Report) -> None:
            await run_check(options, report)

    context["csms_url"] = target.url if target else None
    _setup_logging(log_level)

    async def main() -> int:
        report = Report(_progress, _note)
        await run(report)
        result = judge(report.results)
        if as_json_:
            click.echo(
                json.dumps(as_json(report.results, result, **context), indent=2, default=str)
            )
        else:
            click.echo(table(report.results, f"cpsim modem check on {port} ({dialect})"))
            click.echo("")
            click.echo(verdict_line(result))
        return result.exit_code

    _run(main)


def _wifi_runner(
    port: PortOptions,
    ssid: str | None,
    password: str,
    target: CsmsTarget | None,
    reach: ReachOptions,
) -> Callable[[Report], Coroutine[Any, Any, None]]:
    """The ESP-AT check; imported here so the cellular check never needs modem.espat."""
    try:
        from chargepoint.fieldtest.espat import WifiOptions, run_wifi_check
    except ImportError as exc:
        click.echo(f"cpsim modem check: {ESP_AT_NOT_YET} ({exc})", err=True)
        sys.exit(ExitCode.USAGE)
    options = WifiOptions(port, ssid, password, target, reach)

    async def run(report: Report) -> None:
        await run_wifi_check(options, report)

    return run


@click.command("apn-scan")
@common_options
@click.option("--apn", "apns", multiple=True, metavar="APN", help="APN to try; repeatable.")
@click.option(
    "--apn-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="One APN per line: apn[,user[,password[,none|pap|chap]]]; # comments.",
)
@tls_file_options
def apn_scan(
    port: str,
    dialect: str,
    baud: int,
    csms_url: str | None,
    cp_id: str | None,
    password: str | None,
    apn_user: str,
    apn_password: str,
    apn_auth: str | None,
    wait: float,
    as_json_: bool,
    at_log: Path | None,
    log_level: str,
    apns: tuple[str, ...],
    apn_file: Path | None,
    ca_file: Path | None,
    cert: Path | None,
    key: Path | None,
) -> None:
    """Try each APN in turn: which give an IP address, and which reach the CSMS?

    The context is deactivated between tries.  A wss:// --csms-url with --ca-file
    (and --cert/--key for profile 3) proves the module's TLS handshake through each
    APN.  EC200U only: APNs are cellular (an ESP-AT module is checked with
    `cpsim modem check --dialect esp-at`).  Exit 0 when at least one APN works,
    1 when none does, 2 for a usage error.
    """
    if dialect == "esp-at":
        click.echo(
            "cpsim modem apn-scan: APNs are a cellular setting; an ESP-AT module "
            "has none (use --dialect ec200u)",
            err=True,
        )
        sys.exit(ExitCode.USAGE)
    tls = _check_tls(csms_url, ca_file, cert, key)
    target = _target(csms_url, cp_id, password, dialect, tls)
    _apn_names(apns)
    _apn_credentials(apn_user, apn_password)
    auth = auth_code(apn_user, apn_auth)
    given = [ApnSettings(a, apn_user, apn_password, auth) for a in apns]
    if apn_file is not None:
        from_file = _apn_file(apn_file)
        if not from_file and not given:
            bad_value(f"{apn_file} lists no APN (only blank lines or # comments)", "--apn-file")
        given += from_file
    if not given:
        raise click.UsageError("give at least one --apn or an --apn-file")
    tries, repeats = distinct(given)
    for repeat in repeats:
        click.echo(f"{repeat.label()} is given more than once: tried once", err=True)
    _setup_logging(log_level)
    options = ScanOptions(PortOptions(port, baud, at_log), tuple(tries), target, wait)

    async def main() -> int:
        report = Report(_progress, _note)
        with step_progress(len(tries), lambda text: click.echo(text, err=True)) as steps:
            outcome = await run_scan(options, report, steps)
        if as_json_:
            context = {
                "command": "apn-scan",
                "port": port,
                "csms_url": target.url if target else None,
            }
            click.echo(json.dumps(scan_json(outcome, **context), indent=2, default=str))
        else:
            click.echo(scan_table(outcome, f"cpsim modem apn-scan on {port}"))
            click.echo("")
            click.echo(verdict_line(outcome.verdict))
        return outcome.verdict.exit_code

    _run(main)
