"""The local CSMS's lean call path answers exactly as ocpp's own ``_handle_call`` would.

Each frame goes to two sessions over a connection that keeps what they send: one
answering on :class:`CsmsSession`'s path (route map per class, compiled schema checks),
one through ocpp's ``ChargePoint._handle_call`` with its per-connection route map.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from ocpp.routing import create_route_map
from ocpp.v16 import ChargePoint

from chargepoint.csms.handlers import AnswerRule, CsmsPolicy, CsmsSession


class Kept:
    """A connection that keeps what the session sends."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, message: str) -> None:
        self.sent.append(message)


class OcppPathSession(CsmsSession):
    """Answers through ocpp's ``ChargePoint._handle_call``, as the CSMS did before."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.route_map = create_route_map(self)

    async def _answer(self, msg: Any, merge: dict[str, Any] | None = None) -> Any:
        return await ChargePoint._handle_call(self, msg)


def policy() -> CsmsPolicy:
    return CsmsPolicy(heartbeat_interval=30, clock=lambda: datetime(2026, 12, 7, 12, tzinfo=UTC))


STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
START = {"connectorId": 1, "meterStart": 0, "timestamp": "2026-12-07T12:00:00Z"}
SAMPLE = {"timestamp": "2026-12-07T12:00:00Z", "sampledValue": [{"value": "1.5"}]}
FRAMES = [
    [2, "b1", "BootNotification", {"chargePointVendor": "v", "chargePointModel": "m"}],
    [2, "s1", "StatusNotification", STATUS],
    [2, "h1", "Heartbeat", {}],
    [2, "a1", "Authorize", {"idTag": "BLOCKED"}],
    [2, "t1", "StartTransaction", {**START, "idTag": "T"}],
    [2, "m1", "MeterValues", {"connectorId": 1, "meterValue": [SAMPLE]}],
    [2, "d1", "DataTransfer", {"vendorId": "x"}],
    # every kind of CALLERROR: type, required, unknown field, enum, length, no handler, no action
    [2, "e1", "StatusNotification", {**STATUS, "connectorId": "1"}],
    [2, "e2", "BootNotification", {"chargePointVendor": "v"}],
    [2, "e3", "Heartbeat", {"extra": 1}],
    [2, "e4", "StatusNotification", {**STATUS, "status": "Sleeping"}],
    [2, "e5", "Authorize", {"idTag": "x" * 21}],
    [2, "e6", "GetConfiguration", {}],
    [2, "e7", "TransactionEvent", {}],
    [2, "e8", "StatusNotification", {**STATUS, "connectorId": True}],
]


@pytest.mark.parametrize("frame", FRAMES, ids=[str(f[1]) for f in FRAMES])
async def test_a_call_is_answered_as_ocpps_handle_call_answers_it(frame: list[Any]) -> None:
    ours, reference = Kept(), Kept()
    text = json.dumps(frame)
    await CsmsSession("CP1", ours, policy()).route_message(text)
    await OcppPathSession("CP1", reference, policy()).route_message(text)
    assert ours.sent == reference.sent
    assert len(ours.sent) == 1


async def test_an_answer_rule_merges_over_the_checked_result_and_a_resend_gets_it_again() -> None:
    rules = policy()
    rules.set_answer(AnswerRule("BootNotification", result={"status": "Pending"}, times=1))
    sent = Kept()
    session = CsmsSession("CP1", sent, rules)
    text = json.dumps(FRAMES[0])
    await session.route_message(text)
    await session.route_message(text)  # the same call again: the same answer
    first = json.loads(sent.sent[0])
    assert first[2]["status"] == "Pending" and first[2]["interval"] == 30
    assert sent.sent[1] == sent.sent[0]


def test_the_session_has_every_attribute_ocpps_chargepoint_sets() -> None:
    """CsmsSession sets ocpp's attributes itself (not its per-connection route map):
    an ocpp upgrade that adds one fails here, not in a fleet."""
    ours = set(vars(CsmsSession("CP1", Kept(), policy())))
    assert set(vars(ChargePoint("CP1", Kept()))) <= ours
