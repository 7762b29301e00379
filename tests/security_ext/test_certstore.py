"""certstore: hash data (checked against openssl), chains, CSRs, firmware signatures."""

from __future__ import annotations

import base64
import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.x509.oid import NameOID

from chargepoint.security import certstore
from chargepoint.security.certstore import CertificateProblem
from security_ext.pkihelp import NOW, ca, leaf_for, pem, rsa_root


def _openssl_cert_id(tmp_path: Path, cert: x509.Certificate) -> tuple[str, str]:
    """(issuerNameHash, issuerKeyHash) of a self-signed ``cert`` as openssl's OCSP CertID."""
    path = tmp_path / "c.pem"
    path.write_text(pem(cert))
    out = subprocess.run(
        [
            "openssl",
            "ocsp",
            "-issuer",
            path,
            "-sha256",  # before -cert: it applies to the certificates that follow
            "-cert",
            path,
            "-no_nonce",
            "-req_text",
            "-reqout",
            tmp_path / "req.der",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    name = re.search(r"Issuer Name Hash: ([0-9A-F]+)", out)
    key = re.search(r"Issuer Key Hash: ([0-9A-F]+)", out)
    assert name and key, out
    return name.group(1).lower(), key.group(1).lower()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_hash_data_equals_openssl_ocsp_cert_id(tmp_path: Path, kind: str) -> None:
    cert = ca()[0] if kind == "ec" else rsa_root(4095)[0]
    data = certstore.hash_data(cert, cert)
    assert (data["issuerNameHash"], data["issuerKeyHash"]) == _openssl_cert_id(tmp_path, cert)


def test_serial_number_has_no_leading_zeros() -> None:
    cert, _ = rsa_root(4095)  # openssl prints it 0FFF; WP§6.1 ed. 3 wants FFF
    assert certstore.hash_data(cert, cert)["serialNumber"] == "FFF"


def test_sha384_and_sha512_hash_lengths() -> None:
    cert, _ = ca()
    assert len(certstore.hash_data(cert, cert, "SHA384")["issuerNameHash"]) == 96
    assert len(certstore.hash_data(cert, cert, "SHA512")["issuerKeyHash"]) == 128


def test_hash_data_compare_ignores_case() -> None:
    cert, _ = ca()
    data = certstore.hash_data(cert, cert)
    upper = {k: v.upper() for k, v in data.items()}
    assert certstore.same_hash_data(data, upper)
    assert not certstore.same_hash_data(data, {**data, "serialNumber": "1"})


def test_csr_subject_and_key_match() -> None:
    key_pem, csr_pem = certstore.new_csr("CP1", "ACME CPO")
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP1"
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "ACME CPO"
    root, root_key = ca()
    leaf = leaf_for(csr_pem, root, root_key)
    assert certstore.key_matches(leaf, key_pem)
    other_key, _ = certstore.new_csr("CP1", "ACME CPO")
    assert not certstore.key_matches(leaf, other_key)


def test_chain_to_an_installed_root() -> None:
    root, root_key = ca()
    _, csr_pem = certstore.new_csr("CP1", "O")
    leaf = leaf_for(csr_pem, root, root_key)
    certstore.check_chain([leaf], [root], NOW)
    certstore.check_chain([leaf, root], [root], NOW)
    stranger, _ = ca("another root")
    with pytest.raises(CertificateProblem, match="does not end at a trusted root"):
        certstore.check_chain([leaf], [stranger], NOW)
    with pytest.raises(CertificateProblem, match="expired"):
        certstore.check_chain([leaf], [root], NOW + dt.timedelta(days=400))
    with pytest.raises(CertificateProblem, match="no root"):
        certstore.check_chain([leaf], [], NOW)


def test_load_chain_bounds() -> None:
    root, _ = ca()
    with pytest.raises(CertificateProblem, match="longer than 10"):
        certstore.load_chain(pem(root), max_length=10)
    with pytest.raises(CertificateProblem, match="more than"):
        certstore.load_chain(pem(root) * 9)
    with pytest.raises(CertificateProblem, match="no PEM"):
        certstore.load_chain("hello")


def test_firmware_signature_ecdsa_and_rsa_pss() -> None:
    data = b"firmware image" * 1000
    root, root_key = ca()
    assert isinstance(root_key, ec.EllipticCurvePrivateKey)
    sig = base64.b64encode(root_key.sign(data, ec.ECDSA(hashes.SHA256()))).decode()
    assert certstore.verify_firmware_signature(root, sig, data)
    assert not certstore.verify_firmware_signature(root, sig, data + b"!")
    assert not certstore.verify_firmware_signature(root, "not base64!", data)
    rsa_cert, rsa_key = rsa_root(7)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    sig = base64.b64encode(rsa_key.sign(data, pss, hashes.SHA256())).decode()
    assert certstore.verify_firmware_signature(rsa_cert, sig, data)
    assert not certstore.verify_firmware_signature(rsa_cert, sig, data[:-1])
