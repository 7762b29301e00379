"""A development PKI (two CAs: the trusted one and another) shared by the TLS tests."""

from __future__ import annotations

import pytest

from chargepoint.security.pki import DevelopmentPki, init_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevelopmentPki:
    return init_pki(tmp_path_factory.mktemp("pki"), ("CP001", "CP002"), cpo_name="ACME")


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> DevelopmentPki:
    """A second CA: a CSMS certificate it signed must be refused by a charger trusting
    the first."""
    return init_pki(tmp_path_factory.mktemp("other-pki"), ("CP001",))
