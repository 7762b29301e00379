"""``cpsim run`` TLS options: every bad combination or file is a usage error (exit 2)
naming the option and the file, before anything is opened."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from chargepoint.security.pki import DevelopmentPki, init_pki


def cpsim(*args: str) -> Result:
    from chargepoint.cli import main

    return CliRunner().invoke(main, list(args))


def run(tmp_path: Path, url: str, *extra: str) -> Result:
    # port 9 (discard) on loopback: nothing may be dialled before the options are checked
    return cpsim("run", "--id", "CP001", "--url", url, "--state-dir", str(tmp_path / "s"), *extra)


WSS = "wss://127.0.0.1:9/ocpp"


def test_scheme_and_profile_must_match(tmp_path: Path, pki: DevelopmentPki) -> None:
    result = run(tmp_path, "ws://127.0.0.1:9/ocpp", "--security-profile", "2")
    assert result.exit_code == 2 and "must start with wss://" in result.output
    ca = str(pki.ca.cert_path)
    result = run(tmp_path, WSS, "--security-profile", "1", "--ca-file", ca)
    assert result.exit_code == 2 and "must start with ws://" in result.output


def test_profile_3_without_a_certificate(tmp_path: Path, pki: DevelopmentPki) -> None:
    result = run(tmp_path, WSS, "--security-profile", "3", "--ca-file", str(pki.ca.cert_path))
    assert result.exit_code == 2 and "--cert and --key" in result.output


def test_a_missing_ca_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    result = run(tmp_path, WSS, "--ca-file", str(missing))
    assert result.exit_code == 2
    assert "--ca-file" in result.output and str(missing) in result.output
    assert "no such file" in result.output
    assert not (tmp_path / "s").exists()  # nothing opened, not even the state dir


def test_a_key_of_another_certificate_is_named(tmp_path: Path, pki: DevelopmentPki) -> None:
    cp = pki.chargers["CP001"]
    other = pki.chargers["CP002"]
    result = run(
        tmp_path,
        WSS,
        "--security-profile", "3",
        "--ca-file", str(pki.ca.cert_path),
        "--cert", str(cp.cert_path),
        "--key", str(other.key_path),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--key" in result.output and "does not belong to certificate" in result.output
    assert "PRIVATE KEY" not in result.output


def test_an_expired_certificate_is_named(tmp_path: Path, pki: DevelopmentPki) -> None:
    import datetime as dt

    old = init_pki(tmp_path / "old", now=dt.datetime(2001, 1, 1, tzinfo=dt.UTC))
    cp = old.chargers["CP001"]
    result = run(
        tmp_path,
        WSS,
        "--security-profile", "3",
        "--ca-file", str(pki.ca.cert_path),
        "--cert", str(cp.cert_path),
        "--key", str(cp.key_path),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--cert" in result.output and "expired" in result.output


@pytest.mark.parametrize("given", ["--cert", "--key"])
def test_a_certificate_without_its_key(tmp_path: Path, pki: DevelopmentPki, given: str) -> None:
    result = run(tmp_path, WSS, given, str(pki.chargers["CP001"].cert_path))
    assert result.exit_code == 2 and "give both" in result.output


def test_the_local_csms_names_a_bad_tls_file(tmp_path: Path, pki: DevelopmentPki) -> None:
    result = cpsim("csms", "--port", "0", "--tls-cert", str(pki.csms.cert_path))
    assert result.exit_code == 2 and "--tls-cert and --tls-key go together" in result.output
    result = cpsim(
        "csms",
        "--port", "0",
        "--tls-cert", str(pki.csms.cert_path),
        "--tls-key", str(pki.chargers["CP001"].key_path),
    )  # fmt: skip
    assert result.exit_code == 2 and "does not belong to certificate" in result.output
    missing = tmp_path / "ca.pem"
    result = cpsim(
        "csms",
        "--port", "0",
        "--tls-cert", str(pki.csms.cert_path),
        "--tls-key", str(pki.csms.key_path),
        "--client-ca", str(missing),
    )  # fmt: skip
    assert result.exit_code == 2 and "--client-ca" in result.output
    assert str(missing) in result.output
