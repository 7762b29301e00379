"""The local CSMS as the CA that signs a charger's CSR (Security Whitepaper A02), so a
whole certificate renewal runs locally: SignCertificate -> Accepted, then a
CertificateSigned with the new certificate followed by the CA's (the chain).

The CSR is checked before signing: its own signature, a CN (the charge point id,
A00.FR.511) and the id it came from (a charger asks for its own certificate only),
and, when the CA is given the CPO's name, its O (A02.FR.13).
The certificate is a client certificate (extendedKeyUsage clientAuth), SHA-256,
valid from a minute ago for ``days`` days.  The CA's key is given as a file (never
logged); :func:`load_signing_ca` names the file and the problem when it is unusable.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from chargepoint.security.tlsfiles import TlsFileError, load_certificates, load_private_key

CSR_MAX: Final = 5500
"""SignCertificate.req csr: string[0..5500] (WP§5.17)."""
DEFAULT_DAYS: Final = 365


class CsrRefused(ValueError):
    """A CSR the signing CA will not sign (the message names the rule)."""


@dataclass(frozen=True)
class SigningCa:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    days: int = DEFAULT_DAYS
    organization: str | None = None
    """When set, the O a CSR must carry: the CPO's name (CpoName, A02.FR.13)."""
    issued: list[x509.Certificate] = field(default_factory=list, compare=False, repr=False)
    """Every certificate signed, oldest first (a scenario checks the charger presents the
    last one on its next connection)."""

    @property
    def last_issued(self) -> x509.Certificate | None:
        return self.issued[-1] if self.issued else None

    def sign(self, csr_pem: str, charge_point_id: str, now: dt.datetime | None = None) -> str:
        """The PEM chain (new certificate, then the CA) for ``csr_pem``."""
        if len(csr_pem) > CSR_MAX:
            raise CsrRefused(f"CSR longer than {CSR_MAX} characters")
        try:
            csr = x509.load_pem_x509_csr(csr_pem.encode())
        except ValueError:
            raise CsrRefused("not a PEM certificate signing request (A02.FR.03)") from None
        if not csr.is_signature_valid:
            raise CsrRefused("the CSR's signature does not verify")
        names = [a.value for a in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        if names != [charge_point_id]:
            raise CsrRefused(f"the CSR's CN is not the charge point id {charge_point_id!r}")
        orgs = [a.value for a in csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
        if self.organization is not None and orgs != [self.organization]:
            raise CsrRefused(f"the CSR's O is not the CPO's name {self.organization!r} (A02.FR.13)")
        now = now or dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.cert.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=self.days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.issued.append(cert)
        return "".join(
            c.public_bytes(serialization.Encoding.PEM).decode() for c in (cert, self.cert)
        )


def load_signing_ca(
    cert_path: Path, key_path: Path, days: int = DEFAULT_DAYS, organization: str | None = None
) -> SigningCa:
    """The CA of ``cpsim csms --signing-ca CERT --signing-key KEY``; TlsFileError naming
    the file and the problem."""
    cert = load_certificates(cert_path, "signing CA certificate")[0]
    key = load_private_key(key_path)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise TlsFileError(f"key file {key_path}: not an EC or RSA key")
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if key.public_key().public_bytes(der, spki) != cert.public_key().public_bytes(der, spki):
        raise TlsFileError(f"key file {key_path}: does not match the CA certificate {cert_path}")
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if not is_ca:
        raise TlsFileError(f"signing CA certificate {cert_path}: not a CA certificate")
    return SigningCa(cert, key, days, organization)
