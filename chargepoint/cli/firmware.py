"""``cpsim firmware pack``: make a firmware image the simulated charger can install.

The format is :mod:`chargepoint.firmware_image`'s: one header line with the version
and the payload's SHA-256, then the payload.  Offer the result with
``cpsim csms --firmware OUT`` and send UpdateFirmware: the charger checks the
checksum, installs, reboots and boots with ``--version`` as its firmwareVersion.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from chargepoint.firmware_image import ImageError, check_version, pack


def _version(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return check_version(value)
    except ImageError as exc:
        raise click.BadParameter(str(exc)) from None


@click.group()
def firmware() -> None:
    """Firmware images for UpdateFirmware (OCPP 1.6 §5.19)."""


@firmware.command("pack")
@click.option(
    "--version",
    "version",
    required=True,
    callback=_version,
    help="The firmwareVersion the charger boots with (1-50 printable ASCII characters).",
)
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def pack_command(version: str, source: Path, out: Path) -> None:
    """Pack SOURCE (any bytes) as a firmware image OUT of VERSION."""
    try:
        data = pack(source.read_bytes(), version)
        part = out.with_name(out.name + ".part")
        part.write_bytes(data)
        os.replace(part, out)
    except OSError as exc:
        raise click.ClickException(f"{exc.filename}: {exc.strerror}") from None
    click.echo(f"{out}: firmware {version}, {len(data)} bytes")
