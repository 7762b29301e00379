"""The charger core's certificate calls (WP M03-M05, A02/A03), fed as CSMS CALL frames."""

from __future__ import annotations

from typing import Any

from core.harness import Harness
from cryptography import x509
from cryptography.x509.oid import NameOID

from chargepoint.core.certificates import charger_certificate
from chargepoint.security import certstore
from security_ext.pkihelp import ca, leaf_for, pem

CS_ROOT = "CentralSystemRootCertificate"
MF_ROOT = "ManufacturerRootCertificate"


def charger(**config: str) -> Harness:
    h = Harness(config={"CpoName": "ACME CPO", "SecurityExtension": "true", **config})
    h.boot()
    return h


def install(h: Harness, cert: x509.Certificate, use: str = CS_ROOT) -> str:
    answer = h.csms_call("InstallCertificate", {"certificateType": use, "certificate": pem(cert)})
    return str(answer[2]["status"])


def queued_events(h: Harness) -> list[dict[str, Any]]:
    """SecurityEventNotification payloads sent or still queued, in order."""
    sent = [f[3] for f in h.calls("SecurityEventNotification")]
    kept = [p for a, p in h.store.queued() if a == "SecurityEventNotification"]
    return sent + [p for p in kept if p not in sent]


def test_install_list_and_delete_a_root() -> None:
    h = charger()
    root, _ = ca()
    assert install(h, root) == "Accepted"
    answer = h.csms_call("GetInstalledCertificateIds", {"certificateType": CS_ROOT})[2]
    assert answer == {
        "status": "Accepted",
        "certificateHashData": [certstore.hash_data(root, root)],
    }
    empty = h.csms_call("GetInstalledCertificateIds", {"certificateType": MF_ROOT})[2]
    assert empty == {"status": "NotFound"}
    data = certstore.hash_data(root, root)
    assert h.csms_call("DeleteCertificate", {"certificateHashData": data})[2] == {
        "status": "Accepted"
    }
    assert h.csms_call("DeleteCertificate", {"certificateHashData": data})[2] == {
        "status": "NotFound"
    }
    assert not [n for n in h.store.security if n.startswith("ca:")]


def test_installed_roots_survive_a_power_loss() -> None:
    h = charger()
    root, _ = ca()
    install(h, root, MF_ROOT)
    after = h.power_loss()
    after.boot()
    answer = after.csms_call("GetInstalledCertificateIds", {"certificateType": MF_ROOT})[2]
    assert answer["certificateHashData"] == [certstore.hash_data(root, root)]


def test_invalid_certificate_and_a_full_store_are_rejected() -> None:
    h = charger(CertificateStoreMaxLength="1")
    bad = h.csms_call(
        "InstallCertificate", {"certificateType": CS_ROOT, "certificate": "not a certificate"}
    )
    assert bad[2] == {"status": "Rejected"}
    assert install(h, ca("one")[0]) == "Accepted"
    assert install(h, ca("two")[0], MF_ROOT) == "Rejected"  # M05.FR.03/06
    assert [n for n in h.store.security if n.startswith("ca:")] == [
        n for n in h.store.security if CS_ROOT in n
    ]


def test_additional_root_check_wants_the_new_root_signed_by_the_old() -> None:
    h = charger(AdditionalRootCertificateCheck="true")
    old, _ = ca("old")
    assert install(h, old) == "Accepted"
    assert install(h, ca("unrelated")[0]) == "Rejected"  # M05.FR.09


def test_the_charger_own_certificate_cannot_be_deleted() -> None:
    h, leaf, root = renewed()
    data = certstore.hash_data(leaf, root)
    assert h.csms_call("DeleteCertificate", {"certificateHashData": data})[2] == {
        "status": "Failed"
    }  # M04.FR.05
    assert "cp:cert" in h.store.security


def test_root_in_use_cannot_be_deleted() -> None:
    h = charger(SecurityProfile="2")
    root, _ = ca()
    install(h, root)
    data = certstore.hash_data(root, root)
    assert h.csms_call("DeleteCertificate", {"certificateHashData": data})[2] == {
        "status": "Failed"
    }  # M04.FR.06


# --- SignCertificate / CertificateSigned (A02) ---------------------------------------


def request_csr(h: Harness) -> str:
    answer = h.csms_call(
        "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}
    )
    assert answer[2] == {"status": "Accepted"}
    call = h.answer_until("SignCertificate")
    h.answer({"status": "Accepted"})
    return str(call[3]["csr"])


def renewed() -> tuple[Harness, x509.Certificate, x509.Certificate]:
    h = charger()
    root, root_key = ca()
    install(h, root)
    leaf = leaf_for(request_csr(h), root, root_key)
    answer = h.csms_call("CertificateSigned", {"certificateChain": pem(leaf) + pem(root)})
    assert answer[2] == {"status": "Accepted"}
    return h, leaf, root


def test_sign_certificate_sends_a_csr_for_this_charger() -> None:
    h = charger()
    csr = x509.load_pem_x509_csr(request_csr(h).encode())
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP1"
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "ACME CPO"
    assert "PRIVATE KEY" in h.store.security["cp:pending_key"]


def test_without_cpo_name_the_trigger_is_rejected() -> None:
    h = Harness()
    h.boot()
    answer = h.csms_call(
        "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}
    )
    assert answer[2] == {"status": "Rejected"}
    assert not h.calls("SignCertificate")


def test_certificate_signed_stores_the_certificate_and_its_key() -> None:
    h, leaf, _ = renewed()
    stored = certstore.load_chain(h.store.security["cp:cert"])
    assert stored[0] == leaf
    assert certstore.key_matches(leaf, h.store.security["cp:key"])
    assert "cp:pending_key" not in h.store.security
    pair = charger_certificate(h.store.load().security)
    assert pair is not None and pair[0].startswith("-----BEGIN CERTIFICATE-----")


def test_a_certificate_for_another_key_is_rejected_with_an_event() -> None:
    h = charger()
    root, root_key = ca()
    install(h, root)
    request_csr(h)
    _, other_csr = certstore.new_csr("CP1", "ACME CPO")
    leaf = leaf_for(other_csr, root, root_key)
    answer = h.csms_call("CertificateSigned", {"certificateChain": pem(leaf)})
    assert answer[2] == {"status": "Rejected"}
    assert "cp:cert" not in h.store.security
    h.answer_all()
    event = queued_events(h)[-1]
    assert event["type"] == "InvalidChargePointCertificate"
    assert "pending CSR" in event["techInfo"]


def test_without_an_installed_csms_root_the_rejection_names_what_to_install() -> None:
    """No root installed nor given (--ca-file): the event tells the CSMS what is missing."""
    h = charger()
    root, root_key = ca()
    leaf = leaf_for(request_csr(h), root, root_key)
    answer = h.csms_call("CertificateSigned", {"certificateChain": pem(leaf) + pem(root)})
    assert answer[2] == {"status": "Rejected"}
    h.answer_all()
    event = queued_events(h)[-1]
    assert event["type"] == "InvalidChargePointCertificate"
    assert "no CentralSystemRootCertificate is installed" in event["techInfo"]


def test_a_chain_from_another_root_or_too_long_is_rejected() -> None:
    h = charger(CertificateSignedMaxChainSize="1000")
    root, _ = ca()
    install(h, root)
    stranger, stranger_key = ca("stranger")
    leaf = leaf_for(request_csr(h), stranger, stranger_key)
    assert h.csms_call("CertificateSigned", {"certificateChain": pem(leaf)})[2] == {
        "status": "Rejected"
    }
    long_chain = pem(leaf) + pem(root)
    assert len(long_chain) > 1000
    assert h.csms_call("CertificateSigned", {"certificateChain": long_chain}, uid="c2")[2] == {
        "status": "Rejected"
    }


def test_a_certificate_expiring_within_a_month_is_renewed_at_boot() -> None:
    h, _, root = renewed()
    h.answer_all()
    later = h.power_loss(after=340 * 24 * 3600)  # the 365-day certificate has 25 days left
    later.boot(settle=False)
    call = later.answer_until("SignCertificate")
    assert "CERTIFICATE REQUEST" in call[3]["csr"]
