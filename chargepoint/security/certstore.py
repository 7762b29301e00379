"""Certificates of the OCPP 1.6 Security Whitepaper (edition 3), as pure computation.

The charger core keeps the installed certificates as PEM text by name (the store's
``security_objects`` table); this module parses, checks and describes them, makes
the charger's key pair and CSR, and checks firmware signatures.  No file is read
here: the shell reads files, the core hands text in.

- Hash data (WP§6.1 ed. 3, OCSP CertID of RFC 6960): the issuer Name's DER and the
  issuer key's subjectPublicKey BIT STRING value, hashed; the serial in hex without
  leading zeros (4095 -> ``FFF``).
- Chains (A02.FR.06, RFC 5280 §6 reduced to what a charger can check): every
  certificate inside its validity, each signed by the next, the last signed by an
  installed root (or being one of them).
- CSR (A02.FR.02/03/13): a NEW EC P-256 key (A00.FR.503), subject CN = the charge
  point id (A00.FR.511), O = CpoName, SHA-256 (A00.FR.506), PEM.
- Firmware signatures (L01.FR.04): over the entire file, SHA-256, RSA-PSS (salt
  length: the digest length or the maximum, both accepted: the WP does not say) or
  ECDSA (what EVerest's and most vendors' tooling produce).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

CERTIFICATE_USES: Final = ("CentralSystemRootCertificate", "ManufacturerRootCertificate")
"""CertificateUseEnumType (WP§6.4)."""
HASH_ALGORITHMS: Final = {
    "SHA256": hashlib.sha256,
    "SHA384": hashlib.sha384,
    "SHA512": hashlib.sha512,
}
MAX_CHAIN_CERTIFICATES: Final = 8
"""More certificates than this in one PEM text is refused (a chain is leaf + a few
sub-CAs; the text length is bounded by the schema and CertificateSignedMaxChainSize)."""
MAX_BUNDLE_CHARACTERS: Final = 1 << 20
"""A CA bundle longer than this is not one (as ``tlsfiles.MAX_PEM_BYTES`` for a file)."""
_PEM_BEGIN = "-----BEGIN CERTIFICATE-----"


class CertificateProblem(ValueError):
    """A certificate, chain, CSR or signature that breaks a whitepaper rule (the message
    names the rule; it never holds key material)."""


def load_chain(text: str, max_length: int = 10_000) -> list[x509.Certificate]:
    """The certificates of a PEM text, leaf first; bounded before parsing."""
    if len(text) > max_length:
        raise CertificateProblem(f"longer than {max_length} characters")
    if text.count(_PEM_BEGIN) > MAX_CHAIN_CERTIFICATES:
        raise CertificateProblem(f"more than {MAX_CHAIN_CERTIFICATES} certificates")
    return _parse_certificates(text)


def _parse_certificates(text: str) -> list[x509.Certificate]:
    """Every PEM certificate of a text already bounded by the caller; at least one."""
    if _PEM_BEGIN not in text:
        raise CertificateProblem("no PEM certificate (A00.FR.507)")
    try:
        return x509.load_pem_x509_certificates(text.encode())
    except ValueError as exc:
        raise CertificateProblem(f"not a PEM X.509 certificate: {exc}") from None


def load_bundle(text: str, max_length: int = MAX_BUNDLE_CHARACTERS) -> list[x509.Certificate]:
    """Every certificate of a CA bundle (the text of a ``--ca-file``: one root or a
    system's hundreds), bounded before parsing; at least one."""
    if len(text) > max_length:
        raise CertificateProblem(f"CA bundle longer than {max_length} characters")
    return _parse_certificates(text)


def load_one(text: str, max_length: int = 5500) -> x509.Certificate:
    chain = load_chain(text, max_length)
    if len(chain) != 1:
        raise CertificateProblem(f"{len(chain)} certificates where one is expected")
    return chain[0]


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def _key_bits(cert: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING's value (without the unused-bits octet)."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    raise CertificateProblem(f"unsupported key type {type(key).__name__} (A00.FR.501-503)")


def hash_data(
    cert: x509.Certificate, issuer: x509.Certificate, algorithm: str = "SHA256"
) -> dict[str, str]:
    """CertificateHashDataType (WP§6.1 ed. 3) of ``cert``; ``issuer`` is ``cert`` for a root."""
    digest = HASH_ALGORITHMS[algorithm]
    return {
        "hashAlgorithm": algorithm,
        "issuerNameHash": digest(cert.issuer.public_bytes()).hexdigest(),
        "issuerKeyHash": digest(_key_bits(issuer)).hexdigest(),
        "serialNumber": format(cert.serial_number, "X"),  # no leading zeros (WP§6.1)
    }


def same_hash_data(a: dict[str, str], b: dict[str, str]) -> bool:
    """Hash data compare case-insensitively (CiString, WP§6.1)."""
    keys = ("hashAlgorithm", "issuerNameHash", "issuerKeyHash", "serialNumber")
    return all(str(a.get(k, "")).lower() == str(b.get(k, "")).lower() for k in keys)


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def check_validity(cert: x509.Certificate, now: dt.datetime, what: str) -> None:
    if now < cert.not_valid_before_utc:
        raise CertificateProblem(f"{what} is not valid before {cert.not_valid_before_utc}")
    if now > cert.not_valid_after_utc:
        raise CertificateProblem(f"{what} expired on {cert.not_valid_after_utc}")


def check_key_strength(cert: x509.Certificate, what: str) -> None:
    """A00.FR.501-503: RSA >= 2048 bits, EC >= 224 bits."""
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
        raise CertificateProblem(f"{what}: RSA key of {key.key_size} bits (A00.FR.502)")
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.key_size < 224:
        raise CertificateProblem(f"{what}: EC key of {key.curve.key_size} bits (A00.FR.503)")


def check_chain(
    chain: list[x509.Certificate],
    roots: list[x509.Certificate],
    now: dt.datetime,
    use: str = "root certificate",
) -> None:
    """A02.FR.06: validity, properties, and membership of a trusted root's hierarchy.

    ``roots``: the installed ones (InstallCertificate, M05) and those given at start
    (``cpsim run --ca-file``); ``use`` names them (``CentralSystemRootCertificate``...)
    when there is none."""
    if not roots:
        raise CertificateProblem(
            f"no {use} is installed to check it against (InstallCertificate, "
            "or cpsim run --ca-file)"
        )
    for index, cert in enumerate(chain):
        what = "the certificate" if index == 0 else f"CA certificate {index}"
        check_validity(cert, now, what)
        check_key_strength(cert, what)
        if index + 1 < len(chain) and not signed_by(cert, chain[index + 1]):
            raise CertificateProblem(f"{what} is not signed by the next one in the chain")
    top = chain[-1]
    for root in roots:
        if top == root or signed_by(top, root):
            check_validity(root, now, "the root certificate")
            return
    raise CertificateProblem("the chain does not end at a trusted root (A02.FR.06)")


def issuer_in(cert: x509.Certificate, candidates: list[x509.Certificate]) -> x509.Certificate:
    """The certificate among ``candidates`` that signed ``cert``; ``cert`` itself when none
    does (a root, or an issuer not installed: its own key then stands in)."""
    for candidate in candidates:
        if candidate.subject == cert.issuer and signed_by(cert, candidate):
            return candidate
    return cert


# --- the charger's own key and certificate (A02) ----------------------------------------


def new_csr(charge_point_id: str, cpo_name: str) -> tuple[str, str]:
    """(private key PEM, CSR PEM): a NEW EC P-256 key, CN = id, O = CpoName (A02.FR.02/13)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, charge_point_id),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, cpo_name),
        ]
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return key_pem, csr.public_bytes(serialization.Encoding.PEM).decode()


def key_matches(cert: x509.Certificate, key_pem: str) -> bool:
    """Whether ``cert`` carries the public half of ``key_pem`` (the pending CSR's key)."""
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return key.public_key().public_bytes(der, spki) == cert.public_key().public_bytes(der, spki)


# --- firmware signatures (L01) ----------------------------------------------------------


def verify_firmware_signature(cert: x509.Certificate, signature_b64: str, data: bytes) -> bool:
    """L01.FR.04: the signature over the ENTIRE file, SHA-256, with the signing
    certificate's key: RSA-PSS (salt = digest length or maximum) or ECDSA."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    key = cert.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
            return True
        if isinstance(key, rsa.RSAPublicKey):
            for salt in (32, padding.PSS.MAX_LENGTH):
                try:
                    key.verify(
                        signature,
                        data,
                        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=salt),
                        hashes.SHA256(),
                    )
                    return True
                except InvalidSignature:
                    continue
    except InvalidSignature:
        return False
    return False
