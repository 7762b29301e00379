"""``--security-profile``, ``--ca-file``, ``--cert``, ``--key``: how a charger secures its link.

Checked before anything is opened (a usage error naming the file and the problem,
exit 2): the URL's scheme must match the profile (ws:// for 0 and 1, wss:// for 2
and 3, as EVerest's ``parse_and_validate``), profile 3 needs a certificate and its
key, and every file must be readable, well-formed, valid now and consistent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from chargepoint.security.tlsfiles import TlsFileError
from chargepoint.transport.tlssettings import SchemeMismatch, TlsSettings, tls_settings

from .common import bad_value


def tls_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The four options, in the order ``--help`` shows them."""
    path = click.Path(dir_okay=False, path_type=Path)
    for option in reversed(
        [
            click.option(
                "--security-profile",
                type=click.IntRange(0, 3),
                help="OCPP 1.6 security profile: 0 none, 1 ws:// + Basic auth, 2 wss:// + "
                "Basic auth, 3 wss:// + client certificate (no Basic auth). Kept as "
                "SecurityProfile; the CSMS may raise it, never lower it [default: 2 for "
                "wss:// (3 with --cert), else 1].",
            ),
            click.option(
                "--ca-file",
                type=path,
                help="PEM CA file the CSMS's certificate must chain to (wss://; also for "
                "https file transfers) [default: the system's CAs].",
            ),
            click.option("--cert", type=path, help="Charger certificate (PEM) for profile 3."),
            click.option("--key", type=path, help="Its private key (PEM, unencrypted)."),
        ]
    ):
        command = option(command)
    return command


def resolve_tls(
    url: str,
    security_profile: int | None,
    ca_file: Path | None,
    cert: Path | None,
    key: Path | None,
) -> TlsSettings:
    """Checked settings for ``url``; a click usage error naming the option otherwise."""
    if security_profile is None:
        secure = url.startswith("wss://")
        security_profile = (3 if cert is not None else 2) if secure else 1
    try:
        settings = tls_settings(security_profile, ca_file, cert, key)
    except TlsFileError as exc:
        text = str(exc)
        named = [
            (text.find(str(given)), name)
            for name, given in (("--ca-file", ca_file), ("--cert", cert), ("--key", key))
            if given is not None and str(given) in text
        ]
        bad_value(text, min(named)[1] if named else "--security-profile")
    try:
        settings.check_url(url)
    except SchemeMismatch as exc:
        bad_value(str(exc), "--url")
    return settings
