"""What InstallCertificate and CertificateSigned install reaches the link (WP A05, A02):
the SecurityProfile prerequisites, and the TLS settings of the next connection."""

from __future__ import annotations

import json
from pathlib import Path

from core.harness import Harness

from chargepoint.assembly import ChargerSpec, build_station, current_tls
from chargepoint.core import events as ev
from chargepoint.core.settings import Identity
from chargepoint.security import events as sec
from chargepoint.security.pki import init_pki
from chargepoint.station import StationOptions
from chargepoint.transport.tlssettings import TlsSettings
from security_ext.pkihelp import ca, pem

KEY = "0123456789abcdef0123456789abcdef"


def test_an_installed_root_lets_the_profile_be_raised_to_2() -> None:
    h = Harness(config={"AuthorizationKey": KEY, "SecurityProfile": "1"})
    h.boot()
    change = {"key": "SecurityProfile", "value": "2"}
    assert h.csms_call("ChangeConfiguration", change)[2] == {"status": "Rejected"}
    root, _ = ca()
    h.csms_call(
        "InstallCertificate",
        {"certificateType": "CentralSystemRootCertificate", "certificate": pem(root)},
        uid="i",
    )
    assert h.csms_call("ChangeConfiguration", change, uid="c2")[2] == {"status": "Accepted"}


def test_a_security_parameter_change_is_logged_without_its_value() -> None:
    h = Harness()
    h.boot()
    h.csms_call("ChangeConfiguration", {"key": "AuthorizationKey", "value": KEY})
    log = json.loads(h.store.values["security.log"])
    assert [e[1:] for e in log][-1] == [
        sec.RECONFIGURATION_OF_SECURITY_PARAMETERS,
        "AuthorizationKey",
    ]
    assert KEY not in h.store.values["security.log"]


def test_installed_roots_stand_in_for_a_missing_ca_file(tmp_path: Path) -> None:
    pki = init_pki(tmp_path / "pki", ("CP1",))
    station = build_station(
        ChargerSpec(Identity("CP1"), StationOptions(state_dir=tmp_path / "state"))
    )
    try:
        tls = TlsSettings(2)
        assert current_tls(tls, station).ca_file is None
        call = [
            2,
            "i1",
            "InstallCertificate",
            {
                "certificateType": "CentralSystemRootCertificate",
                "certificate": pki.ca.cert_path.read_text(),
            },
        ]
        station.feed(ev.FrameReceived(json.dumps(call)))
        roots = current_tls(tls, station).ca_file
        assert roots is not None and roots.read_text() == pki.ca.cert_path.read_text()
        given = TlsSettings(2, pki.ca.cert_path)
        assert current_tls(given, station).ca_file == pki.ca.cert_path  # --ca-file wins
    finally:
        if station.store is not None:
            station.store.close()
