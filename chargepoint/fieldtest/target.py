"""The CSMS a field test aims at: URL, charge-point id and (optional) password.

Technicians are handed either a base URL plus an id (as ``cpsim run`` takes
them) or the charger's full URL; both are accepted, and the id always ends the
URL the WebSocket upgrade asks for, as OCPP-J 1.6 requires.
"""

from __future__ import annotations

from dataclasses import dataclass

from websockets.uri import parse_uri

from chargepoint.transport.handshake import Endpoint, check_base_url
from chargepoint.transport.tlssettings import TlsSettings


@dataclass(frozen=True)
class CsmsTarget:
    endpoint: Endpoint
    host: str
    port: int
    secure: bool

    @classmethod
    def parse(
        cls,
        url: str,
        charge_point_id: str | None = None,
        password: str | None = None,
        tls: TlsSettings | None = None,
    ) -> CsmsTarget:
        """``ws://host:port/ocpp`` + ``CP001``, or ``ws://host:port/ocpp/CP001`` alone.
        ``tls``: the CA file (and client certificate) the TLS row checks a wss:// CSMS with.

        Raises :class:`ValueError` with a sentence saying what is wrong.
        """
        if not url.startswith(("ws://", "wss://")):
            raise ValueError(f"{url!r}: a CSMS URL starts with ws:// or wss://")
        uri = parse_uri(check_base_url(url))
        base = url
        if charge_point_id is None:
            base, _, charge_point_id = url.rstrip("/").rpartition("/")
            if base.endswith(":/") or not charge_point_id:
                raise ValueError(
                    f"{url!r} has no charge-point id at its end: give --id, "
                    "or the full URL (ws://host:port/ocpp/CP001)"
                )
        endpoint = Endpoint(base, charge_point_id, password, tls=tls)
        return cls(endpoint, uri.host, uri.port, uri.secure)

    @property
    def url(self) -> str:
        return self.endpoint.url

    @property
    def charge_point_id(self) -> str:
        return self.endpoint.charge_point_id

    @property
    def auth_note(self) -> str:
        """``, Basic auth as CP001`` when a password is set, for the WebSocket row."""
        return f", Basic auth as {self.charge_point_id}" if self.endpoint.password else ""
