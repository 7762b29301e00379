"""BootNotification rules (§4.2), checked on what the local CSMS received."""

from __future__ import annotations

import asyncio

import pytest

from chargepoint.csms.server import LocalCsms

FLAVOURS = ["websockets", "sansio"]  # websockets' client, and the adapter the modems use


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_accepted_boot_reports_every_connector(
    csms: LocalCsms, start_charger, flavour: str
) -> None:
    charger = await start_charger(connectors=2, flavour=flavour)
    await charger.booted()
    boot = csms.frames.calls("CP001", "BootNotification")[0]
    assert boot.payload["chargePointVendor"] == "cpsim"
    assert boot.payload["chargePointSerialNumber"] == "SN-1"
    statuses = [f.payload for f in csms.frames.calls("CP001", "StatusNotification")]
    assert [s["connectorId"] for s in statuses] == [0, 1, 2]
    assert {s["status"] for s in statuses} == {"Available"}
    first_calls = [f.action for f in csms.frames.calls("CP001")]
    assert first_calls[0] == "BootNotification"


async def test_accepted_interval_becomes_heartbeat_interval(csms: LocalCsms, start_charger) -> None:
    csms.policy.heartbeat_interval = 1
    charger = await start_charger()
    await charger.booted()
    first = await charger.received("Heartbeat", timeout=5)
    second = await charger.received("Heartbeat", timeout=5, after=first.seq)
    assert second.seq > first.seq
    keys = await charger.call("GetConfiguration", {"key": ["HeartbeatInterval"]})
    assert keys["configurationKey"][0]["value"] == "1"


async def test_pending_then_accepted_after_trigger(csms: LocalCsms, start_charger) -> None:
    csms.policy.boot_status = "Pending"
    csms.policy.heartbeat_interval = 600  # the retry interval: far longer than the test
    charger = await start_charger()
    await charger.received("BootNotification")
    await asyncio.sleep(0.5)
    # Pending: nothing but what a TriggerMessage asks for.
    assert [f.action for f in csms.frames.calls("CP001")] == ["BootNotification"]
    answer = await charger.call("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1})
    assert answer == {"status": "Rejected"}  # the CSMS may not start transactions while Pending
    heartbeat = await charger.call("TriggerMessage", {"requestedMessage": "Heartbeat"})
    assert heartbeat == {"status": "Accepted"}
    await charger.received("Heartbeat")
    csms.policy.boot_status = "Accepted"
    await charger.call("TriggerMessage", {"requestedMessage": "BootNotification"})
    await charger.booted()
    actions = [f.action for f in csms.frames.calls("CP001")]
    assert actions[:3] == ["BootNotification", "Heartbeat", "BootNotification"]
    assert actions[3] == "StatusNotification"


async def test_pending_resends_boot_at_the_interval(csms: LocalCsms, start_charger) -> None:
    csms.policy.boot_status = "Pending"
    csms.policy.heartbeat_interval = 1  # Pending: the minimum wait before the next boot
    charger = await start_charger()
    first = await charger.received("BootNotification")
    second = await charger.received("BootNotification", after=first.seq, timeout=5)
    assert (await charger.answer_to(second)).payload["status"] == "Pending"
    csms.policy.boot_status = "Accepted"
    third = await charger.received("BootNotification", after=second.seq, timeout=5)
    await charger.booted()
    for earlier, later in ((first, second), (second, third)):
        gap = _time(later.time) - _time(earlier.time)
        assert gap >= 0.9, f"BootNotification again after {gap:.2f}s; the interval was 1s"
    between = [f.action for f in csms.frames.calls("CP001") if first.seq < f.seq < third.seq]
    assert between == ["BootNotification"]  # nothing else while Pending
    assert csms.frames.calls("CP001")[-1].seq > third.seq  # Accepted: the statuses follow


async def test_rejected_keeps_silence_until_the_interval_passed(
    csms: LocalCsms, start_charger
) -> None:
    csms.policy.boot_status = "Rejected"
    csms.policy.heartbeat_interval = 2
    charger = await start_charger()
    first = await charger.received("BootNotification")
    await csms.frames.wait_for(
        lambda f: (
            f.direction == "sent" and f.message_type == 3 and f.payload.get("status") == "Rejected"
        ),
        5,
    )
    # While Rejected the charger answers nothing: the CSMS's call times out.
    with pytest.raises(TimeoutError):
        await charger.call("TriggerMessage", {"requestedMessage": "Heartbeat"}, timeout=1)
    csms.policy.boot_status = "Accepted"
    second = await charger.received("BootNotification", timeout=10, after=first.seq)
    gap = _time(second.time) - _time(first.time)
    assert gap >= 1.9, f"second boot came {gap:.2f}s after the first; interval was 2s"
    await charger.booted()
    between = [
        f
        for f in csms.frames.frames
        if first.seq < f.seq < second.seq and f.direction == "received"
    ]
    assert between == []  # silence: no request, no answer


def _time(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text).timestamp()
