"""What ``cpsim run`` gives the core from its files at start (issue 13 audit G2, G3): the
``--ca-file`` roots as CertificateSigned trust anchors (A02.FR.06), and the ``--cert``
certificate's notAfter for the renewal a month before expiry (A03.FR.02)."""

from __future__ import annotations

from core.harness import T0, Harness, MemoryStore

from chargepoint.security import certstore
from security_ext.pkihelp import ca, leaf_for, pem

CS_ROOT = "CentralSystemRootCertificate"
DAY = 24 * 3600


def charger(**settings: object) -> Harness:
    h = Harness(config={"CpoName": "ACME CPO", "SecurityExtension": "true"}, **settings)
    h.boot(interval=10**7)  # no Heartbeat in the way over the days a test skips
    return h


def request_csr(h: Harness) -> str:
    answer = h.csms_call(
        "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}
    )
    assert answer[2] == {"status": "Accepted"}
    call = h.answer_until("SignCertificate")
    h.answer({"status": "Accepted"})
    return str(call[3]["csr"])


# --- G3: the --ca-file roots are trust anchors for CertificateSigned ----------------------


def test_a_chain_to_the_given_ca_file_root_is_accepted_without_install_certificate() -> None:
    root, root_key = ca()
    other, _ = ca("another root in the bundle")
    h = charger(given_csms_roots=pem(other) + pem(root))
    leaf = leaf_for(request_csr(h), root, root_key)
    answer = h.csms_call("CertificateSigned", {"certificateChain": pem(leaf) + pem(root)})
    assert answer[2] == {"status": "Accepted"}
    assert certstore.load_chain(h.store.security["cp:cert"])[0] == leaf
    # trusted, not installed over OCPP: GetInstalledCertificateIds lists none (M03)
    listed = h.csms_call("GetInstalledCertificateIds", {"certificateType": CS_ROOT}, uid="c2")
    assert listed[2] == {"status": "NotFound"}


def test_a_chain_to_a_root_not_in_the_ca_file_is_still_rejected() -> None:
    given, _ = ca("given root")
    stranger, stranger_key = ca("stranger")
    h = charger(given_csms_roots=pem(given))
    leaf = leaf_for(request_csr(h), stranger, stranger_key)
    answer = h.csms_call("CertificateSigned", {"certificateChain": pem(leaf)})
    assert answer[2] == {"status": "Rejected"}  # A02.FR.07
    assert "cp:cert" not in h.store.security


# --- G2: the --cert certificate is renewed a month before it expires ---------------------


def test_a_given_certificate_expiring_within_a_month_is_renewed_at_boot() -> None:
    h = Harness(config={"CpoName": "ACME CPO"}, given_certificate_expiry=T0 + 20 * DAY)
    h.boot(settle=False)
    call = h.answer_until("SignCertificate")
    assert "CERTIFICATE REQUEST" in call[3]["csr"]


def test_a_given_certificate_is_renewed_when_the_harness_clock_reaches_its_last_month() -> None:
    h = charger(given_certificate_expiry=T0 + 60 * DAY)
    assert not h.calls("SignCertificate")  # two months left: nothing yet
    h.advance(29 * DAY)
    h.answer_all()
    assert not h.calls("SignCertificate")  # 31 days left
    h.advance(2 * DAY)  # the daily check on the day fewer than 30 are left
    assert h.in_flight() is not None and h.in_flight()[2] == "SignCertificate"  # type: ignore[index]
    assert 29 * DAY < h.sent_times("SignCertificate")[0] - T0 <= 31 * DAY


def test_a_renewed_certificate_outliving_the_given_one_stops_the_renewal() -> None:
    root, root_key = ca()
    h = charger(given_csms_roots=pem(root), given_certificate_expiry=T0 + 40 * DAY)
    leaf = leaf_for(request_csr(h), root, root_key, days=365)
    answer = h.csms_call("CertificateSigned", {"certificateChain": pem(leaf)})
    assert answer[2] == {"status": "Accepted"}
    later = h.power_loss(after=20 * DAY)  # the given one has 20 days left, the new 345
    later.boot(interval=10**7)
    later.advance(2 * DAY)
    assert not later.calls("SignCertificate")


# --- G1: SecurityExtension set at the charger is kept ------------------------------------


def test_a_stored_security_extension_is_read_back_and_pushes_the_startup_event() -> None:
    """``cpsim run --security-extension`` stores the key: the next start has it, and its
    first step already queues StartupOfTheDevice (WP A04).  Other read-only keys stored
    are still ignored (the build decides them)."""
    store = MemoryStore(config={"SecurityExtension": "true", "CertificateStoreMaxLength": "1"})
    h = Harness(store=store)
    assert h.core.config.get_bool("SecurityExtension")
    assert h.core.config.get("CertificateStoreMaxLength") == "20"
    h.boot(settle=False)
    call = h.answer_until("SecurityEventNotification")
    assert call[3]["type"] == "StartupOfTheDevice"
    answer = h.csms_call("ChangeConfiguration", {"key": "SecurityExtension", "value": "false"})
    assert answer[2] == {"status": "Rejected"}  # read-only over OCPP
