"""A whole charger (assembly, runner, store) over wss:// against the local CSMS in TLS
mode: profile 2 and 3 sessions, a SecurityProfile raise and its fallback, a new
AuthorizationKey, and no secret anywhere a user can read."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

import pytest

from chargepoint.assembly import ChargerSpec, LinkSpec, assemble
from chargepoint.core.settings import Identity
from chargepoint.csms.server import Credentials, LocalCsms
from chargepoint.security.pki import DevelopmentPki
from chargepoint.station import Station, StationOptions
from chargepoint.station.runner import Backoff, run_station
from chargepoint.transport.tlssettings import TlsSettings, tls_settings

KEY = "0123456789abcdef0123456789abcdef"
NEW_KEY = "fedcba9876543210fedcba9876543210"
Flavour = Literal["websockets", "sansio"]


def csms_for(pki: DevelopmentPki, tmp_path: Path, client_ca: bool = False, **kw: Any) -> LocalCsms:
    return LocalCsms(
        port=0,
        log_path=tmp_path / "csms.jsonl",
        credentials=Credentials(shared=KEY),
        tls_cert=pki.csms.cert_path,
        tls_key=pki.csms.key_path,
        client_ca=pki.ca.cert_path if client_ca else None,
        **kw,
    )


def settings(pki: DevelopmentPki, profile: int, with_cert: bool = False) -> TlsSettings:
    cp = pki.chargers["CP001"]
    cert = with_cert or profile == 3
    return tls_settings(
        profile, pki.ca.cert_path, cp.cert_path if cert else None, cp.key_path if cert else None
    )


@contextlib.asynccontextmanager
async def charger(
    url: str, tls: TlsSettings, state: Path, flavour: Flavour = "websockets"
) -> AsyncIterator[Station]:
    station, link = assemble(
        ChargerSpec(
            Identity("CP001", serial="SN-1"),
            StationOptions(state_dir=state, auto_unplug_s=0.2),
            password=KEY,
        ),
        LinkSpec("direct", url, flavour=flavour, tls=tls),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_station(station, link, stop, Backoff(0.05, 0.2)))
    try:
        yield station
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


def transaction_id(station: Station) -> int | None:
    transaction = station.connectors[1].transaction
    return None if transaction is None else transaction.transaction_id


async def until(condition: Any, station: Station, timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await station.changed()


@pytest.mark.parametrize("flavour", ["websockets", "sansio"])
@pytest.mark.parametrize("profile", [2, 3])
async def test_a_charger_boots_over_each_tls_profile(
    pki: DevelopmentPki, tmp_path: Path, profile: int, flavour: Flavour
) -> None:
    async with (
        csms_for(pki, tmp_path, client_ca=profile == 3) as csms,
        charger(csms.url, settings(pki, profile), tmp_path / "s", flavour) as station,
    ):
        await until(lambda: station.online, station)
        assert station.security_profile() == profile
        answer = await csms.call("CP001", "GetConfiguration", {"key": ["SecurityProfile"]})
        assert answer["configurationKey"][0]["value"] == str(profile)


async def test_a_raise_that_cannot_connect_falls_back(
    pki: DevelopmentPki, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """2 -> 3 against a CSMS that asks for no client certificate: profile 3 sends no
    Basic auth, the CSMS answers 401, and the charger goes back to 2 (WP A05.FR.08)."""
    caplog.set_level(logging.INFO)
    async with (
        csms_for(pki, tmp_path) as csms,
        charger(csms.url, settings(pki, 2, True), tmp_path / "s") as station,
    ):
        await until(lambda: station.online, station)
        change = {"key": "SecurityProfile", "value": "3"}
        assert (await csms.call("CP001", "ChangeConfiguration", change))["status"] == "Accepted"
        await until(lambda: "falling back" in caplog.text, station)
        await until(lambda: station.online, station)
        assert station.security_profile() == 2
        lower = {"key": "SecurityProfile", "value": "1"}
        assert (await csms.call("CP001", "ChangeConfiguration", lower))["status"] == "Rejected"
    assert "cannot connect with SecurityProfile 3" in caplog.text
    assert "SecurityProfile 2" in caplog.text


async def test_a_raise_that_connects_is_kept(pki: DevelopmentPki, tmp_path: Path) -> None:
    """2 -> 3 against a CSMS that takes both (client certificate optional)."""
    async with (
        csms_for(pki, tmp_path, client_ca=True, client_cert_required=False) as csms,
        charger(csms.url, settings(pki, 2, True), tmp_path / "s") as station,
    ):
        await until(lambda: station.online, station)
        change = {"key": "SecurityProfile", "value": "3"}
        assert (await csms.call("CP001", "ChangeConfiguration", change))["status"] == "Accepted"
        await until(lambda: not station.online, station)
        await until(lambda: station.online, station)
        assert station.security_profile() == 3
        assert station.store is not None
    # kept across a restart with the same command line (never lowered by it)
    async with (
        csms_for(pki, tmp_path, client_ca=True, client_cert_required=False) as csms,
        charger(csms.url, settings(pki, 2, True), tmp_path / "s") as station,
    ):
        await until(lambda: station.online, station)
        assert station.security_profile() == 3


async def test_a_new_authorization_key_reconnects_with_it(
    pki: DevelopmentPki, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The full profile-2 session whose every output is then searched for secrets."""
    caplog.set_level(logging.DEBUG)
    # as chargepoint.logs.setup does for every command: ocpp's own frame log (unmasked)
    # and websockets' frame dumps are quieted; cpsim's loggers log the frames masked
    caplog.set_level(logging.CRITICAL, "ocpp")
    caplog.set_level(logging.WARNING, "websockets")
    caplog.handler.setLevel(logging.DEBUG)  # set_level set the handler's level too
    state = tmp_path / "s"
    async with (
        csms_for(pki, tmp_path) as csms,
        charger(csms.url, settings(pki, 2), state) as station,
    ):
        await until(lambda: station.online, station)
        start = {"idTag": "TAG1", "connectorId": 1}
        await csms.call("CP001", "RemoteStartTransaction", start)
        await until(lambda: transaction_id(station) is not None, station)
        csms.credentials = Credentials(shared=NEW_KEY)  # the CSMS's side of A01.FR.03
        change = {"key": "AuthorizationKey", "value": NEW_KEY}
        assert (await csms.call("CP001", "ChangeConfiguration", change))["status"] == "Accepted"
        await until(lambda: not station.online, station)
        await until(lambda: station.online, station)  # only the new key gets in
        assert station.authorization_key() == NEW_KEY
        stop = {"transactionId": transaction_id(station)}
        assert (await csms.call("CP001", "RemoteStopTransaction", stop))["status"] == "Accepted"
        await until(lambda: transaction_id(station) is None and not station.queued, station)
    # a reconnect with the new key, in the same boot: not a reboot (audit G6a)
    assert "AuthorizationKey changed (code 1000): reconnecting" in caplog.text
    assert "rebooting" not in caplog.text
    secrets = [KEY, NEW_KEY]
    secrets += [base64.b64encode(f"CP001:{k}".encode()).decode() for k in (KEY, NEW_KEY)]
    key_pem = pki.chargers["CP001"].key_path.read_text().splitlines()[1]
    csms_key = pki.csms.key_path.read_text().splitlines()[1]
    secrets += [key_pem, csms_key]
    outputs = {"log": caplog.text}
    for path in [tmp_path / "csms.jsonl", *state.rglob("*")]:
        if path.is_file() and not path.name.startswith("cpsim.sqlite3"):  # the store
            outputs[str(path)] = path.read_text(errors="replace")
    assert len(outputs) >= 3  # the log, the CSMS's frame log, the timeline
    for where, text in outputs.items():
        for secret in secrets:
            assert secret not in text, f"a secret in {where}"
