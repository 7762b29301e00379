"""``cpsim csms``: the local CSMS, and ``cpsim csms call`` to make it send a call."""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from pathlib import Path

import click

from chargepoint import logs
from chargepoint.csms.client import (
    DEFAULT_API_URL,
    TOKEN_ENV,
    ApiUrlError,
    check_api_url,
    run_call,
)
from chargepoint.csms.control import BOOT_STATUSES
from chargepoint.csms.files import FileFault
from chargepoint.csms.framelog import format_frame
from chargepoint.csms.guard import new_token
from chargepoint.csms.handlers import CsmsPolicy
from chargepoint.csms.server import Credentials, LocalCsms, hold_many_connections
from chargepoint.csms.signing_ca import load_signing_ca
from chargepoint.csms.uploads import MAX_UPLOAD
from chargepoint.security.tlsfiles import TlsFileError

from .common import (
    CouldNotStart,
    ExitCode,
    log_format_option,
    log_level_option,
    run_until_interrupted,
    writable_file,
)

FAULTS = tuple(f.value for f in FileFault)


class CallFailedError(click.ClickException):
    """The call reached the CSMS and failed (CALLERROR, not connected, no answer): exit 1."""

    exit_code = ExitCode.FAILED


class CallNotMadeError(click.ClickException):
    """The request could not be made as given (input, token, address): exit 2."""

    exit_code = ExitCode.USAGE


@click.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--http-port",
    type=click.IntRange(0, 65535),
    help="The HTTP side's port (control API, firmware, uploads). Default: --port + 1.",
)
@click.option(
    "--log",
    "log_path",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=writable_file,
    help="Append every frame as one JSON object per line (AuthorizationKey masked).",
)
@click.option("--password", help="Require HTTP Basic auth: user = charge-point id, this password.")
@click.option(
    "--auth-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Require HTTP Basic auth with passwords per charger (lines 'CP001:secret').",
)
@click.option(
    "--boot-status", type=click.Choice(BOOT_STATUSES), default="Accepted", show_default=True
)
@click.option("--heartbeat-interval", default=300, show_default=True, type=click.IntRange(0))
@click.option(
    "--api-token",
    envvar=TOKEN_ENV,
    help=f"The control API's token (env {TOKEN_ENV}). Default: a random one, printed at start.",
)
@click.option(
    "--allow-host",
    multiple=True,
    help="A Host name the control API accepts besides IP addresses, localhost and --host.",
)
@click.option(
    "--firmware",
    "firmware_files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, readable=True, path_type=Path),
    help="Offer FILE at http://HOST:HTTP_PORT/firmware/<its name> (repeatable).",
)
@click.option(
    "--firmware-fault",
    type=click.Choice(FAULTS),
    default="none",
    show_default=True,
    help="How downloads misbehave: cut half-way, slow, or fail-once (503 the first time).",
)
@click.option(
    "--slow-rate",
    type=click.IntRange(1),
    default=8192,
    show_default=True,
    help="Bytes per second of --firmware-fault slow.",
)
@click.option(
    "--uploads",
    "uploads_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where diagnostics uploads are stored. Default: a new temp dir, printed at start.",
)
@click.option(
    "--max-upload",
    type=click.IntRange(1),
    default=MAX_UPLOAD,
    show_default=True,
    help="The largest upload accepted, in bytes.",
)
@click.option(
    "--signing-ca",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Sign chargers' CSRs with this CA certificate (SignCertificate -> CertificateSigned).",
)
@click.option(
    "--signing-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The --signing-ca's private key (PEM, unencrypted; never logged).",
)
@click.option(
    "--tls-cert",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Serve wss:// with this certificate (PEM; with --tls-key): security profile 2.",
)
@click.option(
    "--tls-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The --tls-cert's private key (PEM, unencrypted; never logged).",
)
@click.option(
    "--client-ca",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Require a client certificate signed by this CA, its CN = the charge-point id "
    "(security profile 3: no Basic auth).",
)
@log_level_option()
@log_format_option()
@click.pass_context
def csms(
    ctx: click.Context,
    host: str,
    port: int,
    http_port: int | None,
    log_path: Path | None,
    password: str | None,
    auth_file: Path | None,
    boot_status: str,
    heartbeat_interval: int,
    api_token: str | None,
    allow_host: tuple[str, ...],
    firmware_files: tuple[Path, ...],
    firmware_fault: str,
    slow_rate: int,
    uploads_dir: Path | None,
    max_upload: int,
    signing_ca: Path | None,
    signing_key: Path | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    client_ca: Path | None,
    log_level: str,
    log_format: str,
) -> None:
    """Run a local OCPP 1.6 CSMS: ws://HOST:PORT/<any prefix>/<chargePointId>
    (wss:// with --tls-cert and --tls-key).

    Its HTTP side (control API, firmware files, diagnostics uploads) is on --http-port.
    """
    if ctx.invoked_subcommand is not None:
        return
    if password and auth_file:
        raise click.UsageError("--password and --auth-file exclude each other")
    if http_port is None and port == 65535:
        raise click.BadParameter("no port after 65535: give --http-port", param_hint="'--port'")
    if http_port is not None and http_port == port != 0:
        raise click.BadParameter("must differ from --port", param_hint="'--http-port'")
    if api_token is not None and not api_token.strip():
        raise click.BadParameter("must not be empty", param_hint="'--api-token'")
    try:
        credentials = (
            Credentials.from_file(auth_file)
            if auth_file
            else Credentials(shared=password)
            if password
            else None
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--auth-file") from exc
    if uploads_dir is not None:
        try:
            uploads_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise click.BadParameter(
                f"{uploads_dir}: {exc.strerror}", param_hint="'--uploads'"
            ) from exc
    if (signing_ca is None) != (signing_key is None):
        raise click.UsageError("--signing-ca and --signing-key go together")
    try:
        ca = load_signing_ca(signing_ca, signing_key) if signing_ca and signing_key else None
    except TlsFileError as exc:
        raise click.BadParameter(str(exc), param_hint="'--signing-ca'") from exc
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if client_ca is not None and tls_cert is None:
        raise click.UsageError("--client-ca needs --tls-cert and --tls-key (it is TLS)")
    logs.setup(log_level, log_format=log_format)
    policy = CsmsPolicy(
        boot_status=boot_status, heartbeat_interval=heartbeat_interval, signing_ca=ca
    )
    token = api_token.strip() if api_token else new_token()
    try:
        server = LocalCsms(
            host,
            port,
            log_path,
            credentials,
            policy,
            http_port=http_port if http_port is not None else (port + 1 if port else 0),
            api_token=token,
            allowed_hosts=allow_host,
            uploads_dir=uploads_dir,
            max_upload=max_upload,
            tls_cert=tls_cert,
            tls_key=tls_key,
            client_ca=client_ca,
        )
    except TlsFileError as exc:
        text = str(exc)
        hint = "'--client-ca'" if client_ca is not None and str(client_ca) in text else None
        raise click.BadParameter(text, param_hint=hint or "'--tls-cert'") from exc
    offered: list[str] = []
    for path in firmware_files:
        try:
            offered.append(server.firmware.offer(path))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--firmware'") from exc
    server.set_file_fault(firmware_fault, rate=slow_rate)

    async def main(stop: asyncio.Event) -> None:
        if logging.getLogger().isEnabledFor(logging.INFO):
            server.frames.listeners.append(lambda frame: click.echo(format_frame(frame), err=True))
        try:
            await server.start()
            hold_many_connections()  # this process is the CSMS: tune its collector
        except OSError as exc:
            raise CouldNotStart(f"cannot listen on {host}: {exc.strerror or exc}") from exc
        shown = f"as given (--api-token or {TOKEN_ENV})" if api_token else token

        def say(text: str) -> None:
            click.echo(text, err=True)

        say(f"CSMS ready: {server.url}/<chargePointId>")
        say(f"control API: {server.api_url}/api  token: {shown}")
        say(f"  e.g. {TOKEN_ENV}=<token> cpsim csms call --url {server.api_url} CP001 ...")
        for name in offered:  # URLs once the port is bound (--http-port 0)
            fault = f" (fault: {firmware_fault})" if firmware_fault != "none" else ""
            say(f"firmware: {server.firmware_url(name)}{fault}  <- the location of UpdateFirmware")
        say(f"diagnostics: {server.diagnostics_url}  <- the location of GetDiagnostics")
        if server.uploads.directory is None:  # made once up: none left by a failed start
            server.uploads.directory = Path(tempfile.mkdtemp(prefix="cpsim-uploads-"))
        say(f"  uploads are stored in {server.uploads.directory}")
        await stop.wait()
        await server.stop()

    run_until_interrupted(main)


@csms.command("call")
@click.option(
    "--url",
    default=DEFAULT_API_URL,
    show_default=True,
    help="The local CSMS's HTTP address (its control API; cpsim csms prints it at start).",
)
@click.option(
    "--api-token",
    envvar=TOKEN_ENV,
    help=f"The control API's token (env {TOKEN_ENV}); cpsim csms prints it at start.",
)
@click.option(
    "--timeout", default=30.0, show_default=True, type=click.FloatRange(0, 600, min_open=True)
)
@click.argument("charge_point_id")
@click.argument("action")
@click.argument("payload", default="{}")
def call(
    url: str,
    api_token: str | None,
    timeout: float,
    charge_point_id: str,
    action: str,
    payload: str,
) -> None:
    """Make the local CSMS send ACTION with PAYLOAD (JSON) to a connected charger.

    Exit 0: the charger's result is printed; 1: the call failed (CALLERROR, not
    connected, no answer); 2: usage, token, or the CSMS could not be reached.
    """
    try:
        check_api_url(url)
    except ApiUrlError as exc:
        raise click.BadParameter(str(exc), param_hint="'--url'") from exc
    try:
        body = json.loads(payload)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="PAYLOAD") from exc
    if not isinstance(body, dict):
        raise click.BadParameter("must be a JSON object", param_hint="PAYLOAD")
    if not api_token:
        raise click.UsageError(
            f"the control API needs its token: give --api-token or set {TOKEN_ENV} "
            "(cpsim csms printed it at start)"
        )
    outcome = run_call(url, api_token, charge_point_id, action, body, timeout)
    if outcome.exit_code == 1:
        raise CallFailedError(outcome.message)
    if outcome.exit_code != 0:
        raise CallNotMadeError(outcome.message)
    click.echo(json.dumps(outcome.result, indent=2))
