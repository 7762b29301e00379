"""The whole certificate renewal over the direct link against the local CSMS as signing CA:
ExtendedTriggerMessage SignChargePointCertificate -> SignCertificate (CSR) -> Accepted ->
CertificateSigned (signed by the CSMS's CA) -> Accepted -> stored in the real SQLite store.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from chargepoint.assembly import ChargerSpec, LinkSpec, build_link, build_station
from chargepoint.clocks import loop_clock
from chargepoint.core.certificates import charger_certificate
from chargepoint.core.settings import Identity
from chargepoint.csms.handlers import CsmsPolicy
from chargepoint.csms.server import LocalCsms
from chargepoint.csms.signing_ca import load_signing_ca
from chargepoint.security import certstore
from chargepoint.security.pki import init_pki
from chargepoint.station import StationOptions
from chargepoint.station.runner import Backoff, run_station
from chargepoint.store import Store
from chargepoint.transport.tlssettings import tls_settings

CP = "CP-RENEW"


def test_renewal_with_the_local_csms_as_signing_ca(tmp_path: Path) -> None:
    pki = init_pki(tmp_path / "pki", (CP,), cpo_name="ACME CPO")
    ca = load_signing_ca(pki.ca.cert_path, pki.ca.key_path)
    state = tmp_path / "state"

    async def main() -> None:
        policy = CsmsPolicy(signing_ca=ca)
        async with LocalCsms(port=0, policy=policy) as csms:
            station = build_station(
                ChargerSpec(
                    Identity(CP),
                    StationOptions(
                        state_dir=state,
                        config_overrides={"CpoName": "ACME CPO", "SecurityExtension": "true"},
                    ),
                    loop_clock(),
                )
            )
            link = build_link(LinkSpec("direct", csms.url), station)
            stop = asyncio.Event()
            task = asyncio.create_task(run_station(station, link, stop, Backoff(0.2, 1.0)))
            try:
                await csms.wait_connected(CP)
                await csms.frames.wait_for(lambda f: f.action == "BootNotification", 10)
                root = pki.ca.cert_path.read_text()
                answer = await csms.call(
                    CP,
                    "InstallCertificate",
                    {"certificateType": "CentralSystemRootCertificate", "certificate": root},
                )
                assert answer == {"status": "Accepted"}
                answer = await csms.call(
                    CP, "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}
                )
                assert answer == {"status": "Accepted"}
                sent = await csms.frames.wait_for(
                    lambda f: f.action == "CertificateSigned" and f.direction == "sent", 10
                )
                uid = sent.message[1]
                answered = await csms.frames.wait_for(
                    lambda f: f.message_type == 3 and f.message[1] == uid, 10
                )
                assert answered.payload == {"status": "Accepted"}
                # the store commits before the answer goes: it is stored now
                assert "cp:cert" in station.core.security_objects
            finally:
                stop.set()
                await task
            actions = [f.action for f in csms.frames.frames if f.direction == "received"]
            assert "SignCertificate" in actions
            assert "SecurityEventNotification" in actions  # StartupOfTheDevice

    asyncio.run(main())
    store = Store.open(state)
    try:
        pair = charger_certificate(store.load(CP).security)
    finally:
        store.close()
    assert pair is not None
    chain = certstore.load_chain(pair[0])
    leaf = chain[0]
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == CP
    assert leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "ACME CPO"
    assert certstore.signed_by(leaf, pki.ca.cert)
    assert certstore.key_matches(leaf, pair[1])
    assert chain[1] == x509.load_pem_x509_certificate(pki.ca.cert_path.read_bytes())


def test_the_next_connection_presents_the_renewed_certificate(tmp_path: Path) -> None:
    """Security profile 3 (mutual TLS) with the PKI's first certificate; after the renewal
    the CSMS drops the link and the charger reconnects with the new one (A02.FR.08)."""
    pki = init_pki(tmp_path / "pki", (CP,), cpo_name="ACME CPO")
    first = pki.chargers[CP]
    tls = tls_settings(3, pki.ca.cert_path, first.cert_path, first.key_path)
    policy = CsmsPolicy(signing_ca=load_signing_ca(pki.ca.cert_path, pki.ca.key_path))

    def boots(csms: LocalCsms) -> int:
        received = [f for f in csms.frames.frames if f.direction == "received"]
        return sum(1 for f in received if f.action == "BootNotification")

    async def main() -> tuple[str, str, str]:
        async with LocalCsms(
            "127.0.0.1",
            0,
            policy=policy,
            tls_cert=pki.csms.cert_path,
            tls_key=pki.csms.key_path,
            client_ca=pki.ca.cert_path,
        ) as csms:
            station = build_station(
                ChargerSpec(
                    Identity(CP),
                    StationOptions(
                        state_dir=tmp_path / "state", config_overrides={"CpoName": "ACME CPO"}
                    ),
                    loop_clock(),
                )
            )
            link = build_link(LinkSpec("direct", csms.url, tls=tls), station)
            stop = asyncio.Event()
            task = asyncio.create_task(run_station(station, link, stop, Backoff(0.2, 1.0)))
            try:
                await csms.frames.wait_for(lambda f: f.action == "BootNotification", 10)
                before = csms.client_serials[CP]
                root = pki.ca.cert_path.read_text()
                await csms.call(
                    CP,
                    "InstallCertificate",
                    {"certificateType": "CentralSystemRootCertificate", "certificate": root},
                )
                await csms.call(
                    CP, "ExtendedTriggerMessage", {"requestedMessage": "SignChargePointCertificate"}
                )
                sent = await csms.frames.wait_for(
                    lambda f: f.action == "CertificateSigned" and f.direction == "sent", 10
                )
                uid = sent.message[1]
                await csms.frames.wait_for(
                    lambda f: f.message_type == 3 and f.message[1] == uid, 10
                )
                renewed = certstore.load_chain(station.core.security_objects["cp:cert"])[0]
                await csms.disconnect(CP)
                await csms.frames.wait_for(lambda f: boots(csms) >= 2, 10)  # reconnected
                after = csms.client_serials[CP]
            finally:
                stop.set()
                await task
            return before, after, format(renewed.serial_number, "X")

    before, after, renewed_serial = asyncio.run(main())
    assert int(before, 16) == first.cert.serial_number
    assert int(after, 16) == int(renewed_serial, 16)
    assert (tmp_path / "state" / "tls" / "charger-key.pem").stat().st_mode & 0o777 == 0o600
