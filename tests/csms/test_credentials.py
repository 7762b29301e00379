"""What the local CSMS checks after it sent a new AuthorizationKey (WP A01), sans I/O."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from chargepoint.csms.credentials import Credentials

OLD, NEW = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
CHANGE = {"key": "AuthorizationKey", "value": NEW}


def test_accepted_makes_the_new_key_the_only_one_for_that_charger() -> None:
    creds = Credentials(shared=OLD)
    creds.adopt("CP1", CHANGE, {"status": "Accepted"})
    assert creds.check("CP1", "CP1", NEW)
    assert not creds.check("CP1", "CP1", OLD)  # A01.FR.03: no grace for the old key
    assert creds.check("CP2", "CP2", OLD) and not creds.check("CP2", "CP2", NEW)
    assert not creds.check("CP2", "CP1", NEW)  # the user is still the charger's own id


@pytest.mark.parametrize("status", ["Rejected", "NotSupported"])
def test_a_refused_change_leaves_the_old_key(status: str) -> None:
    creds = Credentials(per_charger={"CP1": OLD})
    creds.adopt("CP1", CHANGE, {"status": status})
    assert creds.check("CP1", "CP1", OLD) and not creds.check("CP1", "CP1", NEW)


def test_reboot_required_takes_both_until_the_new_one_is_used() -> None:
    creds = Credentials(shared=OLD)
    creds.adopt("CP1", CHANGE, {"status": "RebootRequired"})
    assert creds.check("CP1", "CP1", OLD)  # not rebooted yet
    assert creds.check("CP1", "CP1", NEW)  # rebooted: from now on only the new one
    assert not creds.check("CP1", "CP1", OLD)


def test_only_an_authorization_key_change_counts() -> None:
    creds = Credentials(shared=OLD)
    creds.adopt("CP1", {"key": "HeartbeatInterval", "value": NEW}, {"status": "Accepted"})
    assert creds.check("CP1", "CP1", OLD)
    creds.adopt("CP1", {"key": "authorizationkey", "value": NEW}, {"status": "Accepted"})
    assert creds.check("CP1", "CP1", NEW)  # keys are case-insensitive (CiString)


def test_a_charger_from_a_credentials_file_gets_its_new_key(tmp_path: Path) -> None:
    table = tmp_path / "auth.txt"
    table.write_text(f"CP1:{OLD}\n")
    creds = Credentials.from_file(table)
    creds.adopt("CP1", CHANGE, {"status": "Accepted"})
    assert creds.check("CP1", "CP1", NEW) and not creds.check("CP1", "CP1", OLD)


def test_no_key_in_repr_or_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    creds = Credentials(shared=OLD, per_charger={"CP9": OLD})
    creds.adopt("CP1", CHANGE, {"status": "RebootRequired"})
    creds.check("CP1", "CP1", NEW)
    creds.adopt("CP2", CHANGE, {"status": "Accepted"})
    assert "AuthorizationKey" in caplog.text
    for text in (repr(creds), caplog.text):
        assert OLD not in text and NEW not in text


def test_a_client_serial_reads_as_the_issuer_writes_it() -> None:
    """ssl writes a serial byte by byte: an odd number of hex digits gets a leading 0,
    which made `cpsim demo --security-profile 3` miss the renewed certificate half the
    time (its serial compared as text)."""
    from chargepoint.csms.server import serial_hex

    issued = 0xF1BE5093E239337DA0D758B25678904AE88847A
    assert serial_hex("0F1BE5093E239337DA0D758B25678904AE88847A") == format(issued, "X")
    assert serial_hex("52F8") == "52F8"
    assert serial_hex(None) == "" and serial_hex("zz") == ""
