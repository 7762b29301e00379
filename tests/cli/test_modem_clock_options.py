"""``--tls-on-host`` (EC200U) and ``--ntp-server`` (both modems): refused where they can do
nothing, and handed to the modem's settings where they can."""

from __future__ import annotations

from typing import Any

import click
import pytest
from click.testing import CliRunner

from chargepoint.cli import main
from chargepoint.cli import run as run_module

URL = ["--id", "CP1", "--url", "ws://127.0.0.1:9/ocpp"]
EC200U = ["--modem", "ec200u", "--port", "/dev/ttyNOPE", "--apn", "internet"]
ESPAT = ["--modem", "esp-at", "--port", "/dev/ttyNOPE", "--wifi-ssid", "lab"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--tls-on-host"], "--tls-on-host: only with --modem ec200u"),
        ([*ESPAT, "--tls-on-host"], "--tls-on-host: only with --modem ec200u"),
        (["--ntp-server", "ntp.example"], "--ntp-server: only with --modem ec200u or"),
    ],
)
def test_options_that_can_do_nothing_are_usage_errors(extra: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["run", *URL, *extra])
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.parametrize("modem", [EC200U, ESPAT], ids=["ec200u", "esp-at"])
def test_the_modem_gets_them(monkeypatch: pytest.MonkeyPatch, modem: list[str]) -> None:
    seen: dict[str, Any] = {}

    def assemble(charger: Any, link: Any) -> Any:  # stop before any port is opened
        seen["modem"] = link.modem
        raise click.UsageError("assembled")

    monkeypatch.setattr(run_module, "assemble", assemble)
    extra = ["--ntp-server", "ntp.example"] + (["--tls-on-host"] if modem is EC200U else [])
    result = CliRunner().invoke(main, ["run", *URL, *modem, *extra])
    assert "assembled" in result.output, result.output
    assert seen["modem"].ntp_server == "ntp.example"
    if modem is EC200U:
        assert seen["modem"].tls_on_host is True
