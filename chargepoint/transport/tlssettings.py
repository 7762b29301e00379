"""How a link secures its connection: the OCPP 1.6 security profile and its files.

Every link (direct, EC200U, ESP-AT) reads one :class:`TlsSettings`, which is
checked once, when the command line or scenario is read (a usage error naming
the file, before anything is opened), and never changes afterwards:

* ``security_profile``: 0 none, 1 ws:// + HTTP Basic, 2 wss:// + HTTP Basic,
  3 wss:// + client certificate and no Basic auth (Security Whitepaper ed. 3
  §2.1 Table 2; EVerest sends the Basic header only for 1 and 2);
* ``ca_file``: the CA(s) the CSMS's certificate must chain to (None: the
  system's CAs);
* ``identity``: the charger's certificate and key, for profile 3.

A link calls :meth:`TlsSettings.context` for an ``ssl.SSLContext`` (TLS 1.2+,
server certificate and host name verified, SNI sent by ``server_hostname``) or
reads ``ca_file`` / ``identity`` to hand the files to a modem's own TLS stack.
:meth:`TlsSettings.check_url` is EVerest's ``parse_and_validate``: the URL's
scheme must match the profile.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, replace
from pathlib import Path

from chargepoint.security.tlsfiles import (
    TlsFileError,
    TlsIdentity,
    check_ca,
    check_identity,
    client_context,
)

PROFILES = (0, 1, 2, 3)


class SchemeMismatch(ValueError):
    """A ws:// URL with profile 2/3, or wss:// with 0/1 (WP A00.FR.001: one profile)."""


@dataclass(frozen=True)
class TlsSettings:
    security_profile: int = 0
    ca_file: Path | None = None
    identity: TlsIdentity | None = None

    @property
    def uses_tls(self) -> bool:
        """Profiles 2 and 3 run over TLS (wss://)."""
        return self.security_profile >= 2

    @property
    def sends_basic_auth(self) -> bool:
        """Profiles 1 and 2 send HTTP Basic auth; 3 authenticates by certificate."""
        return self.security_profile in (1, 2)

    def context(self) -> ssl.SSLContext:
        """A client context: TLS 1.2+, the CSMS certificate verified against ``ca_file``
        (else the system's CAs) and its host name checked; the client certificate for
        profile 3."""
        identity = self.identity if self.security_profile == 3 else None
        return client_context(self.ca_file, identity)

    def check_url(self, url: str) -> str:
        """``url`` when its scheme matches the profile, else :class:`SchemeMismatch`."""
        secure = url.startswith("wss://")
        if self.uses_tls and not secure:
            raise SchemeMismatch(
                f"security profile {self.security_profile} runs over TLS: the URL must "
                "start with wss://"
            )
        if not self.uses_tls and secure:
            raise SchemeMismatch(
                f"security profile {self.security_profile} is without TLS: the URL must "
                "start with ws:// (use --security-profile 2 or 3 for wss://)"
            )
        return url

    def with_profile(self, profile: int) -> TlsSettings:
        """The same files with another profile (a SecurityProfile raised over OCPP)."""
        return replace(self, security_profile=profile)

    def missing_for(self, profile: int) -> str | None:
        """What profile ``profile`` still needs (WP A05.FR.03/04), or None."""
        if profile >= 2 and self.ca_file is None:
            return "no CA file (--ca-file) for the CSMS certificate"
        if profile == 3 and self.identity is None:
            return "no charge-point certificate and key (--cert, --key)"
        return None


def tls_settings(
    security_profile: int,
    ca_file: Path | None = None,
    cert_file: Path | None = None,
    key_file: Path | None = None,
) -> TlsSettings:
    """Checked settings; :class:`TlsFileError` naming the file and the problem.

    A profile 3 without a certificate, a certificate without its key (or the other
    way round), an unreadable, malformed or expired file, a key that is not the
    certificate's: each refused here, before anything is opened.
    """
    if security_profile not in PROFILES:
        raise TlsFileError(f"security profile {security_profile}: must be 0, 1, 2 or 3")
    if (cert_file is None) != (key_file is None):
        given, missing = ("--cert", "--key") if key_file is None else ("--key", "--cert")
        raise TlsFileError(f"{given} is given without {missing}: give both")
    if security_profile == 3 and cert_file is None:
        raise TlsFileError(
            "security profile 3 authenticates the charger by its certificate: give --cert and --key"
        )
    if ca_file is not None:
        check_ca(ca_file)
    identity = None
    if cert_file is not None and key_file is not None:
        identity = check_identity(cert_file, key_file)
    return TlsSettings(security_profile, ca_file, identity)
