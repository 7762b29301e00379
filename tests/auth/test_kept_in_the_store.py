"""The Local List, the cache and a reservation go through the real SQLite store and come
back: a charger restarted offline decides from what the store gave it (§3.5.2, E3.4)."""

from __future__ import annotations

from pathlib import Path

from core.harness import Harness, iso  # tests/ is on sys.path (rootdir packages)

from chargepoint.core import ChargerCore, CoreSettings, Identity
from chargepoint.core import actions as act
from chargepoint.core import events as ev
from chargepoint.store import Store


def test_a_restart_from_sqlite_keeps_the_list_the_cache_and_the_reservation(
    tmp_path: Path,
) -> None:
    h = Harness(connectors=2)
    h.boot(interval=3600)
    entries = [
        {"idTag": "LISTED", "idTagInfo": {"status": "Accepted", "parentIdTag": "FLEET"}},
        {"idTag": "BANNED", "idTagInfo": {"status": "Blocked"}},
    ]
    payload = {"listVersion": 3, "updateType": "Full", "localAuthorizationList": entries}
    assert h.csms_call("SendLocalList", payload, uid="l")[2] == {"status": "Accepted"}
    reserve = {"connectorId": 1, "expiryDate": iso(h.now + 600), "idTag": "ME", "reservationId": 8}
    assert h.csms_call("ReserveNow", reserve, uid="r")[2] == {"status": "Accepted"}
    h.feed(ev.PresentIdTag(2, "CACHED", "cached"))
    h.answer_until("Authorize")
    h.answer({"idTagInfo": {"status": "Accepted", "expiryDate": iso(h.now + 60)}})
    h.feed(ev.StopCharging(2))

    with Store.open(tmp_path) as store:
        store.apply("CP1", [a for a in h.log if isinstance(a, act.Persist)])
    with Store.open(tmp_path) as store:
        state = store.load("CP1")

    later = h.now + 30
    core = ChargerCore(Identity("CP1"), CoreSettings(connectors=2), state, later)
    core.take_actions()
    assert core.connectors[1].status == "Reserved"
    outcomes = {}
    for connector, tag in [(2, "BANNED"), (2, "CACHED"), (1, "LISTED")]:
        for action in core.handle(ev.PresentIdTag(connector, tag, tag), later):
            if isinstance(action, act.Outcome):
                outcomes[action.token] = action.value
        core.handle(ev.StopCharging(2), later)
    assert outcomes == {"BANNED": "Blocked", "CACHED": "Accepted", "LISTED": "Reserved"}
    answer = core.handle(ev.FrameReceived('[2,"v","GetLocalListVersion",{}]'), later)
    assert [a for a in answer if isinstance(a, act.Send)][0].frame == '[3,"v",{"listVersion":3}]'
