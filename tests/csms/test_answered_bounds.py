"""The answers kept for resends stay a few per charger however long the CSMS runs
(issue 14: 1,000 each, 10 million at 10,000 chargers), and a resend still gets its
first answer, over the same connection or after a reconnect and a boot burst."""

from __future__ import annotations

import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from chargepoint.csms.handlers import ANSWERS_EARLIER_LINKS, ANSWERS_THIS_LINK, Answered
from chargepoint.csms.server import LocalCsms

LIMIT = ANSWERS_THIS_LINK + ANSWERS_EARLIER_LINKS
START = {"connectorId": 1, "idTag": "TAG-1", "meterStart": 0, "timestamp": "2030-01-01T00:00:00Z"}


def test_many_exchanges_over_many_links_keep_a_bounded_number() -> None:
    answered = Answered()
    for link in range(50):
        answered.new_link()
        for n in range(200):
            answered.put("Heartbeat", f"{link}-{n}", {}, f"[3,{n}]")
            assert len(answered) <= LIMIT
    assert len(answered) == LIMIT
    assert answered.get("Heartbeat", "49-199", {}) == "[3,199]"  # the last: kept
    assert answered.get("Heartbeat", "48-199", {}) == "[3,199]"  # the last before a link went
    assert answered.get("Heartbeat", "0-0", {}) is None  # long answered: gone


def test_the_last_answer_before_a_link_went_outlives_the_next_boot_burst() -> None:
    answered = Answered()
    answered.put("StartTransaction", "start-1", START, "[3,start-1]")
    answered.new_link()  # reconnected: boot, a StatusNotification per connector
    for n in range(ANSWERS_THIS_LINK * 3):
        answered.put("StatusNotification", str(n), {"connectorId": n}, "[3]")
    assert answered.get("StartTransaction", "start-1", START) == "[3,start-1]"


def raw_client(csms: LocalCsms) -> Any:
    return connect(f"{csms.url}/CP-SOAK", subprotocols=[Subprotocol("ocpp1.6")])


async def exchange(ws: ClientConnection, frame: list[Any]) -> Any:
    await ws.send(json.dumps(frame))
    return json.loads(await ws.recv())


async def test_a_long_run_against_the_csms_keeps_few_answers_and_still_replays(
    csms: LocalCsms,
) -> None:
    start = [2, "start-1", "StartTransaction", START]
    async with raw_client(csms) as ws:
        for n in range(300):
            await exchange(ws, [2, f"beat-{n}", "Heartbeat", {}])
        first = await exchange(ws, start)
        assert await exchange(ws, start) == first  # resent on the same connection
    # the answer was lost with the link: the charger boots again, then resends
    async with raw_client(csms) as ws:
        await exchange(
            ws, [2, "boot", "BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"}]
        )
        for connector in range(3):
            status = {"connectorId": connector, "errorCode": "NoError", "status": "Available"}
            await exchange(ws, [2, f"status-{connector}", "StatusNotification", status])
        assert await exchange(ws, start) == first  # the same transactionId
        for n in range(300):
            await exchange(ws, [2, f"beat-{n}", "Heartbeat", {}])
            assert len(csms.answered["CP-SOAK"]) <= LIMIT
    assert len(csms.answered["CP-SOAK"]) <= LIMIT
