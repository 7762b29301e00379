"""``cpsim csms``: the local CSMS, and ``cpsim csms call`` to make it send a call."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import click

from chargepoint import logs
from chargepoint.csms.control import BOOT_STATUSES, describe_error, remote_call
from chargepoint.csms.framelog import format_frame
from chargepoint.csms.handlers import CsmsPolicy
from chargepoint.csms.server import Credentials, LocalCsms

from .common import log_level_option, run_until_interrupted


@click.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--log",
    "log_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append every frame as one JSON object per line.",
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
@log_level_option()
@click.pass_context
def csms(
    ctx: click.Context,
    host: str,
    port: int,
    log_path: Path | None,
    password: str | None,
    auth_file: Path | None,
    boot_status: str,
    heartbeat_interval: int,
    log_level: str,
) -> None:
    """Run a local OCPP 1.6 CSMS: ws://HOST:PORT/<any prefix>/<chargePointId>."""
    if ctx.invoked_subcommand is not None:
        return
    if password and auth_file:
        raise click.UsageError("--password and --auth-file exclude each other")
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
    logs.setup(log_level)
    policy = CsmsPolicy(boot_status=boot_status, heartbeat_interval=heartbeat_interval)

    async def main(stop: asyncio.Event) -> None:
        server = LocalCsms(host, port, log_path, credentials, policy)
        if logging.getLogger().isEnabledFor(logging.INFO):
            server.frames.listeners.append(lambda frame: click.echo(format_frame(frame), err=True))
        try:
            await server.start()
        except OSError as exc:
            raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
        click.echo(
            f"CSMS ready: {server.url}/<chargePointId>  control API: {server.api_url}/api", err=True
        )
        await stop.wait()
        await server.stop()

    run_until_interrupted(main)


@csms.command("call")
@click.option(
    "--url",
    default="http://127.0.0.1:9000",
    show_default=True,
    help="The local CSMS's address (its control API).",
)
@click.option("--timeout", default=30.0, show_default=True)
@click.argument("charge_point_id")
@click.argument("action")
@click.argument("payload", default="{}")
def call(url: str, timeout: float, charge_point_id: str, action: str, payload: str) -> None:
    """Make the local CSMS send ACTION with PAYLOAD (JSON) to a connected charger."""
    try:
        body = json.loads(payload)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="PAYLOAD") from exc
    try:
        status, answer = remote_call(url, charge_point_id, action, body, timeout)
    except OSError as exc:
        raise click.ClickException(f"{url}: {exc}") from exc
    if status != 200 or "result" not in answer:
        error = describe_error(answer.get("error", answer))
        raise click.ClickException(f"{charge_point_id} {action}: {error}")
    click.echo(json.dumps(answer["result"], indent=2))
