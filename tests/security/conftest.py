from __future__ import annotations

from pathlib import Path

import pytest

from chargepoint.security.pki import DevelopmentPki, init_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevelopmentPki:
    return init_pki(tmp_path_factory.mktemp("pki"), ("CP001", "CP002"), cpo_name="ACME")


@pytest.fixture(scope="session")
def other_pki(tmp_path_factory: pytest.TempPathFactory) -> DevelopmentPki:
    """A second CA: its certificates must be refused by anyone trusting the first."""
    return init_pki(tmp_path_factory.mktemp("other-pki"), ("CP001",))


@pytest.fixture
def files(tmp_path: Path) -> Path:
    return tmp_path
