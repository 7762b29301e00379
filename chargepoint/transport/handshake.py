"""What every link puts in the WebSocket upgrade request, whatever carries it.

OCPP 1.6 security profile 1 is HTTP Basic auth with user = charge-point id and
password = AuthorizationKey.  Some CSMSs instead want a raw token in
``Authorization`` (the seed's Postman example) or an ``Origin``: those come as
explicit headers and win over the computed Basic header.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from websockets.exceptions import InvalidURI
from websockets.uri import WebSocketURI, parse_uri

from .base import LinkError

SUBPROTOCOL = "ocpp1.6"


MAX_ID_LENGTH = 48
_ID_FORBIDDEN = set("/?#%:")


def check_charge_point_id(text: str) -> str:
    """The id goes at the end of the URL path and is the Basic auth user, so it must be
    1 to 48 printable ASCII characters without spaces and without ``/ ? # % :``
    (``:`` ends the user in HTTP Basic auth, RFC 7617; 48 is the limit OCPP 2.0.1
    made explicit).  Raises ValueError naming the problem.
    """
    if not text:
        raise ValueError("the charge-point id must not be empty")
    if len(text) > MAX_ID_LENGTH:
        raise ValueError(f"the charge-point id is {len(text)} characters; at most {MAX_ID_LENGTH}")
    for char in text:
        if not (char.isascii() and char.isprintable()) or char.isspace() or char in _ID_FORBIDDEN:
            raise ValueError(
                f"the charge-point id {text!r} contains {char!r}: use printable ASCII "
                "without spaces and without / ? # % :"
            )
    return text


def check_base_url(url: str) -> str:
    """A ws:// or wss:// URL with a host and a valid port, the charger's id to be appended.

    Raises ValueError naming the problem (websockets' own errors do not name the URL).
    """
    if not url.startswith(("ws://", "wss://")):
        raise ValueError(f"{url!r}: must start with ws:// or wss://")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # bad port, unbalanced [ in an IPv6 host
        raise ValueError(f"{url!r}: {exc}") from None
    if not parts.hostname:
        raise ValueError(f"{url!r}: no host")
    if port == 0:
        raise ValueError(f"{url!r}: port 0 cannot be connected to")
    if parts.query or parts.fragment:
        raise ValueError(f"{url!r}: no ?query or #fragment: the charge-point id ends the path")
    try:
        parse_uri(url)
    except InvalidURI as exc:
        raise ValueError(str(exc)) from None
    return url


def parse_header(text: str) -> tuple[str, str]:
    """Parse ``'Name: value'`` as given on the command line."""
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise ValueError(f"header {text!r} is not in the form 'Name: value'")
    return name.strip(), value.strip()


def basic_auth(user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


PasswordSource = str | Callable[[], str | None] | None
"""A fixed password, or a function giving the current one (the station's AuthorizationKey,
which the CSMS may change with ChangeConfiguration), or None for no Basic auth."""


@dataclass(frozen=True)
class Endpoint:
    """The CSMS as one charger sees it: base URL + its id, and its credentials.

    ``password`` may be a function: links build the upgrade request at every
    connect, so a key changed over OCPP is used from the next connection on.
    """

    base_url: str
    charge_point_id: str
    password: PasswordSource = None
    headers: tuple[tuple[str, str], ...] = field(default=())

    @property
    def url(self) -> str:
        return self.base_url.rstrip("/") + "/" + self.charge_point_id

    def uri(self) -> WebSocketURI:
        """The parsed URL; a LinkError naming it when websockets cannot use it."""
        try:
            return parse_uri(self.url)
        except (InvalidURI, ValueError) as exc:  # a port out of range, an unbalanced [
            raise LinkError(f"{self.url}: not a valid WebSocket URL: {exc}") from exc

    def current_password(self) -> str | None:
        return self.password() if callable(self.password) else self.password

    def request_headers(self) -> list[tuple[str, str]]:
        """Extra headers for the upgrade; Basic auth unless an Authorization header is given."""
        headers = list(self.headers)
        has_auth = any(name.lower() == "authorization" for name, _ in headers)
        password = self.current_password()
        if password is not None and not has_auth:
            headers.append(("Authorization", basic_auth(self.charge_point_id, password)))
        return headers
