"""A new AuthorizationKey set over OCPP: the local CSMS checks the new one from the
charger's Accepted on (WP A01.FR.03), and shows neither key anywhere.

End to end: a whole charger (assembly, runner, store) against a LocalCsms with a
password, the change sent through the control API as ``cpsim csms call`` sends it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from chargepoint.assembly import ChargerSpec, LinkSpec, assemble
from chargepoint.core.settings import Identity
from chargepoint.csms.credentials import Credentials
from chargepoint.csms.framelog import format_frame
from chargepoint.csms.server import LocalCsms
from chargepoint.scenario import load_scenario
from chargepoint.scenario.runner import RunOptions, run_scenario
from chargepoint.station import Station, StationOptions
from chargepoint.station.runner import Backoff, run_station

KEY = "0123456789abcdef0123456789abcdef"
NEW_KEY = "fedcba9876543210fedcba9876543210"
CHANGE = {"key": "AuthorizationKey", "value": NEW_KEY}


def basic(cp_id: str, key: str) -> str:
    return "Basic " + base64.b64encode(f"{cp_id}:{key}".encode()).decode()


async def connects(csms: LocalCsms, cp_id: str, key: str) -> bool:
    """Whether a WebSocket with this Basic auth gets in (False: HTTP 401)."""
    try:
        async with connect(
            f"{csms.url}/{cp_id}",
            subprotocols=[Subprotocol("ocpp1.6")],
            additional_headers={"Authorization": basic(cp_id, key)},
        ):
            return True
    except InvalidStatus as exc:
        assert exc.response.status_code == 401
        return False


@contextlib.asynccontextmanager
async def charger(url: str, state: Path) -> AsyncIterator[Station]:
    station, link = assemble(
        ChargerSpec(
            Identity("CP001", serial="SN-1"), StationOptions(state_dir=state), password=KEY
        ),
        LinkSpec("direct", url),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(run_station(station, link, stop, Backoff(0.05, 0.2)))
    try:
        yield station
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


async def until(condition: object, station: Station, timeout: float = 20) -> None:
    assert callable(condition)
    async with asyncio.timeout(timeout):
        while not condition():
            await station.changed()


async def test_the_charger_reconnects_with_its_new_key_and_no_output_shows_a_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    log_path = tmp_path / "csms.jsonl"
    async with (
        LocalCsms(port=0, log_path=log_path, credentials=Credentials(shared=KEY)) as csms,
        aiohttp.ClientSession() as http,
        charger(csms.url, tmp_path / "state") as station,
    ):
        await until(lambda: station.online, station)
        before = len(csms.frames.frames)
        async with http.post(
            f"{csms.api_url}/api/call/CP001/ChangeConfiguration",
            json={"payload": CHANGE},
            headers={"Authorization": f"Bearer {csms.api_token}"},
        ) as response:
            assert response.status == 200
            assert (await response.json())["result"] == {"status": "Accepted"}
        await until(lambda: not station.online, station)
        await until(lambda: station.online, station)  # in with the new key
        assert station.authorization_key() == NEW_KEY
        # and booted on that connection (BootNotification Accepted)
        boot = await csms.frames.wait_for(
            lambda f: f.seq > before and f.action == "BootNotification", timeout=10
        )
        answer = await csms.frames.wait_for(
            lambda f: f.direction == "sent" and f.message[:2] == [3, boot.message[1]], timeout=10
        )
        assert answer.payload["status"] == "Accepted"
        # A01.FR.03: the old key is void for CP001, and only for CP001
        assert not await connects(csms, "CP001", KEY)
        assert await connects(csms, "CP002", KEY)
        async with http.get(
            f"{csms.api_url}/api/log",
            headers={"Authorization": f"Bearer {csms.api_token}"},
        ) as response:
            api_log = await response.text()
        printed = "\n".join(format_frame(f) for f in csms.frames.frames)  # cpsim csms's stderr
    sent = [f for f in csms.frames.frames if f.action == "ChangeConfiguration"]
    assert sent and sent[0].payload == CHANGE  # in memory, as sent
    # the CSMS's log lines (the charger's websockets client logs its own request headers)
    lines = [r.getMessage() for r in caplog.records if not r.name.startswith("websockets.client")]
    assert any("< Authorization: ***" in line for line in lines)  # websockets.server, masked
    outputs = {
        "log": "\n".join(lines),
        "jsonl": log_path.read_text(),
        "api": api_log,
        "printed": printed,
    }
    assert "AuthorizationKey" in outputs["jsonl"] and "AuthorizationKey" in outputs["api"]
    secrets = [KEY, NEW_KEY, *(basic("CP001", k).split()[1] for k in (KEY, NEW_KEY))]
    secrets.append(csms.api_token)
    for where, text in outputs.items():
        for secret in secrets:
            assert secret not in text, f"a key in the CSMS's {where}"
    assert json.loads(api_log)


SCENARIO = f"""\
name: a new key over OCPP
charger: {{id: CP-KEY, password: "{KEY}", time_scale: virtual}}
steps:
  - wait: {{until: boot_accepted}}
  - csms:
      call: ChangeConfiguration
      payload: {{key: AuthorizationKey, value: "{NEW_KEY}"}}
      result: {{status: Accepted}}
  - expect_received: {{action: BootNotification, within: 1m}}
  - csms:
      call: GetConfiguration
      payload: {{key: [HeartbeatInterval]}}
"""


async def test_a_scenario_changes_the_key_and_the_charger_comes_back(tmp_path: Path) -> None:
    """A scenario's CSMS (password: the charger's) adopts the key the scenario sets."""
    path = tmp_path / "key.yaml"
    path.write_text(SCENARIO)
    result = await run_scenario(load_scenario(path), RunOptions())
    assert result.status == "passed", [(s.status, s.details) for s in result.steps]
    boots = [f for f in result.frames if f["message"][2:3] == ["BootNotification"]]
    assert len(boots) == 2  # the first connection's and the one with the new key
    assert NEW_KEY not in json.dumps(result.frames)
