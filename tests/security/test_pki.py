"""``init_pki``: what a CSMS and a charger need for security profiles 2 and 3."""

from __future__ import annotations

import stat

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from chargepoint.security.pki import DevelopmentPki
from chargepoint.security.tlsfiles import check_ca, check_identity


def mode(path: object) -> int:
    return stat.S_IMODE(path.stat().st_mode)  # type: ignore[attr-defined]


def test_keys_are_private_and_certificates_public(pki: DevelopmentPki) -> None:
    assert mode(pki.directory) == 0o700
    for issued in (pki.ca, pki.csms, *pki.chargers.values()):
        assert mode(issued.key_path) == 0o600
        assert mode(issued.cert_path) == 0o644
        check_identity(issued.cert_path, issued.key_path)  # each key belongs to its cert


def test_charger_certificates_name_the_charger_and_the_cpo(pki: DevelopmentPki) -> None:
    cert = pki.chargers["CP002"].cert
    subject = cert.subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP002"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "ACME"
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usage
    assert cert.issuer == pki.ca.cert.subject


def test_the_csms_certificate_names_localhost_and_its_address(pki: DevelopmentPki) -> None:
    alt = pki.csms.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert alt.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in alt.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert check_ca(pki.ca.cert_path) == [pki.ca.cert]


def test_cpsim_pki_init_writes_the_files_and_refuses_a_used_dir(tmp_path: object) -> None:
    from pathlib import Path

    from click.testing import CliRunner

    from chargepoint.cli import main

    target = Path(str(tmp_path)) / "pki"
    result = CliRunner().invoke(main, ["pki", "init", str(target), "--cp-id", "CP7"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in target.iterdir()) == [
        "CP7-key.pem",
        "CP7.pem",
        "ca-key.pem",
        "ca.pem",
        "csms-key.pem",
        "csms.pem",
    ]
    assert "PRIVATE KEY" not in result.output
    again = CliRunner().invoke(main, ["pki", "init", str(target)])
    assert again.exit_code == 2 and "not empty; give a new directory" in again.output
