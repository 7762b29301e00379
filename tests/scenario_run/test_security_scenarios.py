"""The bundled security scenarios (certificate_renewal, security_profile_raise) check what
they claim: the CSR's subject, the CertificateSigned Accepted, and ``expect_connection``
failing, at the CSMS's end, when the charger does not come back as it should."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from chargepoint.scenario import load_scenario
from chargepoint.scenario.report import render
from chargepoint.scenario.runner import RunOptions, run_scenario

SCENARIOS = Path(__file__).parents[2] / "scenarios"

INSTALL_ROOT = """\
  - csms:
      call: InstallCertificate
      payload: {certificateType: CentralSystemRootCertificate, certificate: local:pki/ca.pem}
      result: {status: Accepted}
"""


async def test_the_renewal_csr_names_the_charger_and_its_cpo() -> None:
    result = await run_scenario(
        load_scenario(SCENARIOS / "certificate_renewal.yaml"), RunOptions(time_scale="virtual")
    )
    assert result.status == "passed", render(result)
    messages = [f["message"] for f in result.frames]
    calls = {m[2]: m for m in messages if m[0] == 2}
    subject = x509.load_pem_x509_csr(calls["SignCertificate"][3]["csr"].encode()).subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CP-RENEW-01"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "ACME CPO"
    signed = calls["CertificateSigned"]
    answer = next(m for m in messages if m[0] == 3 and m[1] == signed[1])
    assert answer[2] == {"status": "Accepted"}
    leaf = x509.load_pem_x509_certificate(signed[3]["certificateChain"].encode())
    assert leaf.subject == subject  # the CSMS signed the CSR's subject
    assert "PRIVATE KEY" not in str(messages)


async def test_a_renewal_the_charger_refuses_is_not_presented(
    write_scenario: Callable[..., Path],
) -> None:
    """Without the root installed the chain is Rejected (A02.FR.06/07): the charger stays on
    its first certificate, and the step says which one the CSMS sees."""
    original = (SCENARIOS / "certificate_renewal.yaml").read_text()
    assert INSTALL_ROOT in original
    path = write_scenario(original.replace(INSTALL_ROOT, ""), "renewal.yaml")
    result = await run_scenario(load_scenario(path), RunOptions(time_scale="virtual"))
    failed = result.failed_step
    assert failed is not None and failed.kind == "expect_connection", render(result)
    assert "with the renewed client certificate (serial" in failed.details[0], failed.details
    assert failed.details[0].endswith(", the initial one"), failed.details


async def test_a_charger_that_does_not_raise_its_profile_is_seen_on_ws(
    write_scenario: Callable[..., Path],
) -> None:
    original = (SCENARIOS / "security_profile_raise.yaml").read_text()
    raise_step = 'payload: {key: SecurityProfile, value: "2"}\n      result: {status: Accepted}'
    assert raise_step in original
    other = 'payload: {key: HeartbeatInterval, value: "60"}\n      result: {status: Accepted}'
    path = write_scenario(original.replace(raise_step, other), "raise.yaml")
    result = await run_scenario(load_scenario(path), RunOptions(time_scale="virtual"))
    failed = result.failed_step
    assert failed is not None and failed.kind == "expect_connection", render(result)
    assert failed.details[0].startswith("expected a connection over wss:// without a client")
    assert failed.details[0].endswith("the CSMS sees ws:// (no TLS)"), failed.details
