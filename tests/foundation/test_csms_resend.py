"""A call resent with the same unique id gets the same answer, and its handler runs once.

A charger that lost the link (or restarted) before the answer to its StartTransaction
arrived sends the very same frame again (OCPP-J allows it).  A second transactionId
would be a transaction the charger never stops: the local CSMS answers the resend with
the answer it gave the first time, over the same connection or a new one.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from chargepoint.csms.handlers import Answered
from chargepoint.csms.server import LocalCsms

START = {"connectorId": 1, "idTag": "TAG-1", "meterStart": 0, "timestamp": "2030-01-01T00:00:00Z"}


def raw_client(csms: LocalCsms, cp_id: str = "CP-RAW") -> Any:
    return connect(f"{csms.url}/{cp_id}", subprotocols=[Subprotocol("ocpp1.6")])


async def exchange(ws: ClientConnection, frame: list[Any]) -> Any:
    await ws.send(json.dumps(frame))
    return json.loads(await ws.recv())


async def test_a_resent_start_transaction_gets_the_same_transaction_id(
    csms: LocalCsms, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="cpsim.csms")
    call = [2, "start-1", "StartTransaction", START]
    async with raw_client(csms) as ws:
        first = await exchange(ws, call)
        again = await exchange(ws, call)
        other = await exchange(ws, [2, "start-2", "StartTransaction", START])
    assert first[:2] == [3, "start-1"] and first[2]["idTagInfo"] == {"status": "Accepted"}
    assert again == first
    # the handler ran once for start-1: the next transaction has the next id
    assert other[2]["transactionId"] == first[2]["transactionId"] + 1

    # a restarted charger resends it on a new connection: still the same answer
    async with raw_client(csms) as ws:
        assert await exchange(ws, call) == first

    resends = [r for r in caplog.records if "is a resend" in r.getMessage()]
    assert len(resends) == 2 and all(r.levelno == logging.INFO for r in resends)
    assert "CP-RAW: StartTransaction start-1 is a resend" in resends[0].getMessage()
    # the frame log shows what went over the wire: three calls start-1, three equal answers
    answers = [
        f.message for f in csms.frames.frames if f.direction == "sent" and f.message[1] == "start-1"
    ]
    assert answers == [first] * 3


async def test_a_resend_is_the_same_call_of_the_same_charger(csms: LocalCsms) -> None:
    async with raw_client(csms, "CP-A") as a, raw_client(csms, "CP-B") as b:
        first = await exchange(a, [2, "42", "StartTransaction", START])
        # another charger may use the same id: its own call, its own transaction
        theirs = await exchange(b, [2, "42", "StartTransaction", START])
        # the same id with another action is another call
        beat = await exchange(a, [2, "42", "Heartbeat", {}])
        # and so is the same id and action with another payload (ids need only be unique
        # on one connection)
        later = await exchange(a, [2, "42", "StartTransaction", {**START, "meterStart": 5}])
    assert theirs[2]["transactionId"] != first[2]["transactionId"]
    assert "currentTime" in beat[2]
    assert later[2]["transactionId"] not in (first[2]["transactionId"], theirs[2]["transactionId"])


async def test_a_callerror_is_repeated_too(csms: LocalCsms) -> None:
    bad = [2, "bad-1", "StartTransaction", {"connectorId": 1}]  # required fields missing
    async with raw_client(csms) as ws:
        first = await exchange(ws, bad)
        again = await exchange(ws, bad)
    assert first[0] == 4 and first[1] == "bad-1"
    assert again == first


def test_only_the_last_answers_are_kept() -> None:
    answered = Answered(size=2)
    for n in range(3):
        answered.put("Heartbeat", str(n), {}, f"[3,{n}]")
    assert answered.get("Heartbeat", "0", {}) is None
    assert answered.get("Heartbeat", "1", {}) == "[3,1]"
    assert answered.get("Heartbeat", "2", {}) == "[3,2]"
