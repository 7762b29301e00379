"""The security part of a scenario (``csms.tls``, ``csms.signing_ca``, ``expect_connection``,
``local:pki/``): each mistake named at its file:line:col, and what a good file turns into
(the charger's TLS files, the CSMS's options), before anything runs."""

from __future__ import annotations

import contextlib
import textwrap

import pytest

from chargepoint.scenario import ScenarioLoadError, parse_scenario
from chargepoint.scenario.security import RunSecurity, run_security, with_pki_files


def problems(text: str) -> list[str]:
    with pytest.raises(ScenarioLoadError) as caught:
        parse_scenario(textwrap.dedent(text), "s.yaml")
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            """\
            csms:
              url: ws://example.com/ocpp
              tls: {pki: auto}
            steps: [wait: 1]
            """,
            "s.yaml:3:3: csms.tls: tls is for the local CSMS; this scenario uses "
            "ws://example.com/ocpp",
        ),
        (
            """\
            csms:
              tls: {security_profiles: [1]}
            steps: [wait: 1]
            """,
            "s.yaml:2:9: csms.tls.security_profiles: [1] has no TLS profile (2 or 3); "
            "leave `tls` out for ws:// only",
        ),
        (
            """\
            csms:
              tls: {security_profiles: [2, 2]}
            steps: [wait: 1]
            """,
            "s.yaml:2:9: csms.tls.security_profiles: a profile is listed twice in [2, 2]",
        ),
        (
            """\
            csms:
              tls: {security_profiles: [2, 4]}
            steps: [wait: 1]
            """,
            "s.yaml:2:32: csms.tls.security_profiles[1]: expected 1, 2 or 3, got 4",
        ),
        (
            """\
            csms:
              tls: {pki: manual}
            steps: [wait: 1]
            """,
            "s.yaml:2:14: csms.tls.pki: expected 'auto', got 'manual'",
        ),
        (
            """\
            csms:
              signing_ca: my-ca.pem
            steps: [wait: 1]
            """,
            "s.yaml:2:15: csms.signing_ca: expected 'auto', got 'my-ca.pem'",
        ),
        (
            """\
            charger:
              security_profile: 1
            csms:
              tls: {security_profiles: [2, 3]}
            steps: [wait: 1]
            """,
            "s.yaml:2:21: charger.security_profile: the local CSMS lets in profiles [2, 3] "
            "(csms.tls.security_profiles), not 1: the charger would never connect",
        ),
        (
            """\
            charger:
              security_profile: 3
            csms:
              tls: {security_profiles: [3], charger_certificate: false}
            steps: [wait: 1]
            """,
            "s.yaml:4:54: csms.tls.charger_certificate: security profile 3 authenticates the "
            "charger by its certificate: charger_certificate cannot be false",
        ),
        (
            """\
            steps:
              - csms:
                  call: InstallCertificate
                  payload:
                    certificateType: CentralSystemRootCertificate
                    certificate: local:pki/ca.pem
            """,
            "s.yaml:6:22: steps[0].csms.payload.certificate: local:pki/ca.pem needs the run's "
            "PKI: set csms.tls or csms.signing_ca",
        ),
        (
            """\
            csms: {tls: {security_profiles: [3]}}
            steps:
              - expect_connection: {client_certificate: renewed}
            """,
            "s.yaml:3:45: steps[0].expect_connection.client_certificate: renewed is the "
            "certificate the local CSMS signs: set csms.signing_ca: auto",
        ),
        (
            """\
            steps:
              - expect_connection: {client_certificate: initial}
            """,
            "s.yaml:2:45: steps[0].expect_connection.client_certificate: initial is a "
            "certificate of the run's PKI: set csms.tls",
        ),
        (
            """\
            steps:
              - expect_connection: {}
            """,
            "s.yaml:2:5: steps[0].expect_connection: say what to check: tls, "
            "client_certificate, or both",
        ),
        (
            """\
            csms: {tls: {}, signing_ca: auto}
            steps:
              - expect_connection: {tls: false, client_certificate: renewed}
            """,
            "s.yaml:3:30: steps[0].expect_connection.tls: a client certificate comes with "
            "TLS: tls cannot be false here",
        ),
        (
            """\
            csms: ws://example.com/ocpp
            steps:
              - expect_connection: {tls: true}
            """,
            "s.yaml:3:5: steps[0].expect_connection: expect_connection steps ask the local "
            "CSMS; this run uses ws://example.com/ocpp",
        ),
    ],
    ids=[
        "tls-remote",
        "no-tls-profile",
        "profile-twice",
        "profile-4",
        "pki-unknown",
        "signing-ca-file",
        "charger-not-let-in",
        "profile-3-without-certificate",
        "local-pki-without-pki",
        "renewed-without-signing-ca",
        "initial-without-tls",
        "expect-nothing",
        "certificate-without-tls",
        "expect-connection-remote",
    ],
)
def test_a_security_mistake_is_named_at_its_place(text: str, expected: str) -> None:
    assert problems(text) == [expected]


def _security(text: str) -> RunSecurity:
    scenario = parse_scenario(textwrap.dedent(text), "s.yaml")
    with contextlib.ExitStack() as stack:
        return run_security(scenario.charger, scenario.csms, stack)


def test_profiles_1_and_2_serve_ws_and_wss_and_give_the_charger_its_files() -> None:
    scenario = parse_scenario(
        textwrap.dedent("""\
        charger: {id: CP-R, security_profile: 1, configuration: {CpoName: ACME}}
        csms: {tls: {security_profiles: [1, 2]}, signing_ca: auto}
        steps: [wait: 1]
        """),
        "s.yaml",
    )
    with contextlib.ExitStack() as stack:
        security = run_security(scenario.charger, scenario.csms, stack)
        assert security.settings is not None and security.settings.security_profile == 1
        assert security.settings.ca_file is not None and security.settings.identity is not None
        assert security.tls_files == {"ca", "cert"}  # what a raise to 2 or 3 needs (A05)
        assert security.csms_options["plain_too"] is True
        assert "client_ca" not in security.csms_options
        assert security.signing_ca is not None and security.signing_ca.organization == "ACME"
        assert security.pki is not None
        subject = security.pki.chargers["CP-R"].cert.subject.rfc4514_string()
        assert subject == "O=ACME,CN=CP-R"
        payload = with_pki_files(security, {"certificate": "local:pki/ca.pem", "x": 1})
        assert payload["certificate"].startswith("-----BEGIN CERTIFICATE-----")
        with pytest.raises(ValueError, match="the run's PKI has CP-R.pem, ca.pem, csms.pem"):
            with_pki_files(security, {"certificate": "local:pki/ca-key.pem"})  # never a key


def test_profile_3_alone_requires_the_client_certificate() -> None:
    security = _security("""\
        csms: {tls: {security_profiles: [3]}}
        steps: [wait: 1]
        """)
    assert security.settings is not None and security.settings.security_profile == 3
    assert security.csms_options["client_cert_required"] is True
    assert "plain_too" not in security.csms_options


def test_profiles_2_and_3_make_the_client_certificate_optional() -> None:
    security = _security("""\
        charger: {security_profile: 2}
        csms: {tls: {security_profiles: [2, 3], charger_certificate: false}}
        steps: [wait: 1]
        """)
    assert security.csms_options["client_cert_required"] is False
    assert security.tls_files == {"ca"}  # no certificate: a raise to 3 is Rejected (A05.FR.04)


def test_a_signing_ca_alone_makes_a_pki_without_tls() -> None:
    security = _security("""\
        csms: {signing_ca: auto}
        steps: [wait: 1]
        """)
    assert security.settings is None and security.csms_options == {}
    assert security.signing_ca is not None and security.pki is not None
    assert security.signing_ca.organization == "cpsim"


def test_the_short_form_is_kept() -> None:
    """charger.security_profile 2 or 3 alone: wss:// for that profile, as before."""
    security = _security("""\
        charger: {security_profile: 3}
        steps: [wait: 1]
        """)
    assert security.csms_options["client_cert_required"] is True
    assert security.tls_files == {"ca", "cert"}
