"""``expect_connection`` (the step's model; :mod:`.connection_check` runs it): what the
local CSMS sees of the charger's connection, from its
own end: over TLS or not, and which client certificate the charger presented.

After a SecurityProfile raise (WP A05.FR.05-07) the charger closes and dials again
with TLS; after a CertificateSigned (A02.FR.08) it presents the new certificate on
its next connection.  The step waits (up to ``within``) until the connection of the
moment is such a one, so it also proves the reconnect: a certificate the CSMS
signed during the run cannot have been presented before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from pydantic import model_validator as validates

from chargepoint.csms.server import LocalCsms

from .errors import problem
from .fields import Duration, Model

ClientCertificate = Literal["initial", "renewed", "none"]


class ExpectConnection(Model):
    """The local CSMS's end of the charger's connection (checked on the one of the moment,
    waiting for the next one until it matches)."""

    tls: bool | None = None
    """true: wss:// (the CSMS did the TLS handshake); false: ws://."""
    client_certificate: ClientCertificate | None = None
    """The TLS client certificate the charger presented (profile 3): ``initial`` the one
    the run's PKI gave it, ``renewed`` the last one the local CSMS signed (CertificateSigned,
    needs csms.signing_ca), ``none`` no certificate."""
    within: Duration | None = None

    @validates(mode="after")
    def _something(self) -> ExpectConnection:
        if self.tls is None and self.client_certificate is None:
            raise problem("say what to check: tls, client_certificate, or both", ())
        if self.tls is False and self.client_certificate in ("initial", "renewed"):
            raise problem(
                "a client certificate comes with TLS: tls cannot be false here",
                ("tls",),
            )
        return self


@dataclass(frozen=True)
class PeerView:
    """One connection as the CSMS sees it."""

    tls_version: str | None
    client_serial: int | None

    def describe(self, names: dict[int, str]) -> str:
        if self.tls_version is None:
            return "ws:// (no TLS)"
        if self.client_serial is None:
            return f"wss:// ({self.tls_version}), no client certificate"
        serial = format(self.client_serial, "X")
        known = f", {names[self.client_serial]}" if self.client_serial in names else ""
        return f"wss:// ({self.tls_version}), client certificate serial {serial}{known}"


def peer_view(csms: LocalCsms, charge_point_id: str) -> PeerView | None:
    """The charger's current connection at the CSMS, or None when it has none."""
    session = csms.sessions.get(charge_point_id)
    if session is None:
        return None
    transport = session._connection.ws.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return PeerView(None, None)
    der = ssl_object.getpeercert(binary_form=True)
    serial = x509.load_der_x509_certificate(der).serial_number if der else None
    return PeerView(str(ssl_object.version()), serial)
