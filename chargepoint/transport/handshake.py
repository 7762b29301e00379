"""What every link puts in the WebSocket upgrade request, whatever carries it.

OCPP 1.6 security profile 1 is HTTP Basic auth with user = charge-point id and
password = AuthorizationKey.  Some CSMSs instead want a raw token in
``Authorization`` (the seed's Postman example) or an ``Origin``: those come as
explicit headers and win over the computed Basic header.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

SUBPROTOCOL = "ocpp1.6"


def parse_header(text: str) -> tuple[str, str]:
    """Parse ``'Name: value'`` as given on the command line."""
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise ValueError(f"header {text!r} is not in the form 'Name: value'")
    return name.strip(), value.strip()


def basic_auth(user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


@dataclass(frozen=True)
class Endpoint:
    """The CSMS as one charger sees it: base URL + its id, and its credentials."""

    base_url: str
    charge_point_id: str
    password: str | None = None
    headers: tuple[tuple[str, str], ...] = field(default=())

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + "/" + self.charge_point_id

    def request_headers(self) -> list[tuple[str, str]]:
        """Extra headers for the upgrade; Basic auth unless an Authorization header is given."""
        headers = list(self.headers)
        has_auth = any(name.lower() == "authorization" for name, _ in headers)
        if self.password is not None and not has_auth:
            headers.append(("Authorization", basic_auth(self.charge_point_id, self.password)))
        return headers
