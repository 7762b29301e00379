"""What was wrong with a failed TLS handshake, as the Security Whitepaper's events name it.

A00.FR.309/310 and .413/414: a CSMS certificate that fails the path or host check
raises ``InvalidCentralSystemCertificate``; A00.FR.315/419: a CSMS that offers only
TLS below 1.2 raises ``InvalidTLSVersion``; A00.FR.322/426: one that offers only
suites the charger does not allow raises ``InvalidTLSCipherSuite``.  A CSMS that
refuses the charger's own certificate (profile 3) is ``FailedToAuthenticationAtCentral
System`` (WP§8: "CSMS rejected credentials").  The kinds are those events' spellings.

:func:`classify_ssl_error` reads Python's ``ssl`` errors; the links put the result on
the exceptions they raise (``tls_failure``), and :func:`tls_failure_in` finds it again
behind a ``LinkError``.  What cannot be told apart is left unclassified (None): in
TLS 1.2 a ``handshake_failure`` alert means "no suite in common" before the
ServerHello and "a client certificate is wanted" after it, so without knowing which
(``server_hello_seen`` None) no event is claimed.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from enum import Enum
from typing import Final

from .events import TECH_INFO_MAX


class TlsFailureKind(Enum):
    """The WP§8 security event a failed handshake raises (values: its spelling)."""

    CSMS_CERTIFICATE = "InvalidCentralSystemCertificate"
    TLS_VERSION = "InvalidTLSVersion"
    CIPHER_SUITE = "InvalidTLSCipherSuite"
    CLIENT_CERTIFICATE_REFUSED = "FailedToAuthenticationAtCentralSystem"


@dataclass(frozen=True)
class TlsFailure:
    kind: TlsFailureKind
    tech_info: str
    """What was wrong, for the event's techInfo (at most 255 characters, no secret)."""


_VERSION: Final = frozenset(
    {"TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL", "VERSION_TOO_LOW", "WRONG_SSL_VERSION"}
)
_CIPHER: Final = frozenset(
    {
        "NO_SHARED_CIPHER",
        "NO_CIPHERS_AVAILABLE",
        "NO_CIPHER_MATCH",
        "WRONG_CIPHER_RETURNED",
        "TLSV1_ALERT_INSUFFICIENT_SECURITY",
    }
)
_CLIENT_REFUSED: Final = frozenset(
    {
        "TLSV13_ALERT_CERTIFICATE_REQUIRED",
        "SSLV3_ALERT_BAD_CERTIFICATE",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED",
        "SSLV3_ALERT_CERTIFICATE_REVOKED",
        "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
        "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
        "TLSV1_ALERT_UNKNOWN_CA",
    }
)
_HANDSHAKE_FAILURE: Final = "SSLV3_ALERT_HANDSHAKE_FAILURE"

# X509_V_ERR_* codes (OpenSSL include/openssl/x509_vfy.h) -> the problem in a few words
_VERIFY_PROBLEM: Final = {
    2: "untrusted",
    18: "untrusted (self-signed)",
    19: "untrusted",
    20: "untrusted",
    21: "untrusted",
    9: "not yet valid",
    10: "expired",
    23: "revoked",
    62: "wrong host",
    64: "wrong host",
}


def _info(text: str) -> str:
    return " ".join(text.split())[:TECH_INFO_MAX]


def classify_ssl_error(
    exc: ssl.SSLError, server_hello_seen: bool | None = None
) -> TlsFailure | None:
    """The event a failed client handshake raises, or None when it is none of them (or
    cannot be told: see the module's note on ``handshake_failure``)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        message = exc.verify_message or exc.reason or "verification failed"
        problem = _VERIFY_PROBLEM.get(exc.verify_code or 0)
        if problem is None and ("Hostname mismatch" in message or "IP address" in message):
            problem = "wrong host"
        return TlsFailure(
            TlsFailureKind.CSMS_CERTIFICATE, _info(f"{problem or 'refused'}: {message}")
        )
    reason = exc.reason or ""
    if reason in _VERSION:
        return TlsFailure(TlsFailureKind.TLS_VERSION, _info(f"no TLS 1.2 or above: {reason}"))
    if reason in _CIPHER or (reason == _HANDSHAKE_FAILURE and server_hello_seen is False):
        return TlsFailure(
            TlsFailureKind.CIPHER_SUITE, _info(f"no allowed cipher suite in common: {reason}")
        )
    if reason in _CLIENT_REFUSED or (reason == _HANDSHAKE_FAILURE and server_hello_seen):
        return TlsFailure(
            TlsFailureKind.CLIENT_CERTIFICATE_REFUSED,
            _info(f"the charger's certificate was refused: {reason}"),
        )
    return None


def tls_failure_in(exc: BaseException | None) -> TlsFailure | None:
    """The TLS failure behind ``exc``: a ``tls_failure`` a link set on an exception of the
    chain, else a ``ssl.SSLError`` of the chain classified (a bounded walk)."""
    seen = exc
    for _ in range(8):
        if seen is None:
            return None
        failure = vars(seen).get("tls_failure")
        if isinstance(failure, TlsFailure):
            return failure
        if isinstance(seen, ssl.SSLError):
            return classify_ssl_error(seen)
        seen = seen.__cause__ or seen.__context__
    return None
