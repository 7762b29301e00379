"""Certificate and key files are checked before anything is opened: each problem is one
line naming the file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey

from chargepoint.security.pki import (
    DevelopmentPki,
    cert_pem,
    issue,
    key_pem,
    new_key,
    write_private,
    write_public,
)
from chargepoint.security.tlsfiles import TlsFileError, check_ca, check_identity


def test_a_key_of_another_certificate_is_refused(pki: DevelopmentPki) -> None:
    cp1, cp2 = pki.chargers["CP001"], pki.chargers["CP002"]
    with pytest.raises(TlsFileError) as caught:
        check_identity(cp1.cert_path, cp2.key_path)
    assert str(caught.value) == (
        f"key file {cp2.key_path}: does not belong to certificate {cp1.cert_path}"
    )


def test_an_expired_certificate_is_refused(pki: DevelopmentPki, files: Path) -> None:
    ca_key = serialization.load_pem_private_key(pki.ca.key_path.read_bytes(), None)
    long_ago = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    key = new_key()
    assert isinstance(ca_key, EllipticCurvePrivateKey)
    cert, _ = issue(pki.ca.cert, ca_key, "CP001", client=True, days=30, now=long_ago, key=key)
    write_public(files / "old.pem", cert_pem(cert))
    write_private(files / "old-key.pem", key_pem(key))
    with pytest.raises(TlsFileError, match=r"old.pem: expired on 2020-01-31"):
        check_identity(files / "old.pem", files / "old-key.pem")


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "is a directory, not a PEM file"),
        (lambda p: p.write_text("hello"), "not a PEM certificate"),
    ],
)
def test_an_unusable_certificate_file_is_named(files: Path, make: object, problem: str) -> None:
    path = files / "cert.pem"
    make(path)  # type: ignore[operator]
    with pytest.raises(TlsFileError) as caught:
        check_ca(path)
    assert str(caught.value) == f"CA file {path}: {problem}"


def test_an_encrypted_or_garbage_key_is_named(pki: DevelopmentPki, files: Path) -> None:
    key = new_key()
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    write_private(files / "enc.pem", encrypted)
    cert = pki.chargers["CP001"].cert_path
    with pytest.raises(TlsFileError, match="is encrypted; give an unencrypted key"):
        check_identity(cert, files / "enc.pem")
    write_private(files / "junk.pem", b"-----BEGIN PRIVATE KEY-----\nAAAA\n")
    with pytest.raises(TlsFileError, match="junk.pem: not a PEM private key"):
        check_identity(cert, files / "junk.pem")
