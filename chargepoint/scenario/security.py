"""A scenario's security set-up: the charger's profile and TLS files, the local CSMS on
wss:// with a development PKI made for the run, and the CSMS as signing CA.

What a file writes (``charger.security_profile``, ``csms.tls``, ``csms.signing_ca``)
becomes one :class:`RunSecurity` when the run starts (:func:`run_security`):

* the charger's :class:`~chargepoint.transport.tlssettings.TlsSettings` (its profile
  at start, the CA, its certificate and key), on every link kind, as ``cpsim run
  --security-profile --ca-file --cert --key`` gives them;
* the station's ``tls_files`` (``ca``, ``cert``): what a SecurityProfile raised over
  ChangeConfiguration finds installed (WP A05.FR.03/04), as :func:`~chargepoint.assembly.
  assemble` sets them for ``cpsim run``;
* the local CSMS's TLS options (its certificate; for profile 3 the client CA; ws://
  on the same port too when profile 1 is accepted), and its signing CA (WP A02).

:func:`security_problems` checks, when the file is loaded, what spans sections (a
charger profile the CSMS does not let in, ``local:pki/`` without a PKI), each at
its file:line.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from chargepoint.csms.signing_ca import SigningCa, load_signing_ca
from chargepoint.security.pki import DevelopmentPki, init_pki
from chargepoint.transport.tlssettings import TlsSettings, tls_settings

from .config import Charger, Csms, CsmsTls
from .errors import Located

if TYPE_CHECKING:
    from .model import Scenario

PKI_PREFIX: Final = "local:pki/"
"""In a ``csms`` call's payload: a certificate of the run's PKI (``local:pki/ca.pem``)."""
DEFAULT_CPO: Final = "cpsim"


@dataclass(frozen=True)
class RunSecurity:
    settings: TlsSettings | None = None
    """The charger's link; None: no profile configured (the URL's scheme decides)."""
    tls_files: frozenset[str] = frozenset()
    """``ca`` / ``cert``: what the charger has for a profile raise (WP A05)."""
    csms_options: dict[str, Any] = field(default_factory=dict)
    """``LocalCsms`` keyword arguments: its certificate, the client CA, ``plain_too``."""
    pki: DevelopmentPki | None = None
    signing_ca: SigningCa | None = None

    def pki_text(self, value: str) -> str:
        """The certificate ``local:pki/<name>.pem`` stands for; ValueError when there is no
        PKI or no such certificate (a private key is never handed out)."""
        name = value[len(PKI_PREFIX) :]
        if self.pki is None:
            raise ValueError(f"{value}: this run has no PKI (set csms.tls or csms.signing_ca)")
        known = pki_names(self.pki)
        if name not in known:
            raise ValueError(f"{value}: the run's PKI has {', '.join(sorted(known))}")
        return known[name].read_text()


def with_pki_files(security: RunSecurity, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload with each ``local:pki/<name>.pem`` value replaced by that certificate
    (PEM text); ValueError naming the value when the run has none such."""
    if not any(isinstance(v, str) and v.startswith(PKI_PREFIX) for v in payload.values()):
        return payload
    return {
        key: security.pki_text(value)
        if isinstance(value, str) and value.startswith(PKI_PREFIX)
        else value
        for key, value in payload.items()
    }


def pki_names(pki: DevelopmentPki) -> dict[str, Path]:
    """The certificates (never the keys) of the PKI, by file name."""
    issued = [pki.ca, pki.csms, *pki.chargers.values()]
    return {i.cert_path.name: i.cert_path for i in issued}


def csms_tls(charger: Charger, csms: Csms) -> CsmsTls | None:
    """The local CSMS's TLS: ``csms.tls``, else, for ``charger.security_profile`` 2 or 3
    alone, that profile (the short form); None for ws://."""
    if not csms.is_local:
        return None
    if csms.tls is not None:
        return csms.tls
    if charger.security_profile in (2, 3):
        return CsmsTls(security_profiles=[3 if charger.security_profile == 3 else 2])
    return None


def charger_profile(charger: Charger, tls: CsmsTls | None) -> int | None:
    """The charger's profile at start: its own, else the lowest the CSMS lets in."""
    if charger.security_profile is not None:
        return charger.security_profile
    return tls.security_profiles[0] if tls is not None else None


def cpo_name(charger: Charger) -> str:
    """O = CpoName in the charger's certificate (A02.FR.13)."""
    return str(charger.configuration.get("CpoName", DEFAULT_CPO))


def run_security(
    charger: Charger, csms: Csms, stack: contextlib.ExitStack | contextlib.AsyncExitStack
) -> RunSecurity:
    """What the run uses; ValueError for what cannot run (profile 3 against another CSMS:
    the scenario has no certificate for it).  The PKI's temp dir lives as long as ``stack``."""
    tls = csms_tls(charger, csms)
    profile = charger_profile(charger, tls)
    if tls is None and csms.signing_ca is None:
        if profile is None:
            return RunSecurity()
        if profile == 3:
            raise ValueError(
                "3 needs the local CSMS (csms.url: local), which makes the certificates"
            )
        return RunSecurity(TlsSettings(profile))  # 2 against another CSMS: the system's CAs
    directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cpsim-pki-")))
    pki = init_pki(directory, (charger.id,), cpo_name=cpo_name(charger))
    signing = None
    if csms.signing_ca:  # the CSR's CN and O are checked: the id and CpoName (A02.FR.13)
        signing = load_signing_ca(pki.ca.cert_path, pki.ca.key_path, organization=cpo_name(charger))
    if tls is None:
        settings = TlsSettings(profile) if profile is not None else None
        return RunSecurity(settings, pki=pki, signing_ca=signing)
    options: dict[str, Any] = {"tls_cert": pki.csms.cert_path, "tls_key": pki.csms.key_path}
    accepted = set(tls.security_profiles)
    if 3 in accepted:
        options["client_ca"] = pki.ca.cert_path
        options["client_cert_required"] = accepted == {3}
    if 1 in accepted:
        options["plain_too"] = True  # ws:// and wss:// on one port
    cp = pki.chargers[charger.id]
    cert, key = (cp.cert_path, cp.key_path) if tls.charger_certificate else (None, None)
    settings = tls_settings(profile if profile is not None else 2, pki.ca.cert_path, cert, key)
    files = frozenset({"ca", "cert"} if cert is not None else {"ca"})
    return RunSecurity(settings, files, options, pki, signing)


def security_problems(scenario: Scenario) -> list[Located]:
    """What spans the charger, the CSMS and the steps, each at its place in the file."""
    charger, csms = scenario.charger, scenario.csms
    tls = csms_tls(charger, csms)
    found: list[Located] = []
    profile = charger.security_profile
    if csms.tls is not None and profile is not None and profile not in csms.tls.security_profiles:
        found.append(
            Located(
                ("charger", "security_profile"),
                f"the local CSMS lets in profiles {csms.tls.security_profiles} "
                f"(csms.tls.security_profiles), not {profile}: the charger would never connect",
            )
        )
    if tls is not None and not tls.charger_certificate and charger_profile(charger, tls) == 3:
        found.append(
            Located(
                ("csms", "tls", "charger_certificate"),
                "security profile 3 authenticates the charger by its certificate: "
                "charger_certificate cannot be false",
            )
        )
    has_pki = tls is not None or csms.signing_ca is not None
    for index, step in enumerate(scenario.steps):
        payload = getattr(step.spec, "payload", None) if step.kind == "csms" else None
        if isinstance(payload, dict) and not has_pki:
            for key, value in payload.items():
                if isinstance(value, str) and value.startswith(PKI_PREFIX):
                    found.append(
                        Located(
                            ("steps", index, "csms", "payload", key),
                            f"{value} needs the run's PKI: set csms.tls or csms.signing_ca",
                        )
                    )
        certificate = getattr(step.spec, "client_certificate", None)
        if step.kind == "expect_connection" and certificate in ("initial", "renewed"):
            if tls is None:
                found.append(
                    Located(
                        ("steps", index, "expect_connection", "client_certificate"),
                        f"{certificate} is a certificate of the run's PKI: set csms.tls",
                    )
                )
            elif certificate == "renewed" and csms.signing_ca is None:
                found.append(
                    Located(
                        ("steps", index, "expect_connection", "client_certificate"),
                        "renewed is the certificate the local CSMS signs: set "
                        "csms.signing_ca: auto",
                    )
                )
    return found
