"""The local CSMS as signing CA: what it signs, what it refuses, and its command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509

from chargepoint.cli import main
from chargepoint.csms.signing_ca import CsrRefused, load_signing_ca
from chargepoint.security import certstore
from chargepoint.security.pki import init_pki
from chargepoint.security.tlsfiles import TlsFileError


def test_it_signs_a_csr_for_the_charger_that_sent_it(tmp_path: Path) -> None:
    pki = init_pki(tmp_path, ("CP1",))
    ca = load_signing_ca(pki.ca.cert_path, pki.ca.key_path)
    key_pem, csr_pem = certstore.new_csr("CP1", "ACME")
    chain = certstore.load_chain(ca.sign(csr_pem, "CP1"))
    assert len(chain) == 2 and chain[1] == pki.ca.cert
    assert certstore.signed_by(chain[0], pki.ca.cert)
    assert certstore.key_matches(chain[0], key_pem)
    usage = chain[0].extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH in usage
    with pytest.raises(CsrRefused, match="CN is not the charge point id 'CP2'"):
        ca.sign(csr_pem, "CP2")
    with pytest.raises(CsrRefused, match="not a PEM certificate signing request"):
        ca.sign("garbage", "CP1")


def test_a_leaf_or_a_foreign_key_is_no_signing_ca(tmp_path: Path) -> None:
    pki = init_pki(tmp_path, ("CP1",))
    with pytest.raises(TlsFileError, match="not a CA certificate"):
        load_signing_ca(pki.chargers["CP1"].cert_path, pki.chargers["CP1"].key_path)
    with pytest.raises(TlsFileError, match="does not match the CA certificate"):
        load_signing_ca(pki.ca.cert_path, pki.csms.key_path)


def test_cli_usage_errors(tmp_path: Path) -> None:
    pki = init_pki(tmp_path, ("CP1",))
    alone = CliRunner().invoke(main, ["csms", "--signing-ca", str(pki.ca.cert_path)])
    assert alone.exit_code == 2 and "--signing-ca and --signing-key go together" in alone.output
    wrong = CliRunner().invoke(
        main,
        ["csms", "--signing-ca", str(pki.ca.cert_path), "--signing-key", str(pki.csms.key_path)],
    )
    assert wrong.exit_code == 2 and "does not match the CA certificate" in wrong.output
    assert "PRIVATE KEY" not in wrong.output
