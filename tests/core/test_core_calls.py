"""Calls from the CSMS (OCPP-J §4.2.3 errors, §5.x handlers) and answers to ours."""

from __future__ import annotations

import json

import pytest

from chargepoint.core import events as ev

from .harness import Harness, iso


def online(**config: str) -> Harness:
    h = Harness(config=config)
    h.boot(interval=3600)
    return h


def fed(h: Harness, text: str) -> list[list]:
    """Feed one raw frame; returns what the charger sent because of it."""
    before = len(h.sent)
    h.feed(ev.FrameReceived(text))
    return h.sent[before:]


# --- frames and errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('[2,"m1","GetConfiguration"', "FormationViolation"),  # not JSON, its id readable
        ("[2,5,", None),  # not JSON, no id to answer
        ('{"id":"m1"}', None),  # not an array
        ('[2,5,"GetConfiguration",{}]', None),  # id not a string
        ("[2," + "9" * 5000 + ',"Reset",{}]', None),  # an integer id too long to convert
        ('[2,"m1",' + "[" * 40 + "]" * 40 + "]", "FormationViolation"),  # nested too deep
        (
            '[2,"m1","Reset",{"type":' + '{"a":' * 2000 + "1" + "}" * 2001 + "]",
            "FormationViolation",
        ),
        ('[3,"nobody-asked",{}]', None),  # an answer is never answered
        ('[2,"m1","GetConfiguration"]', "FormationViolation"),  # CALL of 3 elements
        ('[2,"m1","GetConfiguration",{},{}]', "FormationViolation"),  # of 5
        ('[2,"m1","GetConfiguration",[]]', "FormationViolation"),  # payload not an object
        ('[7,"m1",{}]', "ProtocolError"),  # unknown message type
    ],
)
def test_malformed_frames_get_the_right_callerror_or_none(text: str, error: str | None) -> None:
    """OCPP-J 4.2.3; a frame whose id can be read is answered, even if the JSON is not."""
    h = online()
    sent = fed(h, text)
    assert sent == ([] if error is None else [[4, "m1", error, sent[0][3], {}]])
    assert h.csms_call("GetConfiguration", {"key": ["HeartbeatInterval"]})[0] == 3


def test_an_id_over_36_characters_is_answered_with_the_id_as_sent() -> None:
    """OCPP-J 4.1.4 allows 36 characters; the CSMS learns what it did wrong."""
    h = online()
    uid = "x" * 37
    [answer] = fed(h, f'[2,"{uid}","GetConfiguration",{{}}]')
    assert answer[:3] == [4, uid, "FormationViolation"] and "36" in answer[3]


@pytest.mark.parametrize(
    ("action", "payload", "error"),
    [
        ("FlyToTheMoon", {}, "NotImplemented"),
        (
            "ReserveNow",
            {"connectorId": 1, "expiryDate": iso(0), "idTag": "T" * 21, "reservationId": 1},
            "TypeConstraintViolation",
        ),  # fmt: skip
        ("SetChargingProfile", {}, "ProtocolError"),
        ("ChangeAvailability", {"connectorId": 1}, "ProtocolError"),
        (
            "ChangeAvailability",
            {"connectorId": "1", "type": "Inoperative"},
            "TypeConstraintViolation",
        ),  # fmt: skip
        (
            "ChangeAvailability",
            {"connectorId": 1, "type": "Broken"},
            "PropertyConstraintViolation",
        ),  # fmt: skip
        ("ChangeConfiguration", {"key": "K" * 51, "value": "1"}, "TypeConstraintViolation"),
        ("Reset", {"type": "Soft", "when": "now"}, "FormationViolation"),
    ],
)
def test_calls_that_cannot_be_carried_out_get_a_callerror_and_change_nothing(
    action: str, payload: dict, error: str
) -> None:
    h = online()
    before = len(h.calls())
    answer = h.csms_call(action, payload, uid="bad")
    assert answer[:3] == [4, "bad", error]
    assert h.calls()[before:] == [] and h.closed == []


# --- TriggerMessage (§5.17) -------------------------------------------------------------


@pytest.mark.parametrize(
    "requested",
    [
        "BootNotification",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StatusNotification",
    ],
)
def test_trigger_message_is_answered_before_the_triggered_message(requested: str) -> None:
    h = online()
    sent = fed(h, json.dumps([2, "t1", "TriggerMessage", {"requestedMessage": requested}]))
    assert sent[0] == [3, "t1", {"status": "Accepted"}]
    assert [f[2] for f in sent[1:]] == [requested]


def test_trigger_message_for_a_connector_the_charger_lacks_is_rejected() -> None:
    h = online()
    request = {"requestedMessage": "StatusNotification", "connectorId": 3}
    sent = fed(h, json.dumps([2, "t1", "TriggerMessage", request]))
    assert sent == [[3, "t1", {"status": "Rejected"}]]


# --- remote start and stop (§5.11, §5.12) -----------------------------------------------


@pytest.mark.parametrize(
    ("authorize_remote", "authorize_answer", "calls"),
    [
        ("true", "Accepted", ["Authorize", "StartTransaction"]),
        ("true", "Blocked", ["Authorize"]),
        ("false", None, ["StartTransaction"]),
    ],
)
def test_remote_start(authorize_remote: str, authorize_answer: str | None, calls: list) -> None:
    h = online(AuthorizeRemoteTxRequests=authorize_remote)
    sent = fed(h, json.dumps([2, "r1", "RemoteStartTransaction", {"idTag": "T1"}]))
    assert sent[0] == [3, "r1", {"status": "Accepted"}]
    if authorize_answer is not None:
        assert h.in_flight() == [2, h.outstanding, "Authorize", {"idTag": "T1"}]
        h.answer({"idTagInfo": {"status": authorize_answer}})
    h.answer_all()
    assert [a for a in h.actions() if a in ("Authorize", "StartTransaction")] == calls
    assert all(f[3]["idTag"] == "T1" for f in h.calls("StartTransaction"))


def test_remote_stop_of_an_unknown_transaction_is_rejected_of_a_known_one_stops_it() -> None:
    h = online()
    h.feed(ev.StartCharging(1, "T1"))
    h.answer_all()  # transactionId 101
    assert h.csms_call("RemoteStopTransaction", {"transactionId": 999})[2] == {"status": "Rejected"}
    h.answer_all()
    assert h.calls("StopTransaction") == []
    sent = fed(h, json.dumps([2, "s2", "RemoteStopTransaction", {"transactionId": 101}]))
    assert sent[0] == [3, "s2", {"status": "Accepted"}]
    assert sent[1][2] == "StopTransaction"
    assert (sent[1][3]["transactionId"], sent[1][3]["reason"]) == (101, "Remote")


# --- configuration (§5.3, §5.8) ---------------------------------------------------------


def test_get_configuration_never_returns_the_authorization_key() -> None:
    h = online()
    secret = "0123456789abcdef0123456789ABCDEF"
    set_key = {"key": "AuthorizationKey", "value": secret}
    assert h.csms_call("ChangeConfiguration", set_key)[2] == {"status": "Accepted"}
    everything = h.csms_call("GetConfiguration", {}, uid="g1")[2]
    assert "AuthorizationKey" not in [k["key"] for k in everything["configurationKey"]]
    asked = h.csms_call("GetConfiguration", {"key": ["AuthorizationKey", "HeartbeatInterval"]})
    assert [k["key"] for k in asked[2]["configurationKey"]] == ["HeartbeatInterval"]
    assert asked[2]["unknownKey"] == ["AuthorizationKey"]
    assert secret not in json.dumps(h.sent) and secret not in json.dumps(h.timeline)


def test_a_new_heartbeat_interval_rearms_the_heartbeat() -> None:
    h = Harness()
    h.boot(interval=60)
    t = h.now
    h.advance(30)
    answer = h.csms_call("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "300"})
    assert answer[2] == {"status": "Accepted"} and h.store.config["HeartbeatInterval"] == "300"
    for _ in range(2):
        h.advance(300)
        h.answer_all()
    assert h.sent_times("Heartbeat") == [t + 330, t + 630]


# --- answers to the charger's calls -----------------------------------------------------


def test_an_answer_to_a_call_not_in_flight_is_ignored() -> None:
    h = online()
    h.feed(ev.StartCharging(1, "T1"))
    start = h.answer_until("StartTransaction")
    for stray in (
        [3, "not-the-one", {"transactionId": 5, "idTagInfo": {"status": "Accepted"}}],
        [4, "not-the-one", "InternalError", "", {}],
    ):
        assert fed(h, json.dumps(stray)) == []
    assert h.in_flight() == start
    assert [(m.unique_id, m.attempts) for m in h.store.queue.values()] == [(start[1], 0)]
    h.answer({"transactionId": 6, "idTagInfo": {"status": "Accepted"}})
    h.feed(ev.StopCharging(1))
    h.answer_all()
    assert h.calls("StopTransaction")[0][3]["transactionId"] == 6


def test_an_authorize_answer_that_breaks_the_schema_is_a_failure() -> None:
    h = online()
    h.feed(ev.PresentIdTag(1, "T1", "card"))
    h.answer({"idTagInfo": {"status": "Maybe"}})
    assert h.outcomes == {"card": "Invalid"}  # decided as if offline: not in the cache
    assert h.store.auth == {}
