"""A development PKI for security profiles 2 and 3: one CA, a CSMS certificate, charger
certificates.  ``cpsim pki init DIR`` writes it; the tests and the demo use it.

What the whitepaper asks of the certificates is followed, so a real CSMS that
checks them accepts ours: a charger certificate's subject is CN = the charge point
id and O = CpoName (A00.FR.403/404, A02.FR.13); keys are EC P-256 (A00.FR.503 allows
RSA >= 2048 or EC >= 224 bits); signatures SHA-256.  The CSMS certificate names
``localhost`` and ``127.0.0.1`` in its subjectAltName, where TLS clients look.

Private keys are written mode 0600 (and never printed); certificates 0644.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = ec.EllipticCurvePrivateKey

DEFAULT_DAYS = 825
"""Validity of the leaf certificates (the CA/Browser Forum's old maximum; long enough
for development, short enough that nobody mistakes these for production ones)."""
CA_DAYS = 3650


@dataclass(frozen=True)
class Issued:
    """A certificate and its key, as written."""

    cert_path: Path
    key_path: Path
    cert: x509.Certificate


def new_key() -> PrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def _builder(
    subject: x509.Name, issuer: x509.Name, key: PrivateKey, days: int, now: dt.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))  # a clock a little behind still works
        .not_valid_after(now + dt.timedelta(days=days))
    )


def make_ca(
    name: str = "cpsim development CA", now: dt.datetime | None = None
) -> tuple[x509.Certificate, PrivateKey]:
    now = now or dt.datetime.now(dt.UTC)
    key = new_key()
    subject = _name(name, "cpsim")
    cert = (
        _builder(subject, subject, key, CA_DAYS, now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def issue(
    ca_cert: x509.Certificate,
    ca_key: PrivateKey,
    common_name: str,
    *,
    organization: str | None = None,
    server_names: tuple[str, ...] = (),
    client: bool = False,
    days: int = DEFAULT_DAYS,
    now: dt.datetime | None = None,
    key: PrivateKey | None = None,
) -> tuple[x509.Certificate, PrivateKey]:
    """A leaf certificate signed by the CA: a TLS server's (``server_names`` go into the
    subjectAltName, IP addresses as such) or a TLS client's (``client``)."""
    now = now or dt.datetime.now(dt.UTC)
    key = key or new_key()
    usage = [ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]
    builder = (
        _builder(_name(common_name, organization), ca_cert.subject, key, days, now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server_names:
        alt: list[x509.GeneralName] = []
        for name in server_names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt.append(x509.DNSName(name))
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_private(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 from the start (no window where it is readable)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def write_public(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o644)


@dataclass(frozen=True)
class DevelopmentPki:
    """The files of ``cpsim pki init DIR``."""

    directory: Path
    ca: Issued
    csms: Issued
    chargers: dict[str, Issued]


def init_pki(
    directory: Path,
    charge_point_ids: tuple[str, ...] = ("CP001",),
    cpo_name: str = "cpsim",
    csms_names: tuple[str, ...] = ("localhost", "127.0.0.1"),
    now: dt.datetime | None = None,
) -> DevelopmentPki:
    """Write ``ca.pem`` / ``ca-key.pem``, ``csms.pem`` / ``csms-key.pem`` and, per charger,
    ``<id>.pem`` / ``<id>-key.pem`` into ``directory`` (created 0700)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca_cert, ca_key = make_ca(now=now)
    ca = _write(directory, "ca", ca_cert, ca_key)
    csms_cert, csms_key = issue(ca_cert, ca_key, csms_names[0], server_names=csms_names, now=now)
    csms = _write(directory, "csms", csms_cert, csms_key)
    chargers = {}
    for cp_id in charge_point_ids:
        cert, key = issue(ca_cert, ca_key, cp_id, organization=cpo_name, client=True, now=now)
        chargers[cp_id] = _write(directory, cp_id, cert, key)
    return DevelopmentPki(directory, ca, csms, chargers)


def _write(directory: Path, stem: str, cert: x509.Certificate, key: PrivateKey) -> Issued:
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}-key.pem"
    write_public(cert_path, cert_pem(cert))
    write_private(key_path, key_pem(key))
    return Issued(cert_path, key_path, cert)
