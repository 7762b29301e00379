"""End to end: a charger on the direct link to the local CSMS over wss://, whose certificate
is from a CA the charger does not trust, raises InvalidCentralSystemCertificate (WP
A00.FR.309) once for the whole outage; the event is delivered once the right CA is
configured and the charger connects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from chargepoint.assembly import ChargerSpec, LinkSpec, assemble
from chargepoint.core.settings import Identity
from chargepoint.csms.server import Credentials, LocalCsms
from chargepoint.security.pki import DevelopmentPki
from chargepoint.station import Station, StationOptions
from chargepoint.station.runner import Backoff, run_station
from chargepoint.transport.tlssettings import tls_settings

KEY = "0123456789abcdef0123456789abcdef"
EVENT = "InvalidCentralSystemCertificate"


@contextlib.asynccontextmanager
async def charger(url: str, ca: Path, state: Path) -> AsyncIterator[Station]:
    station, link = assemble(
        ChargerSpec(
            Identity("CP001", serial="SN-1"),
            StationOptions(state_dir=state, config_overrides={"SecurityExtension": "true"}),
            password=KEY,
        ),
        LinkSpec("direct", url, tls=tls_settings(2, ca)),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_station(station, link, stop, Backoff(0.05, 0.1)))
    try:
        yield station
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def until(condition: Any, station: Station, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await station.changed()


def raised(station: Station) -> list[str]:
    return [entry[1] for entry in station.core.security_log if entry[1] == EVENT]


async def test_an_untrusted_csms_certificate_is_reported_once_the_right_ca_is_given(
    pki: DevelopmentPki,
    other_pki: DevelopmentPki,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="cpsim.runner")
    csms = LocalCsms(
        port=0,
        credentials=Credentials(shared=KEY),
        tls_cert=other_pki.csms.cert_path,
        tls_key=other_pki.csms.key_path,
    )
    state = tmp_path / "state"
    async with csms:
        async with charger(csms.url, pki.ca.cert_path, state) as station:
            async with asyncio.timeout(30):  # several attempts: the runner's log says so
                while caplog.text.count("cannot connect") < 3:
                    await asyncio.sleep(0.02)
            assert raised(station) == [EVENT]  # one for the whole outage
            assert csms.frames.calls("CP001") == []  # nothing reached the CSMS
        async with charger(csms.url, other_pki.ca.cert_path, state) as station:
            await until(lambda: station.online and station.queued == 0, station)
        events = [f.message[3] for f in csms.frames.calls("CP001", "SecurityEventNotification")]
    refused = [e for e in events if e["type"] == EVENT]
    assert len(refused) == 1
    assert refused[0]["techInfo"].startswith("untrusted: ")
    assert "unable to get local issuer certificate" in refused[0]["techInfo"]
