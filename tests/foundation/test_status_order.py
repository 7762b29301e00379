"""The CSMS sees each connector's statuses in the order they happened (§4.9), ending
with the current one, timestamps never going back, even when the EV is plugged in
while the boot's status report is going out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from chargepoint.csms.framelog import Frame
from chargepoint.csms.handlers import AnswerRule
from chargepoint.csms.server import LocalCsms


def _boot_answer(frame: Frame) -> bool:
    return frame.direction == "sent" and frame.message_type == 3 and "interval" in frame.payload


def _status_of_connector_0(frame: Frame) -> bool:
    return frame.action == "StatusNotification" and frame.payload["connectorId"] == 0


@pytest.mark.parametrize("flavour", ["websockets", "sansio"])
@pytest.mark.parametrize(
    "moment", [_boot_answer, _status_of_connector_0], ids=["boot-answer", "status-0"]
)
async def test_plug_in_during_the_boot_report(
    csms: LocalCsms, start_charger, flavour: str, moment: Callable[[Frame], bool]
) -> None:
    charger = await start_charger(connectors=2, flavour=flavour)

    def plug_in(frame: Frame) -> None:
        if frame.charge_point == charger.id and moment(frame) and not plugged:
            plugged.append(frame)
            charger.station.plug_in(1)

    plugged: list[Frame] = []
    csms.frames.listeners.append(plug_in)
    await charger.booted()
    # A StartTransaction travels the same ordered queue as status changes: once the CSMS
    # has it, every status change queued before it has arrived too.
    await charger.call("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 2})
    await charger.received("StartTransaction")
    reports = [
        f.payload
        for f in csms.frames.calls(charger.id, "StatusNotification")
        if f.payload["connectorId"] == 1
    ]
    statuses = [r["status"] for r in reports]
    assert statuses[-1] == "Preparing", statuses
    assert all(a != b for a, b in zip(statuses, statuses[1:], strict=False)), statuses
    times = [datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")) for r in reports]
    assert times == sorted(times), [r["timestamp"] for r in reports]


async def test_triggered_status_does_not_overtake_a_queued_change(
    csms: LocalCsms, start_charger
) -> None:
    # The CSMS fails the first StartTransaction: the queue waits 1 s before the retry,
    # and a status change made meanwhile waits behind it.
    csms.policy.set_answer(AnswerRule("StartTransaction", error=("InternalError", "", {}), times=1))
    charger = await start_charger(
        connectors=2, config_overrides={"TransactionMessageRetryInterval": "1"}
    )
    await charger.booted()
    mark = csms.frames.frames[-1].seq
    await charger.call("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 2})
    first = await charger.received("StartTransaction", after=mark)
    await charger.answer_to(first)  # the CALLERROR
    charger.station.plug_in(1)  # queued behind the StartTransaction
    await charger.call(
        "TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 1}
    )
    retry = await charger.received("StartTransaction", after=first.seq, timeout=5)
    await charger.call("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1})
    last = await charger.received("StartTransaction", after=retry.seq)
    reports = [
        f.payload
        for f in csms.frames.calls("CP001", "StatusNotification")
        if mark < f.seq < last.seq and f.payload["connectorId"] == 1
    ]
    assert [r["status"] for r in reports] == ["Preparing", "Preparing"]  # change, trigger
    times = [r["timestamp"] for r in reports]
    assert times == sorted(times), times
