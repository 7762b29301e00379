"""The charger through the emulated ESP-AT module (EspAtLink, pty, emulator) to the local CSMS."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from ocpp.exceptions import OCPPError

from chargepoint.assembly import ChargerSpec, LinkSpec, build_link, build_station
from chargepoint.core.settings import Identity
from chargepoint.csms.server import Credentials, LocalCsms
from chargepoint.station import Station
from chargepoint.transport.base import LinkError
from chargepoint.transport.espat import EspAtLink, EspAtSettings
from modem.emulator import Emulator
from modem.espat import CommandTooLong

from .helpers import PASSWORD, SSID, esp, esp_emulator

# 5.2 kB on the wire once ocpp has escaped it: brackets, quotes, backslashes, \uXXXX.
DATA = 'é€ [x] \\"q\\" ' * 190


def esp_link(
    csms: LocalCsms, emu: Emulator, *, at_log: Path | None = None, **settings: Any
) -> LinkSpec:
    """The link ``cpsim run --modem esp-at`` asks for; the charger's id, key and ping
    interval (WebSocketPingInterval, 60 by default) come from the station."""
    settings.setdefault("wifi_ssid", SSID)
    settings.setdefault("wifi_password", PASSWORD)
    return LinkSpec(
        "esp-at", csms.url, modem=EspAtSettings(emu.port_url, at_log=at_log, **settings)
    )


def idle_station(password: str | None = None) -> Station:
    """A charger that is not run, for the tests that drive its link by hand."""
    return build_station(ChargerSpec(Identity("CP001"), password=password))


def esp_link_of(station: Station, spec: LinkSpec) -> EspAtLink:
    link = build_link(spec, station)
    assert isinstance(link, EspAtLink)
    return link


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with esp_emulator(baud=115200) as emu:
        yield emu


async def test_charging_session_through_the_emulated_esp(
    csms: LocalCsms, emulator: Emulator, start_charger, tmp_path: Path
) -> None:
    at_log = tmp_path / "at.log"
    charger = await start_charger(
        link_spec=esp_link(csms, emulator, at_log=at_log),
        config_overrides={"MeterValueSampleInterval": "1"},
    )
    await charger.booted(timeout=30)
    mark = csms.frames.frames[-1].seq
    answer = await charger.call("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1})
    assert answer == {"status": "Accepted"}
    start = await charger.received("StartTransaction", timeout=15, after=mark)
    tx_id = (await charger.answer_to(start)).payload["transactionId"]
    meter = await charger.received("MeterValues", timeout=15, after=start.seq)
    assert meter.payload["transactionId"] == tx_id
    answer = await charger.call("RemoteStopTransaction", {"transactionId": tx_id})
    assert answer == {"status": "Accepted"}
    stop = await charger.received("StopTransaction", timeout=15, after=meter.seq)
    assert stop.payload["transactionId"] == tx_id and stop.payload["reason"] == "Remote"
    await charger.received(
        "StatusNotification", after=stop.seq, where=lambda p: p["status"] == "Available"
    )
    statuses = [
        f.payload["status"]
        for f in csms.frames.calls("CP001", "StatusNotification")
        if f.seq > mark and f.payload["connectorId"] == 1
    ]
    assert statuses == ["Preparing", "Charging", "Finishing", "Available"]
    trace = at_log.read_text()
    assert f'AT+WSOPEN=0,"{csms.url}/CP001","ocpp1.6",20000' in trace
    assert "AT+WSCFG=0,60,120,8192" in trace  # WebSocketPingInterval 60
    sends = re.findall(r">> AT\+WSSEND=0,(\d+)(,\d+)?\n", trace)
    assert sends and all(opcode == "" for _, opcode in sends)  # text frames only


@pytest.mark.parametrize("buffer_size", [1024, 8192])
async def test_big_messages_both_ways(
    csms: LocalCsms, emulator: Emulator, start_charger, tmp_path: Path, buffer_size: int
) -> None:
    at_log = tmp_path / "at.log"
    charger = await start_charger(
        connectors=8,
        link_spec=esp_link(csms, emulator, at_log=at_log, buffer_size=buffer_size),
        data_transfer_vendors=frozenset({"com.example"}) if buffer_size == 8192 else frozenset(),
    )
    await charger.booted(timeout=30)
    # CSMS -> charger: 5.2 kB in several +WS_DATA records, reassembled before decoding.
    answer = await charger.call(
        "DataTransfer", {"vendorId": "com.example", "data": DATA}, timeout=30
    )
    if buffer_size == 8192:  # echoed: charger -> CSMS in one AT+WSSEND of 5.2 kB
        assert answer == {"status": "Accepted", "data": DATA}
    else:  # one AT+WSSEND is at most 1014 bytes: the answer must stay small
        assert answer == {"status": "UnknownVendorId"}
    records = [int(n) for n in re.findall(r"<< \+WS_DATA:0,(\d+),", at_log.read_text())]
    assert max(records) <= buffer_size
    if buffer_size == 1024:
        assert records.count(1024) >= 5  # the DataTransfer came in pieces
    if buffer_size == 8192:  # charger -> CSMS ~3 kB: GetConfiguration of 8 connectors
        config = await charger.call("GetConfiguration", {}, timeout=30)
        assert len(config["configurationKey"]) >= 22
        assert max(int(n) for n in re.findall(r">> AT\+WSSEND=0,(\d+)", at_log.read_text())) > 2500


async def test_reconnects_over_the_same_port(
    csms: LocalCsms, emulator: Emulator, start_charger, tmp_path: Path
) -> None:
    at_log = tmp_path / "at.log"
    charger = await start_charger(link_spec=esp_link(csms, emulator, at_log=at_log))
    await charger.booted(timeout=30)
    link = charger.link
    assert isinstance(link, EspAtLink)
    device = link._device
    for fault in (
        lambda: asyncio.ensure_future(csms.disconnect("CP001")),  # CSMS close: +WS_CLOSED
        emulator.faults.drop_tcp,  # TCP loss: +WS_DISCONNECTED
        emulator.faults.wifi_drop,  # AP gone and back
    ):
        mark = csms.frames.frames[-1].seq
        fault()
        boot = await charger.received("BootNotification", after=mark, timeout=30)
        await charger.received(
            "StatusNotification", after=boot.seq, timeout=30, where=lambda p: p["connectorId"] == 1
        )
    assert link._device is device  # the port stayed open
    assert at_log.read_text().count(">> ATE0") == 1


async def test_ping_interval_follows_the_charger_at_each_connect(
    csms: LocalCsms, emulator: Emulator, start_charger
) -> None:
    charger = await start_charger(link_spec=esp_link(csms, emulator))
    await charger.booted(timeout=30)
    assert esp(emulator).state.configs[0].ping_interval == 60
    await charger.call("ChangeConfiguration", {"key": "WebSocketPingInterval", "value": "15"})
    mark = csms.frames.frames[-1].seq
    await csms.disconnect("CP001")
    await charger.received("BootNotification", after=mark, timeout=30)
    config = esp(emulator).state.configs[0]
    assert (config.ping_interval, config.ping_timeout) == (15, 30)


async def test_basic_auth_through_wshead(tmp_path: Path, emulator: Emulator) -> None:
    """The charger's AuthorizationKey (as ``cpsim run --password`` sets it) goes in AT+WSHEAD."""
    async with LocalCsms(port=0, credentials=Credentials(shared="cp-secret")) as csms:
        good = esp_link_of(idle_station(password="cp-secret"), esp_link(csms, emulator))
        connection = await good.connect()
        await connection.close()
        await good.aclose()  # one program per port
        bad = esp_link_of(idle_station(password="wrong"), esp_link(csms, emulator))
        with pytest.raises(LinkError, match="does not show the HTTP 401"):
            await bad.connect()
        await bad.aclose()


@pytest.mark.parametrize(
    "options,message",
    [
        ({"wifi_password": "nope"}, 'Wi-Fi "cpsim-lab": wrong password'),
        ({"wifi_ssid": "lab-5g"}, 'Wi-Fi "lab-5g": access point not found'),
    ],
)
async def test_wifi_failures_name_the_network(
    csms: LocalCsms, emulator: Emulator, options: dict[str, Any], message: str
) -> None:
    link = esp_link_of(idle_station(), esp_link(csms, emulator, **options))
    with pytest.raises(LinkError, match=message):
        await link.connect()
    await link.aclose()


async def test_firmware_without_websockets(csms: LocalCsms) -> None:
    async with esp_emulator(ws_commands=False) as emu:
        link = esp_link_of(idle_station(), esp_link(csms, emu))
        with pytest.raises(LinkError, match=r"menuconfig: Component config > AT > AT WebSocket"):
            await link.connect()
        await link.aclose()


def test_too_long_url_is_refused_when_the_link_is_made(tmp_path: Path) -> None:
    """build_link refuses it (a ValueError, as ``cpsim run`` reports it) before any port opens."""
    url = "ws://csms.example.com:9000/" + "ocpp/" * 46  # + /CP001: past AT+WSOPEN's 256 bytes
    spec = LinkSpec("esp-at", url, modem=EspAtSettings("/dev/null", SSID, PASSWORD))
    with pytest.raises(CommandTooLong, match="shorten the CSMS URL or the charge-point id"):
        build_link(spec, idle_station())


async def test_an_answer_too_large_for_one_wssend_becomes_a_callerror(
    csms: LocalCsms, start_charger, emulator: Emulator, tmp_path: Path
) -> None:
    """Default buffer 1024: a ~1.6 kB GetConfiguration answer cannot go out in one AT+WSSEND."""
    spec = esp_link(csms, emulator, at_log=tmp_path / "at.log", buffer_size=1024)
    charger = await start_charger(link_spec=spec)
    await charger.booted(timeout=30)
    mark = csms.frames.frames[-1].seq
    with pytest.raises(OCPPError) as info:
        await charger.call("GetConfiguration", {}, timeout=20)
    assert info.value.code == "InternalError"
    assert "too large" in str(info.value.description)
    small = await charger.call("GetConfiguration", {"key": ["HeartbeatInterval"]}, timeout=20)
    assert small["configurationKey"][0]["key"] == "HeartbeatInterval"  # the link stayed up
    assert not [f for f in csms.frames.frames if f.seq > mark and f.action == "BootNotification"]
