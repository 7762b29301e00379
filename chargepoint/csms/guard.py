"""Who may drive the local CSMS: a token on every control request, Host and Origin checked.

The control API makes the CSMS send any call to a charger (RemoteStart, Reset,
ChangeConfiguration of its AuthorizationKey), so it is protected like any admin API
on a loopback port:

* a **token** (``Authorization: Bearer <token>``), made at start or given with
  ``--api-token``, compared in constant time (``hmac.compare_digest``) and never logged;
* **Host** must name this server (an IP literal, ``localhost``, the bound host name or
  one the user allowed): a web page whose domain was re-pointed at 127.0.0.1 (DNS
  rebinding) sends its own domain as Host and is refused;
* **Origin** must be absent (curl, ``cpsim csms call``) or this very server
  (same-origin): a page elsewhere that posts to the API (CSRF) is refused.

Pure functions over header values, so every rule is tested without a socket.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import urlsplit

from .apierror import ApiError

TOKEN_BYTES = 24
"""A made token: 24 random bytes, 32 URL-safe characters."""


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def split_host(value: str) -> tuple[str, int | None]:
    """``host[:port]`` (``[v6]:port`` too) as (host in lower case, port or None).

    ValueError for what no client sends (an empty host, a port that is not a number).
    """
    parts = urlsplit("//" + value)
    host = parts.hostname or ""
    if not host or any(c in value for c in "/?#@ "):
        raise ValueError(f"not a host[:port]: {value!r}")
    return host.lower(), parts.port  # .port raises ValueError for a bad port


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@dataclass
class ControlGuard:
    """The checks of every control request (see the module's doc)."""

    token: str = field(default_factory=new_token, repr=False)
    allowed_hosts: frozenset[str] = frozenset()
    """Host names besides IP literals and localhost (the bound host, ``--allow-host``)."""

    def __post_init__(self) -> None:
        if not self.token:
            raise ValueError("the API token must not be empty")
        self._token = self.token.encode()
        self.allowed_hosts = frozenset(h.lower().strip("[]") for h in self.allowed_hosts)

    def check(self, host: str | None, origin: str | None, authorization: str | None) -> None:
        """ApiError 403 for a bad Host or Origin, 401 for a missing or wrong token."""
        self.check_host(host)
        self.check_origin(origin, host or "")
        self.check_token(authorization)

    def check_host(self, host: str | None) -> None:
        if not host:
            raise ApiError(HTTPStatus.FORBIDDEN, "bad_host", "Host header missing (HTTP/1.1 §5.4)")
        try:
            name, _ = split_host(host)
        except ValueError as exc:
            raise ApiError(HTTPStatus.FORBIDDEN, "bad_host", f"Host: {exc}") from None
        # An IP literal cannot be re-pointed by DNS; localhost never leaves the machine.
        if _is_ip(name) or name == "localhost" or name.endswith(".localhost"):
            return
        if name in self.allowed_hosts:
            return
        raise ApiError(
            HTTPStatus.FORBIDDEN,
            "bad_host",
            f"Host {name!r} is not this CSMS's name (refused against DNS rebinding); "
            "use its IP address or localhost, or start it with --allow-host "
            f"{name}",
        )

    def check_origin(self, origin: str | None, host: str) -> None:
        """Absent (not a browser) or same-origin: ``http://`` + the Host header."""
        if origin is None:
            return
        parts = urlsplit(origin)
        try:
            same = (
                parts.scheme == "http"
                and not parts.path
                and host != ""
                and (parts.hostname or "", parts.port or 80) == _with_port(host)
            )
        except ValueError:
            same = False
        if not same:
            raise ApiError(
                HTTPStatus.FORBIDDEN,
                "bad_origin",
                f"Origin {origin[:100]!r} is not this CSMS (cross-site requests are refused)",
            )

    def check_token(self, authorization: str | None) -> None:
        challenge = {"WWW-Authenticate": 'Bearer realm="cpsim csms control API"'}
        if not authorization:
            raise ApiError(
                HTTPStatus.UNAUTHORIZED,
                "no_token",
                "the control API needs its token: 'Authorization: Bearer <token>' "
                "(printed by cpsim csms at start, or its --api-token)",
                headers=challenge,
            )
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode("utf-8", "replace"), self._token
        ):
            raise ApiError(
                HTTPStatus.UNAUTHORIZED,
                "bad_token",
                "wrong API token (give the one cpsim csms printed at start, or its --api-token)",
                headers=challenge,
            )


def _with_port(host: str) -> tuple[str, int]:
    name, port = split_host(host)
    return name, port or 80
