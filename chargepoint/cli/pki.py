"""``cpsim pki init DIR``: a development CA, a CSMS certificate and charger certificates,
for security profiles 2 and 3 against the local CSMS (or a test CSMS of your own)."""

from __future__ import annotations

from pathlib import Path

import click

from chargepoint.security.pki import init_pki

from .common import CouldNotStart


@click.group()
def pki() -> None:
    """Development certificates for TLS (security profiles 2 and 3)."""


@pki.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--cp-id",
    "cp_ids",
    multiple=True,
    default=("CP001",),
    show_default=True,
    help="A charger to issue a client certificate for (CN = the id); repeatable.",
)
@click.option(
    "--cpo-name",
    default="cpsim",
    show_default=True,
    help="O of the charger certificates (the CpoName key, A02.FR.13).",
)
@click.option(
    "--csms-name",
    "csms_names",
    multiple=True,
    default=("localhost", "127.0.0.1"),
    show_default=True,
    help="A host name or IP address the CSMS certificate is for; repeatable.",
)
def init(
    directory: Path, cp_ids: tuple[str, ...], cpo_name: str, csms_names: tuple[str, ...]
) -> None:
    """Write ca.pem, csms.pem and <id>.pem (keys beside them as *-key.pem, mode 0600)."""
    if directory.exists() and any(directory.iterdir()):
        raise CouldNotStart(f"{directory}: not empty; give a new directory")
    try:
        made = init_pki(directory, cp_ids, cpo_name, csms_names)
    except OSError as exc:
        raise CouldNotStart(f"{directory}: {exc.strerror or exc}") from None
    click.echo(f"CA:    {made.ca.cert_path}  (give it to chargers with --ca-file)")
    click.echo(f"CSMS:  {made.csms.cert_path}  key {made.csms.key_path}")
    for cp_id, issued in made.chargers.items():
        click.echo(f"{cp_id}: {issued.cert_path}  key {issued.key_path}")
