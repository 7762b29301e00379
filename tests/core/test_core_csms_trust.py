"""Trusting the CSMS at connect (core/csms_trust.py): the security events of a failed TLS
handshake (WP A00.FR.309/315/322) and AdditionalRootCertificateCheck's fallback root
(WP M05), fed as events, checked on the frames the CSMS gets."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from security_ext.pkihelp import NOW, ca, pem

from chargepoint.core import events as ev
from core.harness import Harness

CERT = "InvalidCentralSystemCertificate"
VERSION = "InvalidTLSVersion"
CIPHER = "InvalidTLSCipherSuite"
CLIENT = "FailedToAuthenticationAtCentralSystem"
TLS_KINDS = (CERT, VERSION, CIPHER, CLIENT)
UNTRUSTED = "untrusted: unable to get local issuer certificate"


def charger(**config: str) -> Harness:
    return Harness(config={"SecurityExtension": "true", **config})


def tls_events(h: Harness) -> list[dict[str, Any]]:
    """TLS SecurityEventNotifications the CSMS got, then those still queued, in order."""
    sent = [f[3] for f in h.calls("SecurityEventNotification")]
    kept = [p for a, p in h.store.queued() if a == "SecurityEventNotification"]
    return [p for p in sent + [p for p in kept if p not in sent] if p["type"] in TLS_KINDS]


def logged(h: Harness) -> list[str]:
    """The event types of the security log the store keeps."""
    return [entry[1] for entry in json.loads(h.store.values["security.log"])]


def test_a_refused_csms_certificate_is_queued_and_sent_after_the_boot() -> None:
    h = charger()
    h.feed(ev.TlsFailed(CERT, UNTRUSTED))
    assert not h.sent  # offline: nothing goes out
    assert [(p["type"], p["techInfo"]) for p in tls_events(h)] == [(CERT, UNTRUSTED)]
    h.boot()
    sent = [f[3] for f in h.calls("SecurityEventNotification") if f[3]["type"] == CERT]
    assert sent == [{"type": CERT, "timestamp": h.iso(), "techInfo": UNTRUSTED}]
    assert not [p for a, p in h.store.queued() if p.get("type") == CERT]  # delivered


def test_a_queued_tls_event_survives_a_power_loss() -> None:
    h = charger()
    h.feed(ev.TlsFailed(VERSION, "no TLS 1.2 or above: TLSV1_ALERT_PROTOCOL_VERSION"))
    after = h.power_loss(after=10)
    after.boot()
    assert [f[3]["type"] for f in after.calls("SecurityEventNotification")].count(VERSION) == 1


def test_one_event_per_kind_per_outage() -> None:
    h = charger()
    for _ in range(3):
        h.feed(ev.TlsFailed(CERT, UNTRUSTED))
        h.advance(30)
    h.feed(ev.TlsFailed(CERT, "expired: certificate has expired"))
    h.feed(ev.TlsFailed(VERSION, "no TLS 1.2 or above"))
    h.feed(ev.TlsFailed(CIPHER, "no allowed cipher suite in common"))
    assert [p["type"] for p in tls_events(h)] == [CERT, VERSION, CIPHER]
    h.boot()  # connected: the outage is over
    h.feed(ev.LinkDown("lost"))
    h.feed(ev.TlsFailed(CERT, UNTRUSTED))  # a new outage: raised again
    assert [p["type"] for p in tls_events(h)] == [CERT, VERSION, CIPHER, CERT]


def test_every_failure_is_in_the_security_log() -> None:
    h = charger()
    h.feed(ev.TlsFailed(CERT, UNTRUSTED))
    h.feed(ev.TlsFailed(CLIENT, "the charger's certificate was refused"))
    assert logged(h)[-2:] == [CERT, CLIENT]


def test_a_refused_charger_certificate_is_logged_not_pushed() -> None:
    h = charger()
    h.feed(ev.TlsFailed(CLIENT, "the charger's certificate was refused: UNKNOWN_CA"))
    assert CLIENT in logged(h)  # WP§8: not critical, so only in the log
    assert tls_events(h) == []


def test_without_the_extension_tls_failures_are_only_logged() -> None:
    h = charger(SecurityExtension="false")
    h.feed(ev.TlsFailed(CERT, UNTRUSTED))
    assert CERT in logged(h)
    h.boot()
    assert tls_events(h) == [] and not h.calls("SecurityEventNotification")


def test_a_kind_that_is_no_tls_event_is_ignored() -> None:
    h = charger()
    h.feed(ev.TlsFailed("StartupOfTheDevice", "forged"))
    h.feed(ev.TlsFailed("x" * 10_000, "long"))
    assert tls_events(h) == []
    assert logged(h).count("StartupOfTheDevice") == 1  # the boot's own, no second one


def test_tech_info_is_bounded_to_255() -> None:
    h = charger()
    h.feed(ev.TlsFailed(CERT, "y" * 1000))
    assert len(tls_events(h)[0]["techInfo"]) == 255


# --- AdditionalRootCertificateCheck (M05.FR.08-13) ------------------------------------


def successor(
    old: x509.Certificate, old_key: ec.EllipticCurvePrivateKey
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A new CSMS root certificate signed by the old root (M05.FR.09)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "new root")]))
        .issuer_name(old.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(old_key, hashes.SHA256())
    )
    return cert, key


def install(h: Harness, cert: x509.Certificate) -> str:
    payload = {"certificateType": "CentralSystemRootCertificate", "certificate": pem(cert)}
    return str(h.csms_call("InstallCertificate", payload)[2]["status"])


def rolled_over(**settings: Any) -> tuple[Harness, x509.Certificate, x509.Certificate]:
    h = Harness(
        config={"AdditionalRootCertificateCheck": "true", "SecurityProfile": "2"}, **settings
    )
    h.boot()
    old, old_key = ca("old root")
    new, _ = successor(old, old_key)
    assert install(h, old) == "Accepted"
    assert install(h, new) == "Accepted"
    return h, old, new


def roots(h: Harness) -> list[x509.Certificate]:
    """The CSMS roots the store keeps."""
    return [
        x509.load_pem_x509_certificate(v.encode())
        for n, v in sorted(h.store.security.items())
        if n.startswith("ca:CentralSystemRootCertificate:")
    ]


def trusted(h: Harness) -> list[x509.Certificate]:
    """The roots the link trusts at its next connect."""
    return x509.load_pem_x509_certificates(h.core.installed_roots_pem().encode())


def test_the_next_connect_trusts_the_new_root_alone_and_then_drops_the_fallback() -> None:
    h, old, new = rolled_over()
    assert roots(h) == [old, new]  # the old one kept as fallback
    assert trusted(h) == [new]
    h.feed(ev.LinkDown("reconnect"))
    h.boot()  # connected with the new root
    assert roots(h) == [new]
    assert trusted(h) == [new]


def test_a_failure_with_the_new_root_retries_with_the_fallback() -> None:
    h, old, new = rolled_over()
    h.feed(ev.LinkDown("reconnect"))
    h.feed(ev.TlsFailed(CERT, UNTRUSTED))
    assert trusted(h) == [old]  # M05: retry with the fallback
    h.boot()  # connected with the fallback: both kept
    assert roots(h) == [old, new]
    assert trusted(h) == [new]  # the next connect tries the new one again
    h.feed(ev.LinkDown("reconnect"))
    h.feed(ev.TlsFailed(CERT, UNTRUSTED))
    h.feed(ev.TlsFailed(CERT, UNTRUSTED))  # the fallback failed too: the new one again
    assert trusted(h) == [new]


def test_with_a_ca_file_given_the_installed_roots_are_not_switched() -> None:
    h, old, new = rolled_over(tls_files=frozenset({"ca"}))
    h.feed(ev.LinkDown("reconnect"))
    h.feed(ev.TlsFailed(CERT, UNTRUSTED))
    h.boot()
    assert roots(h) == [old, new]
    assert trusted(h) == [old, new]
