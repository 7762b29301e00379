"""What every link puts in the WebSocket upgrade request, whatever carries it.

OCPP 1.6 security profile 1 is HTTP Basic auth with user = charge-point id and
password = AuthorizationKey.  Some CSMSs instead want a raw token in
``Authorization`` (the seed's Postman example) or an ``Origin``: those come as
explicit headers and win over the computed Basic header.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit, urlunsplit

from websockets.exceptions import InvalidURI
from websockets.uri import WebSocketURI, parse_uri

from .atsafe import control_problem, describe_char
from .base import LinkError
from .tlssettings import TlsSettings

SUBPROTOCOL = "ocpp1.6"


MAX_ID_LENGTH = 48
_ID_FORBIDDEN = set("/?#%:")
# RFC 3986 §3.3: pchar = unreserved / pct-encoded / sub-delims / ":" / "@".  The rest of
# printable ASCII an id may hold (" < > \\ ^ ` { | } [ ]) is percent-encoded in the path.
_PCHAR_SAFE = "-._~!$&'()*+,;=:@"


def check_charge_point_id(text: str) -> str:
    """The id goes at the end of the URL path and is the Basic auth user, so it must be
    1 to 48 printable ASCII characters without spaces and without ``/ ? # % :``
    (``:`` ends the user in HTTP Basic auth, RFC 7617; 48 is the limit OCPP 2.0.1
    made explicit), and not ``.`` or ``..``, which RFC 3986 §5.2.4 removes from a path
    (encoded or not: §6.2.2.2 decodes ``%2E``).  Characters a path cannot hold as they
    are (``" < > \\ ^ ` { | } [ ]``) are percent-encoded by :func:`path_segment`.
    Raises ValueError naming the problem.
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
    if text in (".", ".."):
        raise ValueError(
            f"the charge-point id cannot be {text!r}: a URL path drops it as a dot-segment "
            "(RFC 3986 §5.2.4)"
        )
    return text


def path_segment(charge_point_id: str) -> str:
    """The id as the last URL path segment: percent-encoded where RFC 3986 §3.3 needs it.

    ``CP"1`` -> ``CP%221``; an id of letters, digits and ``-._~!$&'()*+,;=@`` is unchanged.
    The CSMS decodes it back (and the Basic auth user is the id as it is).
    """
    return quote(charge_point_id, safe=_PCHAR_SAFE)


# RFC 3986 §2: a URI is unreserved, reserved and pct-encoded characters, nothing else.
_URI_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%"
)
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def shown_url(url: str) -> str:
    """``url`` as it may appear in a message: a password in its user info is masked."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if not password:
        return url
    user, _, host = parts.netloc.rpartition("@")
    name = user.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{name}:***@{host}"))


def _url_char_problem(url: str) -> str | None:
    """A character no ws:// URL can hold as it is (RFC 3986 §2), or None.

    Control characters first: urllib silently drops CR, LF and tab, so the URL a link
    uses would not be the one given.  Non-ASCII is left to websockets, which turns an
    IRI into a URI (the ESP-AT link refuses it: see :mod:`.atsafe`).
    """
    if problem := control_problem(url):
        return problem
    for char in url:
        if char.isascii() and char not in _URI_CHARS:
            return (
                f"contains {describe_char(char)}, which a URL cannot hold as it is "
                "(RFC 3986): percent-encode it"
            )
    if _BAD_PERCENT.search(url):
        return "contains a '%' not followed by two hex digits (RFC 3986 §2.1)"
    return None


def check_base_url(url: str) -> str:
    """A ws:// or wss:// URL with a host and a valid port, the charger's id to be appended.

    Raises ValueError naming the problem (websockets' own errors do not name the URL);
    a password in the URL's user info is masked in it.
    """
    shown = shown_url(url)
    if not url.startswith(("ws://", "wss://")):
        raise ValueError(f"{shown!r}: must start with ws:// or wss://")
    if problem := _url_char_problem(url):
        raise ValueError(f"the URL {problem}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # bad port, unbalanced [ in an IPv6 host
        raise ValueError(f"{shown!r}: {exc}") from None
    if not parts.hostname:
        raise ValueError(f"{shown!r}: no host")
    if port == 0:
        raise ValueError(f"{shown!r}: port 0 cannot be connected to")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise ValueError(f"{shown!r}: no ?query or #fragment: the charge-point id ends the path")
    if (bracket := next((c for c in parts.path if c in "[]"), None)) is not None:
        raise ValueError(
            f"the URL path contains {bracket!r}, which a path cannot hold as it is "
            "(RFC 3986 §3.3: brackets belong to an IPv6 host): percent-encode it"
        )
    try:
        parse_uri(url)
    except InvalidURI as exc:
        raise ValueError(str(exc).replace(url, shown)) from None
    return url


# RFC 9110 §5.6.2: a field name is a token.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Set by the WebSocket handshake itself: a second one breaks the upgrade.
HANDSHAKE_HEADERS = frozenset(
    name.lower()
    for name in (
        "Host",
        "Upgrade",
        "Connection",
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Protocol",
        "Sec-WebSocket-Extensions",
    )
)


def parse_header(text: str) -> tuple[str, str]:
    """Parse ``'Name: value'`` as given on the command line.

    The name is an RFC 9110 token; the value is visible ASCII, spaces and tabs (no CR,
    LF or other control character, which would end the header or the request early).
    Messages name the header, never its value (it may be a token or a password).
    """
    name, sep, value = text.partition(":")
    name = name.strip()
    if not sep or not name:  # not shown: it may be a token given without its name
        what = "no ':'" if not sep else "no name before the ':'"
        raise ValueError(f"a header is given as 'Name: value'; this one has {what}")
    if not _TOKEN.fullmatch(name):  # not shown either: "Bearer tok:en" is no name
        bad = next(c for c in name if not _TOKEN.fullmatch(c))
        raise ValueError(
            f"the header name (before the ':') contains {describe_char(bad)}; "
            "a name is letters, digits and !#$%&'*+-.^_`|~"
        )
    if problem := control_problem(value, allow_tab=True):
        raise ValueError(f"the value of header {name!r} {problem}")
    if (char := next((c for c in value if not c.isascii()), None)) is not None:
        raise ValueError(
            f"the value of header {name!r} contains {describe_char(char)}; header values "
            "are ASCII (RFC 9110 §5.5): encode it"
        )
    if name.lower() in HANDSHAKE_HEADERS:
        raise ValueError(f"header {name!r} is set by the WebSocket handshake itself")
    return name, value.strip()


def basic_auth(user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


PasswordSource = str | Callable[[], str | None] | None
"""A fixed password, or a function giving the current one (the station's AuthorizationKey,
which the CSMS may change with ChangeConfiguration), or None for no Basic auth."""

TlsSource = TlsSettings | Callable[[], TlsSettings] | None
"""Fixed settings, or a function giving those of the next connect (a SecurityProfile the
CSMS raised, or the fallback to the previous one), or None: the URL's scheme decides,
the system's CAs, Basic auth whenever there is a password (no profile configured)."""


@dataclass(frozen=True)
class Endpoint:
    """The CSMS as one charger sees it: base URL + its id, and its credentials.

    ``password`` and ``tls`` may be functions: links build the upgrade request at
    every connect, so a key or a SecurityProfile changed over OCPP is used from the
    next connection on.
    """

    base_url: str
    charge_point_id: str
    password: PasswordSource = None
    headers: tuple[tuple[str, str], ...] = field(default=())
    tls: TlsSource = None

    @property
    def url(self) -> str:
        """The URL of the next connect.  Its scheme follows the current security profile
        (wss:// for 2 and 3, ws:// for 0 and 1): after the CSMS raised the profile from 1
        to 2, the same host and port are dialled with TLS (EVerest libocpp builds the
        scheme from the profile likewise)."""
        base = self.base_url.rstrip("/")
        tls = self.current_tls()
        if tls is not None:
            scheme, sep, rest = base.partition("://")
            wanted = "wss" if tls.uses_tls else "ws"
            if sep and scheme != wanted:
                base = f"{wanted}://{rest}"
        return base + "/" + path_segment(self.charge_point_id)

    def current_tls(self) -> TlsSettings | None:
        """The security settings for the next connect (None: none configured)."""
        return self.tls() if callable(self.tls) else self.tls

    def uri(self) -> WebSocketURI:
        """The parsed URL; a LinkError naming it when websockets cannot use it."""
        try:
            return parse_uri(self.url)
        except (InvalidURI, ValueError) as exc:  # a port out of range, an unbalanced [
            raise LinkError(f"{self.url}: not a valid WebSocket URL: {exc}") from exc

    def current_password(self) -> str | None:
        return self.password() if callable(self.password) else self.password

    def request_headers(self) -> list[tuple[str, str]]:
        """Extra headers for the upgrade; Basic auth unless an Authorization header is given
        or the security profile has none (0, and 3 where the certificate authenticates:
        WP Table 2; EVerest never sends it for 3)."""
        headers = list(self.headers)
        has_auth = any(name.lower() == "authorization" for name, _ in headers)
        password = self.current_password()
        tls = self.current_tls()
        if tls is not None and not tls.sends_basic_auth:
            password = None
        if password is not None and not has_auth:
            headers.append(("Authorization", basic_auth(self.charge_point_id, password)))
        return headers
