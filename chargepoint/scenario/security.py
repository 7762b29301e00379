"""A scenario's ``charger.security_profile``: the charger's TLS settings and, with the
local CSMS, what it serves (wss:// with a development PKI made for the run)."""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chargepoint.security.pki import init_pki
from chargepoint.transport.tlssettings import TlsSettings, tls_settings


@dataclass(frozen=True)
class ScenarioTls:
    settings: TlsSettings
    """The charger's link."""
    csms_options: dict[str, Any] = field(default_factory=dict)
    """``LocalCsms`` keyword arguments: its certificate, and the client CA for profile 3."""


def scenario_tls(
    profile: int | None, local_csms: bool, cp_id: str, stack: contextlib.AsyncExitStack
) -> ScenarioTls | None:
    """None without a profile; ValueError for what cannot run (3 with another CSMS: the
    scenario has no certificate for it).  The PKI's temp dir lives as long as ``stack``."""
    if profile is None:
        return None
    if profile < 2:
        return ScenarioTls(TlsSettings(profile))
    if not local_csms:
        if profile == 3:
            raise ValueError(
                "3 needs the local CSMS (csms.url: local), which makes the certificates"
            )
        return ScenarioTls(TlsSettings(2))  # the system's CAs
    directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cpsim-pki-")))
    pki = init_pki(directory, (cp_id,))
    options: dict[str, Any] = {"tls_cert": pki.csms.cert_path, "tls_key": pki.csms.key_path}
    cp = pki.chargers[cp_id]
    if profile == 3:
        options["client_ca"] = pki.ca.cert_path
        return ScenarioTls(tls_settings(3, pki.ca.cert_path, cp.cert_path, cp.key_path), options)
    return ScenarioTls(tls_settings(2, pki.ca.cert_path), options)
