"""Certificate and key files for TLS, checked before anything is opened.

A missing, unreadable or malformed file, a key that does not belong to its
certificate, a certificate that has expired or is not yet valid: each is a
:class:`TlsFileError` naming the file and the problem, raised while the command
line is read, so a charger never dials a CSMS with a configuration that can only
fail (issue: "a usage error naming the file and the problem before anything is
opened").  Key material never appears in a message.
"""

from __future__ import annotations

import datetime as dt
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

MAX_PEM_BYTES = 1 << 20
"""A PEM file larger than this is not a certificate chain or a key (bounded before read)."""

MIN_TLS = ssl.TLSVersion.TLSv1_2
"""A00.FR.306/406 (Security Whitepaper): TLS 1.2 or above."""


class TlsFileError(ValueError):
    """A certificate or key file that cannot be used; the message names it."""


def _read(path: Path, what: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_PEM_BYTES:
            raise TlsFileError(f"{what} {path}: {size} bytes is too large for a PEM file")
        return path.read_bytes()
    except FileNotFoundError:
        raise TlsFileError(f"{what} {path}: no such file") from None
    except IsADirectoryError:
        raise TlsFileError(f"{what} {path}: is a directory, not a PEM file") from None
    except PermissionError:
        raise TlsFileError(f"{what} {path}: not readable (permission denied)") from None
    except OSError as exc:
        raise TlsFileError(f"{what} {path}: cannot be read ({exc.strerror})") from None


def load_certificates(path: Path, what: str = "certificate file") -> list[x509.Certificate]:
    """Every certificate of a PEM file (a CA bundle or a chain), at least one."""
    data = _read(path, what)
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise TlsFileError(f"{what} {path}: not a PEM certificate") from None
    return certs


def load_private_key(path: Path) -> PrivateKeyTypes:
    data = _read(path, "key file")
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise TlsFileError(f"key file {path}: is encrypted; give an unencrypted key") from None
    except ValueError:
        raise TlsFileError(f"key file {path}: not a PEM private key") from None
    except Exception:  # cryptography's unsupported-algorithm errors and the like
        raise TlsFileError(f"key file {path}: not a key this charger can use") from None


def check_validity(cert: x509.Certificate, path: Path, now: dt.datetime) -> None:
    if now < cert.not_valid_before_utc:
        raise TlsFileError(
            f"certificate {path}: not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
            " (is this machine's clock right?)"
        )
    if now >= cert.not_valid_after_utc:
        raise TlsFileError(
            f"certificate {path}: expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
        )


@dataclass(frozen=True)
class TlsIdentity:
    """A certificate (with its chain) and the private key that belongs to it."""

    cert_path: Path
    key_path: Path
    certificate: x509.Certificate


def check_identity(cert_path: Path, key_path: Path, now: dt.datetime | None = None) -> TlsIdentity:
    """The certificate must be valid now and the key must be its key."""
    now = now or dt.datetime.now(dt.UTC)
    chain = load_certificates(cert_path, "certificate")
    leaf = chain[0]
    check_validity(leaf, cert_path, now)
    key = load_private_key(key_path)
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, public) != leaf.public_key().public_bytes(der, public):
        raise TlsFileError(f"key file {key_path}: does not belong to certificate {cert_path}")
    return TlsIdentity(cert_path, key_path, leaf)


def check_ca(path: Path, now: dt.datetime | None = None) -> list[x509.Certificate]:
    """A CA file with at least one certificate valid now."""
    now = now or dt.datetime.now(dt.UTC)
    certs = load_certificates(path, "CA file")
    valid = [c for c in certs if c.not_valid_before_utc <= now < c.not_valid_after_utc]
    if not valid:
        check_validity(certs[0], path, now)  # says which way it is out of date
    return valid


def client_context(ca_file: Path | None, identity: TlsIdentity | None = None) -> ssl.SSLContext:
    """TLS 1.2+ with the server's certificate verified (against ``ca_file``, else the
    system's CAs) and its host name checked (A00.FR.307/308, A00.FR.407/408);
    with ``identity``, the client certificate of security profile 3."""
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    context.minimum_version = MIN_TLS
    # Every certificate given as trusted is an anchor, self-signed or not (Python 3.13's
    # default): a CSMS root installed under AdditionalRootCertificateCheck is signed by
    # the root it replaces (M05), and is trusted alone once that one is removed.
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    if identity is not None:
        context.load_cert_chain(str(identity.cert_path), str(identity.key_path))
    return context


def server_context(identity: TlsIdentity, client_ca: Path | None = None) -> ssl.SSLContext:
    """The local CSMS's side: its certificate; with ``client_ca`` a client certificate
    signed by it is required (security profile 3)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = MIN_TLS
    context.load_cert_chain(str(identity.cert_path), str(identity.key_path))
    if client_ca is not None:
        context.load_verify_locations(cafile=str(client_ca))
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def describe_tls_failure(exc: BaseException, server_hello_seen: bool | None = None) -> str:
    """One line a technician can act on, for a failed handshake.  ``server_hello_seen``
    False: the CSMS refused the charger's first message (no suite in common), which a
    TLS 1.2 ``handshake_failure`` alert alone does not tell (security/tlsfailure.py)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or exc.reason or "verification failed"
        hints = {
            # the CSMS sent its CA with its certificate, and that CA is not ours
            "self-signed certificate in certificate chain": (
                "the CSMS's certificate chain ends at a CA not given with --ca-file"
            ),
            "unable to get local issuer certificate": (
                "the CSMS's certificate is not signed by a CA given with --ca-file"
            ),
            "self-signed certificate": "the CSMS's certificate is self-signed and not trusted",
            "self signed certificate": "the CSMS's certificate is self-signed and not trusted",
            "certificate has expired": "the CSMS's certificate has expired",
            "certificate is not yet valid": (
                "the CSMS's certificate is not valid yet (is the clock right?)"
            ),
        }
        for key, hint in hints.items():
            if key in reason:
                return f"TLS: {hint} ({reason})"
        if "Hostname mismatch" in reason or "IP address mismatch" in reason:
            return f"TLS: the CSMS's certificate is for another host name ({reason})"
        return f"TLS: the CSMS's certificate was refused ({reason})"
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or str(exc)
        if reason == "SSLV3_ALERT_HANDSHAKE_FAILURE" and server_hello_seen is False:
            return f"TLS: the CSMS offers no cipher suite the charger allows ({reason})"
        if reason in ("TLSV13_ALERT_CERTIFICATE_REQUIRED", "SSLV3_ALERT_HANDSHAKE_FAILURE"):
            return (
                f"TLS: the CSMS refused the handshake ({reason}): "
                "does it require a client certificate (security profile 3)?"
            )
        if reason in ("TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL"):
            return f"TLS: the CSMS offers no TLS 1.2 or above ({reason})"
        if reason in ("NO_SHARED_CIPHER", "NO_CIPHERS_AVAILABLE", "WRONG_CIPHER_RETURNED"):
            return f"TLS: the CSMS offers no cipher suite the charger allows ({reason})"
        if "WRONG_VERSION_NUMBER" in reason or "RECORD_LAYER_FAILURE" in reason:
            return f"TLS: the server did not answer in TLS ({reason}): is it plain ws://?"
        return f"TLS: handshake failed ({reason})"
    return f"TLS: {exc}"
