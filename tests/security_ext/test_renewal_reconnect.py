"""After an accepted CertificateSigned on profile 3 the charger closes and connects again,
so the CSMS sees the new certificate at once (A02.FR.08; EVerest reconnects, ocpp16-profiles.md
§6.5); on profiles below 3 the certificate is not the login and nothing is closed."""

from __future__ import annotations

import pytest
from core.harness import Harness

from security_ext.pkihelp import ca, leaf_for, pem
from security_ext.test_core_certificates import install, request_csr


def renew(profile: str) -> Harness:
    h = Harness(
        config={"CpoName": "ACME CPO", "SecurityProfile": profile},
        tls_files=frozenset({"ca", "cert"}),
    )
    h.boot()
    root, root_key = ca()
    install(h, root)
    leaf = leaf_for(request_csr(h), root, root_key)
    answer = h.csms_call("CertificateSigned", {"certificateChain": pem(leaf) + pem(root)})
    assert answer[2] == {"status": "Accepted"}
    return h


def test_profile_3_reconnects_after_the_answer() -> None:
    h = renew("3")
    assert not h.closed  # the answer goes first
    h.advance(1)
    assert [c.reason for c in h.closed] == ["charger certificate renewed"]
    h.advance(60)
    assert len(h.closed) == 1  # once


@pytest.mark.parametrize("profile", ["0", "1", "2"])
def test_below_profile_3_nothing_is_closed(profile: str) -> None:
    h = renew(profile)
    h.advance(60)
    assert not h.closed
