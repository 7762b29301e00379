"""``cpsim modem apn-scan --csms-url wss://... --ca-file CA.pem``: the module's TLS handshake
and the certificate chain proven through each APN that gives an IP address."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fieldtest.conftest import ec200u, invoke

from chargepoint.cli.fieldtest import apn_scan
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


def scan_args(emu, csms: LocalCsms, *extra: str) -> list[str]:
    return [
        "--port",
        emu.port_url,
        "--apn",
        "wrong.apn",
        "--apn",
        "iot.op",
        "--csms-url",
        csms.url + "/CP001",
        *extra,
    ]


async def test_each_apn_proves_the_tls_handshake(pki: DevelopmentPki, tmp_path: Path) -> None:
    async with tls_csms(pki, tmp_path) as csms, ec200u("bad-apn", good_apns=("iot.op",)) as emu:
        result = await invoke(apn_scan, scan_args(emu, csms, "--ca-file", str(pki.ca.cert_path)))
    assert result.exit_code == 0, result.output
    assert re.search(
        r"'iot.op'\s+10\.\S+\s+[\d.]+ s\s+TCP \d+ ms, TLS \d+ ms, WS \d+ ms", result.stdout
    )
    assert re.search(
        r"\[2/2\] APN 'iot.op' works: .* CSMS reached \(TCP \d+ ms, TLS verified in \d+ ms, "
        r"WebSocket \d+ ms\)",
        result.stderr,
    )
    assert result.stdout.rstrip().endswith(
        "PASS: 1 of 2 APNs give an IP address and reach the CSMS: 'iot.op'"
    )


async def test_profile_3_and_a_csms_of_another_ca_per_apn(
    pki: DevelopmentPki, other_pki: DevelopmentPki, tmp_path: Path
) -> None:
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
        result = await invoke(apn_scan, [*scan_args(emu, csms, *files), "--json"])
    assert result.exit_code == 0, result.output
    tries = json.loads(result.stdout)["apns"]
    tls = next(c for c in tries[0]["checks"] if c["name"] == "TLS")
    assert tls["status"] == "pass" and "client certificate accepted" in tls["figure"]
    async with tls_csms(other_pki, tmp_path) as csms, ec200u("ok") as emu:
        result = await invoke(apn_scan, scan_args(emu, csms, "--ca-file", str(pki.ca.cert_path)))
    assert result.exit_code == 1
    assert "none of the 2 APNs works, each for the same reason: the CSMS certificate at" in (
        " ".join(result.stdout.split())
    )
    assert "is not signed by ca.pem" in result.stdout


async def test_bad_files_are_usage_errors_before_any_port_opens(
    pki: DevelopmentPki, tmp_path: Path
) -> None:
    base = ["--port", "/dev/ttyNOPE", "--apn", "x", "--csms-url", "wss://h:1/o/CP1"]
    missing = tmp_path / "nope.pem"
    result = await invoke(apn_scan, [*base, "--ca-file", str(missing)])
    assert result.exit_code == 2 and f"CA file {missing}: no such file" in result.output
    result = await invoke(apn_scan, [*base, "--ca-file", str(pki.ca.cert_path), "--key", "k.pem"])
    assert result.exit_code == 2 and "--key is given without --cert" in result.output
    ws = ["--port", "/dev/ttyNOPE", "--apn", "x", "--csms-url", "ws://h:1/o/CP1"]
    result = await invoke(apn_scan, [*ws, "--ca-file", str(pki.ca.cert_path)])
    assert result.exit_code == 2 and "is for a wss:// --csms-url" in result.output
    result = await invoke(apn_scan, ["--help"])
    assert "EC200U only" in result.output and "--ca-file" in result.output
