"""A whole charger over wss:// through the emulated EC200U to the local CSMS in TLS mode:
the module's TLS for profiles 2 and 3, a TLS link dropped and reconnected, a CSMS from
another CA refused with the reason, TLS on the host, and an https download."""

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
from chargepoint.transport.ec200u import ModemSettings
from chargepoint.transport.tlssettings import tls_settings

from .conftest import FileServer

KEY = "0123456789abcdef0123456789abcdef"


def csms_for(pki: DevelopmentPki, tmp_path: Path, client_ca: bool = False) -> LocalCsms:
    return LocalCsms(
        port=0,
        log_path=tmp_path / "csms.jsonl",
        credentials=Credentials(shared=KEY),
        tls_cert=pki.csms.cert_path,
        tls_key=pki.csms.key_path,
        client_ca=pki.ca.cert_path if client_ca else None,
    )


@contextlib.asynccontextmanager
async def charger(
    url: str, pki: DevelopmentPki, profile: int, modem: ModemSettings, state: Path
) -> AsyncIterator[tuple[Station, Any]]:
    cp = pki.chargers["CP001"]
    cert = profile == 3
    tls = tls_settings(
        profile, pki.ca.cert_path, cp.cert_path if cert else None, cp.key_path if cert else None
    )
    station, link = assemble(
        ChargerSpec(
            Identity("CP001", serial="SN-1"),
            StationOptions(state_dir=state, auto_unplug_s=0.2),
            password=KEY,
        ),
        LinkSpec("ec200u", url, modem=modem, tls=tls),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_station(station, link, stop, Backoff(0.05, 0.2)))
    try:
        yield station, link
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def until(condition: Any, station: Station, timeout: float = 30) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await station.changed()


@pytest.mark.parametrize("profile", [2, 3])
async def test_a_charger_runs_over_the_modules_tls_and_reconnects_after_a_drop(
    pki: DevelopmentPki, emulator, tmp_path: Path, profile: int
) -> None:
    at_log = tmp_path / "at.log"
    modem = ModemSettings(emulator.port_url, at_log=at_log, ntp_server=None)
    async with (
        csms_for(pki, tmp_path, client_ca=profile == 3) as csms,
        charger(csms.url, pki, profile, modem, tmp_path / "s") as (station, _),
    ):
        await until(lambda: station.online, station)
        big = await csms.call("CP001", "GetConfiguration", {}, timeout=30)  # several QSSLSENDs
        assert len(big["configurationKey"]) >= 20
        emulator.faults.drop_tls(0)  # +QSSLURC: "closed",0
        await until(lambda: not station.online, station)
        await until(lambda: station.online, station)
        answer = await csms.call("CP001", "GetConfiguration", {"key": ["SecurityProfile"]})
        assert answer["configurationKey"][0]["value"] == str(profile)
    trace = at_log.read_text()
    assert trace.count("AT+QSSLOPEN=1,1,0,") >= 2 and "AT+QIOPEN" not in trace
    assert '+QSSLURC: "closed",0' in trace and "AT+QSSLCLOSE=0" in trace
    assert KEY not in trace


async def test_a_csms_from_another_ca_is_refused_with_one_line_naming_the_cause(
    pki: DevelopmentPki,
    other_pki: DevelopmentPki,
    emulator,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    modem = ModemSettings(emulator.port_url, ntp_server=None)
    async with (
        csms_for(other_pki, tmp_path) as csms,
        charger(csms.url, pki, 2, modem, tmp_path / "s") as (station, _),
    ):
        async with asyncio.timeout(30):  # the log is no station event: poll it
            while "566" not in caplog.text:
                await asyncio.sleep(0.05)
        assert not station.online
        assert csms.frames.calls("CP001", "BootNotification") == []
    assert "not signed by a CA given with --ca-file" in caplog.text


async def test_tls_on_the_host_and_an_https_download_through_the_modem(
    pki: DevelopmentPki, emulator, tmp_path: Path
) -> None:
    at_log = tmp_path / "at.log"
    modem = ModemSettings(emulator.port_url, at_log=at_log, tls_on_host=True)
    async with (
        csms_for(pki, tmp_path) as csms,
        charger(csms.url, pki, 2, modem, tmp_path / "s") as (station, link),
    ):
        await until(lambda: station.online, station)
        assert await csms.call("CP001", "GetConfiguration", {"key": ["SecurityProfile"]})
    trace = at_log.read_text()
    assert 'AT+QIOPEN=1,0,"TCP","127.0.0.1"' in trace and "AT+QSSL" not in trace


@pytest.mark.parametrize("on_host", [False, True])
async def test_an_https_download_through_the_modem_while_ocpp_stays_up(
    pki: DevelopmentPki, emulator, tmp_path: Path, https_files: FileServer, on_host: bool
) -> None:
    image = bytes(range(256)) * 40 + b'\r\nOK\r\n+QSSLURC: "closed",0\r\n'
    https_files.files["/fw/v2.bin"] = image
    at_log = tmp_path / "at.log"
    modem = ModemSettings(emulator.port_url, at_log=at_log, ntp_server=None, tls_on_host=on_host)
    async with (
        csms_for(pki, tmp_path) as csms,
        charger(csms.url, pki, 2, modem, tmp_path / "s") as (station, link),
    ):
        await until(lambda: station.online, station)
        got = await link.file_transfer().download(f"{https_files.url}/fw/v2.bin", len(image))
        assert got == image
        answer = await csms.call("CP001", "GetConfiguration", {"key": ["SecurityProfile"]})
        assert answer["configurationKey"][0]["value"] == "2"
    trace = at_log.read_text()
    if on_host:
        assert 'AT+QIOPEN=1,1,"TCP","127.0.0.1"' in trace and "AT+QSSL" not in trace
    else:
        assert "AT+QSSLOPEN=1,1,1," in trace and "AT+QSSLRECV=1,1500" in trace
