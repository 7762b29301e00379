"""Certificates for the security-extension tests, at the core harness's time (2030)."""

from __future__ import annotations

import datetime as dt

from core.harness import T0  # tests/ is on sys.path (rootdir packages)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from chargepoint.security.pki import make_ca

NOW = dt.datetime.fromtimestamp(T0, dt.UTC)


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def ca(name: str = "test root") -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    return make_ca(name, now=NOW)


def rsa_root(serial: int) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A self-signed RSA-2048 root with a chosen serial (to see leading zeros go)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rsa root")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def leaf_for(
    csr_pem: str,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    days: int = 365,
    start: dt.datetime = NOW,
) -> x509.Certificate:
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    return (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca_cert.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - dt.timedelta(minutes=1))
        .not_valid_after(start + dt.timedelta(days=days))
        .sign(ca_key, hashes.SHA256())
    )
