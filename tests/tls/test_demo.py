"""``cpsim demo --security-profile 2|3``: a development PKI, the local CSMS on wss://, and
the charger through the emulated EC200U's own TLS (AT+QSSLOPEN), end to end."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner


@pytest.mark.parametrize("profile", ["2", "3"])
def test_the_demo_runs_each_tls_profile_through_the_ec200u(profile: str) -> None:
    from chargepoint.cli import main

    result = CliRunner().invoke(main, ["demo", "--security-profile", profile, "--step", "0"])
    assert result.exit_code == 0, result.output
    assert f"security profile {profile}: development CA" in result.output
    assert "TLS (AT+QSSL*) through it" in result.output
    assert "AT+QSSLOPEN" in result.output and "demo finished" in result.output
    assert "PRIVATE KEY" not in result.output
    # SecurityExtension on: the boot's critical event is pushed (WP A04), and shown
    assert "the charger pushed the security event StartupOfTheDevice" in result.output
    assert re.search(r"CP001 -> CSMS +CALL +SecurityEventNotification", result.output)
    # the renewal (WP A02) with the local CSMS as signing CA, in lines a person follows
    assert "a CSR for CN = CP001, O = cpsim demo CPO (SignCertificate)" in result.output
    signed = re.search(r"signed it \(serial ([0-9A-F]+)\); .*chain: Accepted", result.output)
    assert signed is not None, result.output
    if profile == "3":
        shown = re.search(
            r"presenting the new certificate \(serial (\w+); before: (\w+)\)", result.output
        )
        assert shown is not None, result.output
        assert shown[1] == signed[1] != shown[2]  # the CSMS saw the new one, not the old
    assert "and renewed its certificate" in result.output
