"""``cpsim modem check --csms-url wss://... --ca-file CA.pem``: the TLS row proves the
module's handshake and the certificate chain, then the WebSocket and BootNotification run
over it; each 566 cause has its own verdict."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from fieldtest.conftest import ec200u, invoke

from chargepoint.cli.fieldtest import check
from chargepoint.csms.server import LocalCsms
from chargepoint.security.pki import DevelopmentPki


def tls_csms(pki: DevelopmentPki, tmp_path: Path, client_ca: bool = False) -> LocalCsms:
    return LocalCsms(
        port=0,
        log_path=tmp_path / "csms.jsonl",
        tls_cert=pki.csms.cert_path,
        tls_key=pki.csms.key_path,
        client_ca=pki.ca.cert_path if client_ca else None,
    )


async def run(emu, csms: LocalCsms, *extra: str) -> tuple[int, dict]:
    args = ["--port", emu.port_url, "--apn", "internet", "--csms-url", csms.url + "/CP001"]
    result = await invoke(check, [*args, "--ping-count", "0", "--json", *extra])
    report = json.loads(result.stdout)
    return result.exit_code, report


def row(report: dict, name: str) -> dict:
    return next(r for r in report["checks"] if r["name"] == name)


async def test_the_tls_handshake_and_chain_are_proven_through_the_modem(
    pki: DevelopmentPki, tmp_path: Path
) -> None:
    async with tls_csms(pki, tmp_path) as csms, ec200u("ok") as emu:
        code, report = await run(emu, csms, "--ca-file", str(pki.ca.cert_path))
    assert code == 0, report["verdict"]
    tls = row(report, "TLS")
    assert tls["status"] == "pass"
    assert "certificate chain verified against ca.pem" in tls["figure"]
    assert row(report, "WebSocket")["status"] == "pass"
    assert row(report, "BootNotification")["status"] == "pass"


async def test_profile_3_with_a_client_certificate(pki: DevelopmentPki, tmp_path: Path) -> None:
    cp = pki.chargers["CP001"]
    files = [
        "--ca-file",
        str(pki.ca.cert_path),
        "--cert",
        str(cp.cert_path),
        "--key",
        str(cp.key_path),
    ]
    async with tls_csms(pki, tmp_path, client_ca=True) as csms, ec200u("ok") as emu:
        code, report = await run(emu, csms, *files)
    assert code == 0, report["verdict"]
    assert "client certificate accepted" in row(report, "TLS")["figure"]


@pytest.mark.parametrize(
    ("fault", "reason", "words"),
    [
        ("other-ca", "tls-untrusted-ca", "is not signed by ca.pem: get the CA that signed it"),
        ("tls-fail 1", "tls-module", "the module's TLS stack cannot talk to"),
        ("client-cert", "tls-client-cert", "wants a client certificate it accepts"),
    ],
)
async def test_each_566_cause_has_its_own_verdict(
    pki: DevelopmentPki,
    other_pki: DevelopmentPki,
    tmp_path: Path,
    fault: str,
    reason: str,
    words: str,
) -> None:
    server_pki = other_pki if fault == "other-ca" else pki
    async with (
        tls_csms(server_pki, tmp_path, client_ca=fault == "client-cert") as csms,
        ec200u("ok") as emu,
    ):
        if fault.startswith("tls-fail"):
            emu.faults.tls_handshake_fail(1)
        code, report = await run(emu, csms, "--ca-file", str(pki.ca.cert_path))
    assert code == 1
    tls = row(report, "TLS")
    assert (tls["status"], tls["reason"]) == ("fail", reason)
    assert "566" in tls["detail"]
    assert words in report["verdict"]["summary"]
    assert row(report, "WebSocket")["status"] == "skip"


async def test_a_clock_without_network_time_is_a_warning(
    pki: DevelopmentPki, tmp_path: Path
) -> None:
    async with tls_csms(pki, tmp_path) as csms, ec200u("ok") as emu:
        emu.faults.block_sntp(True)
        code, report = await run(emu, csms, "--ca-file", str(pki.ca.cert_path))
    assert code == 0
    assert row(report, "TLS")["reason"] == "tls-dates-unchecked"
    assert report["verdict"]["status"] == "warn"
    assert "did not check the certificate's dates" in report["verdict"]["summary"]


async def test_a_bad_ca_file_is_a_usage_error_before_any_port_is_opened(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    args = ["--port", "/dev/ttyNOPE", "--csms-url", "wss://h:1/ocpp/CP1", "--ca-file", str(missing)]
    result = await invoke(check, args)
    assert result.exit_code == 2
    assert f"CA file {missing}: no such file" in result.output
    result = await invoke(
        check, ["--port", "/dev/ttyNOPE", "--csms-url", "ws://h:1/o/CP1", "--ca-file", str(missing)]
    )
    assert result.exit_code == 2 and "is for a wss:// --csms-url" in result.output


_ = asyncio
