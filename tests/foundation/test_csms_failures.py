"""A CSMS that fails a non-transaction request: one log line, and the session carries on.

OCPP 1.6 retries only transaction messages (§4.10).  A CALLERROR or no answer to a
Heartbeat or to a boot StatusNotification must not end the WebSocket, nor reboot the
charger: the CSMS's log must show one BootNotification and the traffic going on.
"""

from __future__ import annotations

import logging

import pytest

from chargepoint.csms.handlers import AnswerRule
from chargepoint.csms.server import LocalCsms


def _boots(csms: LocalCsms) -> int:
    return len(csms.frames.calls("CP001", "BootNotification"))


@pytest.mark.parametrize(
    "rule",
    [
        AnswerRule("Heartbeat", error=("InternalError", "database down", {}), times=2),
        AnswerRule("Heartbeat", ignore=True, times=2),
    ],
    ids=["callerror", "no-answer"],
)
async def test_failed_heartbeats_do_not_end_the_session(
    csms: LocalCsms, start_charger, rule: AnswerRule, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)  # whatever level an earlier test's logs.setup() left
    csms.policy.heartbeat_interval = 1
    csms.policy.set_answer(rule)
    charger = await start_charger(response_timeout=1)
    await charger.booted()
    session = csms.sessions["CP001"]
    first = await charger.received("Heartbeat", timeout=5)
    second = await charger.received("Heartbeat", timeout=5, after=first.seq)
    third = await charger.received("Heartbeat", timeout=5, after=second.seq)
    answer = await charger.answer_to(third)
    assert answer.message_type == 3 and "currentTime" in answer.payload  # the rule is used up
    assert _boots(csms) == 1, "the charger rebooted after a failed Heartbeat"
    assert csms.sessions["CP001"] is session, "the WebSocket was reopened"
    failed = [r for r in caplog.records if "Heartbeat failed" in r.getMessage()]
    assert len(failed) == 2 and all(r.levelno == logging.WARNING for r in failed)
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


@pytest.mark.parametrize(
    "rule",
    [
        AnswerRule("StatusNotification", error=("InternalError", "busy", {}), times=1),
        AnswerRule("StatusNotification", ignore=True, times=1),
    ],
    ids=["callerror", "no-answer"],
)
async def test_failed_boot_status_does_not_end_the_session(
    csms: LocalCsms, start_charger, rule: AnswerRule
) -> None:
    csms.policy.heartbeat_interval = 1
    csms.policy.set_answer(rule)
    charger = await start_charger(connectors=2, response_timeout=1)
    await charger.booted()  # connector 2's status still went out after connector 0's failed
    statuses = [f.payload["connectorId"] for f in csms.frames.calls("CP001", "StatusNotification")]
    assert statuses == [0, 1, 2]
    await charger.received("Heartbeat", timeout=5)
    assert _boots(csms) == 1, "the charger rebooted after a failed StatusNotification"
