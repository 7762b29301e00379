"""Core-profile behaviour and TriggerMessage, checked on what the local CSMS received."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from ocpp.exceptions import OCPPError

from chargepoint.csms.server import LocalCsms
from chargepoint.station import CallFailed

FLAVOURS = ["websockets", "sansio"]  # websockets' client, and the adapter the modems use
REQUIRED_KEYS = {
    "AuthorizeRemoteTxRequests",
    "ClockAlignedDataInterval",
    "ConnectionTimeOut",
    "ConnectorPhaseRotation",
    "GetConfigurationMaxKeys",
    "HeartbeatInterval",
    "LocalAuthorizeOffline",
    "LocalPreAuthorize",
    "MeterValuesAlignedData",
    "MeterValuesSampledData",
    "MeterValueSampleInterval",
    "NumberOfConnectors",
    "ResetRetries",
    "StopTransactionOnEVSideDisconnect",
    "StopTransactionOnInvalidId",
    "StopTxnAlignedData",
    "StopTxnSampledData",
    "SupportedFeatureProfiles",
    "TransactionMessageAttempts",
    "TransactionMessageRetryInterval",
    "UnlockConnectorOnEVSideDisconnect",
}


@pytest.mark.parametrize(
    "requested,action",
    [
        ("BootNotification", "BootNotification"),
        ("DiagnosticsStatusNotification", "DiagnosticsStatusNotification"),
        ("FirmwareStatusNotification", "FirmwareStatusNotification"),
        ("Heartbeat", "Heartbeat"),
        ("MeterValues", "MeterValues"),
        ("StatusNotification", "StatusNotification"),
    ],
)
@pytest.mark.parametrize("connector_id", [None, 1])
@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_trigger_message_answers_first_then_sends(
    csms: LocalCsms,
    start_charger,
    requested: str,
    action: str,
    connector_id: int | None,
    flavour: str,
) -> None:
    charger = await start_charger(connectors=2, flavour=flavour)
    await charger.booted()
    mark = csms.frames.frames[-1].seq
    payload: dict[str, object] = {"requestedMessage": requested}
    if connector_id is not None:
        payload["connectorId"] = connector_id
    assert await charger.call("TriggerMessage", payload) == {"status": "Accepted"}
    sent = await charger.received(action, after=mark)
    answer = next(
        f
        for f in csms.frames.frames
        if f.seq > mark and f.direction == "received" and f.message_type == 3
    )
    assert answer.seq < sent.seq, "the TriggerMessage must be answered before the message"
    if action in ("StatusNotification", "MeterValues") and connector_id is not None:
        assert sent.payload["connectorId"] == connector_id
    if action == "MeterValues":
        sampled = sent.payload["meterValue"][0]["sampledValue"]
        assert {s["context"] for s in sampled} == {"Trigger"}


async def test_trigger_message_unknown_and_bad_connector(csms: LocalCsms, start_charger) -> None:
    charger = await start_charger()
    await charger.booted()
    with pytest.raises(OCPPError):  # not a 1.6 MessageTrigger: the CSMS's own schema check
        await charger.call("TriggerMessage", {"requestedMessage": "LogStatusNotification"})
    bad = await charger.call(
        "TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 7}
    )
    assert bad == {"status": "Rejected"}


async def test_get_configuration_all_and_unknown(csms: LocalCsms, start_charger) -> None:
    charger = await start_charger(connectors=2)
    await charger.booted()
    everything = await charger.call("GetConfiguration", {})
    keys = {k["key"]: k for k in everything["configurationKey"]}
    assert REQUIRED_KEYS | {"WebSocketPingInterval"} <= set(keys)
    assert "AuthorizationKey" not in keys  # write-only
    assert keys["NumberOfConnectors"] == {
        "key": "NumberOfConnectors",
        "readonly": True,
        "value": "2",
    }
    some = await charger.call(
        "GetConfiguration", {"key": ["HeartbeatInterval", "NoSuchKey", "AuthorizationKey"]}
    )
    assert [k["key"] for k in some["configurationKey"]] == ["HeartbeatInterval"]
    assert some["unknownKey"] == ["NoSuchKey", "AuthorizationKey"]


@pytest.mark.parametrize(
    "key,value,status",
    [
        ("HeartbeatInterval", "120", "Accepted"),
        ("HeartbeatInterval", "soon", "Rejected"),
        ("HeartbeatInterval", "-5", "Rejected"),
        ("WebSocketPingInterval", "-1", "Rejected"),
        ("WebSocketPingInterval", "0", "Accepted"),
        ("AuthorizeRemoteTxRequests", "maybe", "Rejected"),
        ("MeterValuesSampledData", "Energy.Active.Import.Register,Voltage", "Accepted"),
        ("MeterValuesSampledData", "Energy.Bogus", "Rejected"),
        # §9.1: a measurand the charger does not measure is Rejected, not silently dropped
        ("MeterValuesSampledData", "Energy.Active.Import.Register,Frequency", "Rejected"),
        ("NumberOfConnectors", "4", "Rejected"),
        ("NoSuchKey", "1", "NotSupported"),
        # plain decimal digits within 32 bits, nothing int() would also take
        ("HeartbeatInterval", "010", "Accepted"),
        ("HeartbeatInterval", "1_0", "Rejected"),
        ("HeartbeatInterval", " 10 ", "Rejected"),
        ("HeartbeatInterval", "\u0663", "Rejected"),  # ARABIC-INDIC DIGIT THREE
        ("MeterValueSampleInterval", str(10**23), "Rejected"),
        ("MeterValueSampleInterval", str(2**31 - 1), "Accepted"),
        ("ConnectorPhaseRotation", "0.RST, 1.RTS", "Accepted"),
        ("ConnectorPhaseRotation", "0.RST,2.RST", "Rejected"),  # this charger has 1 connector
        # Security whitepaper: 16-20 bytes as up to 40 hex digits
        ("AuthorizationKey", "0123456789abcdef0123456789ABCDEF", "Accepted"),
        ("AuthorizationKey", "0123456789abcdef0123456789abcdef01234567", "Accepted"),
        ("AuthorizationKey", "0123456789abcdef0123", "Rejected"),  # 10 bytes
        ("AuthorizationKey", "0123456789abcdef0123456789abcdef012345678", "Rejected"),  # 41
        ("AuthorizationKey", "0123456789abcdef0123456789abcdef0", "Rejected"),  # odd count
        ("AuthorizationKey", "not-hex-but-thirty-two-characters", "Rejected"),
    ],
)
async def test_change_configuration(
    csms: LocalCsms, start_charger, key: str, value: str, status: str
) -> None:
    charger = await start_charger()
    await charger.booted()
    assert await charger.call("ChangeConfiguration", {"key": key, "value": value}) == {
        "status": status
    }


async def test_configuration_survives_a_restart(csms: LocalCsms, start_charger, tmp_path) -> None:
    state = tmp_path / "state"
    first = await start_charger(state_dir=state)
    await first.booted()
    await first.call("ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "17"})
    await first.shutdown()
    second = await start_charger(state_dir=state)
    mark = csms.frames.frames[-1].seq
    await second.received("StatusNotification", after=mark)
    answer = await second.call("GetConfiguration", {"key": ["MeterValueSampleInterval"]})
    assert answer["configurationKey"][0]["value"] == "17"


async def test_heartbeat_interval_change_changes_cadence(csms: LocalCsms, start_charger) -> None:
    charger = await start_charger()
    await charger.booted()
    await charger.call("ChangeConfiguration", {"key": "HeartbeatInterval", "value": "1"})
    first = await charger.received("Heartbeat", timeout=5)
    second = await charger.received("Heartbeat", timeout=5, after=first.seq)
    third = await charger.received("Heartbeat", timeout=5, after=second.seq)
    assert third.seq > second.seq > first.seq


@pytest.mark.parametrize("flavour", FLAVOURS)
async def test_remote_start_stop_with_meter_values(
    csms: LocalCsms, start_charger, flavour: str
) -> None:
    charger = await start_charger(
        flavour=flavour, config_overrides={"MeterValueSampleInterval": "1"}
    )
    await charger.booted()
    mark = csms.frames.frames[-1].seq
    assert await charger.call("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1}) == {
        "status": "Accepted"
    }
    authorize = await charger.received("Authorize", after=mark)
    start = await charger.received("StartTransaction", after=mark)
    assert authorize.seq < start.seq and start.payload["idTag"] == "TAG1"
    tx_id = (await charger.answer_to(start)).payload["transactionId"]
    m1 = await charger.received("MeterValues", timeout=5, after=start.seq)
    m2 = await charger.received("MeterValues", timeout=5, after=m1.seq)
    assert m1.payload["transactionId"] == tx_id == m2.payload["transactionId"]
    e1, e2 = (_reading(m, "Energy.Active.Import.Register") for m in (m1, m2))
    assert e2 >= e1 >= start.payload["meterStart"]
    power = _reading(m2, "Power.Active.Import")
    current = _reading(m2, "Current.Import")
    assert power > 0 and abs(power / 230 - current) < 0.2
    assert await charger.call("RemoteStopTransaction", {"transactionId": tx_id}) == {
        "status": "Accepted"
    }
    stop = await charger.received("StopTransaction", after=m2.seq)
    assert stop.payload["transactionId"] == tx_id and stop.payload["reason"] == "Remote"
    assert stop.payload["meterStop"] >= e2
    await charger.received(
        "StatusNotification", after=stop.seq, where=lambda p: p["status"] == "Available"
    )
    statuses = [
        f.payload["status"]
        for f in csms.frames.calls("CP001", "StatusNotification")
        if f.seq > mark and f.payload["connectorId"] == 1
    ]
    assert statuses == ["Preparing", "Charging", "Finishing", "Available"]
    assert await charger.call("RemoteStopTransaction", {"transactionId": tx_id}) == {
        "status": "Rejected"
    }


async def test_remote_start_with_invalid_tag_does_not_start(csms: LocalCsms, start_charger) -> None:
    charger = await start_charger()
    await charger.booted()
    mark = csms.frames.frames[-1].seq
    await charger.call("RemoteStartTransaction", {"idTag": "INVALID", "connectorId": 1})
    await charger.received("Authorize", after=mark)
    await asyncio.sleep(0.5)
    assert csms.frames.calls("CP001", "StartTransaction") == []


async def test_change_availability_scheduled_during_transaction(
    csms: LocalCsms, start_charger
) -> None:
    charger = await start_charger()
    await charger.booted()
    await charger.call("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1})
    start = await charger.received("StartTransaction")
    answer = await charger.call("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    assert answer == {"status": "Scheduled"}
    tx_id = charger.station.connectors[1].transaction.transaction_id  # type: ignore[union-attr]
    await charger.call("RemoteStopTransaction", {"transactionId": tx_id})
    await charger.received(
        "StatusNotification", after=start.seq, where=lambda p: p["status"] == "Unavailable"
    )
    answer = await charger.call("ChangeAvailability", {"connectorId": 1, "type": "Operative"})
    assert answer == {"status": "Accepted"}
    await charger.received(
        "StatusNotification", after=start.seq, where=lambda p: p["status"] == "Available"
    )
    rejected = await charger.call("RemoteStartTransaction", {"idTag": "T", "connectorId": 9})
    assert rejected == {"status": "Rejected"}


async def test_change_availability_of_the_charger_waits_for_the_transaction(
    csms: LocalCsms, start_charger
) -> None:
    charger = await start_charger(connectors=2)
    await charger.booted()
    await charger.call("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1})
    start = await charger.received("StartTransaction")
    await charger.received("StatusNotification", where=lambda p: p["status"] == "Charging")
    answer = await charger.call("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})
    assert answer == {"status": "Scheduled"}
    tx_id = (await charger.answer_to(start)).payload["transactionId"]
    await charger.call("RemoteStopTransaction", {"transactionId": tx_id})
    stop = await charger.received("StopTransaction", after=start.seq)
    for cid in (0, 1, 2):
        await charger.received(
            "StatusNotification",
            after=start.seq,
            where=lambda p, cid=cid: p["connectorId"] == cid and p["status"] == "Unavailable",
        )
    unavailable = [
        f
        for f in csms.frames.calls("CP001", "StatusNotification")
        if f.seq > start.seq and f.payload["status"] == "Unavailable"
    ]
    assert sorted(f.payload["connectorId"] for f in unavailable) == [0, 1, 2]
    assert all(f.seq > stop.seq for f in unavailable), "made before the transaction ended"
    refused = await charger.call("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 2})
    assert refused == {"status": "Rejected"}
    answer = await charger.call("ChangeAvailability", {"connectorId": 0, "type": "Operative"})
    assert answer == {"status": "Accepted"}
    mark = unavailable[-1].seq
    for cid in (0, 1, 2):
        await charger.received(
            "StatusNotification",
            after=mark,
            where=lambda p, cid=cid: p["connectorId"] == cid and p["status"] == "Available",
        )


async def test_reset_soft_and_hard_reboot(csms: LocalCsms, start_charger) -> None:
    charger = await start_charger()
    await charger.booted()
    for kind in ("Soft", "Hard"):
        await charger.call("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1})
        start = await charger.received("StartTransaction", after=csms.frames.frames[-1].seq - 4)
        assert await charger.call("Reset", {"type": kind}) == {"status": "Accepted"}
        stop = await charger.received("StopTransaction", after=start.seq)
        assert stop.payload["reason"] == f"{kind}Reset"
        boot = await charger.received("BootNotification", after=stop.seq, timeout=15)
        await charger.received(
            "StatusNotification", after=boot.seq, where=lambda p: p["connectorId"] == 1
        )


async def test_unlock_connector_during_a_transaction_stops_it_first(
    csms: LocalCsms, start_charger
) -> None:
    charger = await start_charger()
    await charger.booted()
    await charger.call("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1})
    start = await charger.received("StartTransaction")
    tx_id = (await charger.answer_to(start)).payload["transactionId"]
    # §5.18: a transaction on the connector is stopped (reason UnlockCommand), then unlocked.
    assert await charger.call("UnlockConnector", {"connectorId": 1}) == {"status": "Unlocked"}
    stop = await charger.received("StopTransaction", after=start.seq)
    assert stop.payload["transactionId"] == tx_id
    assert stop.payload["reason"] == "UnlockCommand"
    await charger.received(
        "StatusNotification",
        after=stop.seq,
        where=lambda p: p["connectorId"] == 1 and p["status"] == "Finishing",
    )
    rejected = await charger.call("RemoteStopTransaction", {"transactionId": tx_id})
    assert rejected == {"status": "Rejected"}  # it is over


async def test_unlock_clear_cache_data_transfer(csms: LocalCsms, start_charger) -> None:
    charger = await start_charger(data_transfer_vendors=frozenset({"com.example"}))
    await charger.booted()
    assert await charger.call("UnlockConnector", {"connectorId": 1}) == {"status": "Unlocked"}
    assert await charger.call("UnlockConnector", {"connectorId": 5}) == {"status": "NotSupported"}
    assert await charger.call("ClearCache", {}) == {"status": "Accepted"}
    assert await charger.call("DataTransfer", {"vendorId": "other"}) == {
        "status": "UnknownVendorId"
    }
    assert await charger.call("DataTransfer", {"vendorId": "com.example", "data": "x"}) == {
        "status": "Accepted",
        "data": "x",
    }


@pytest.mark.parametrize(
    "frame,code",
    [
        # OCPP-J 1.6 §4.2.3: NotImplemented = not known (NotSupported, for a profile a
        # charger leaves out: tests/core/test_core_feature_profiles.py)
        ('[2,"m1","NoSuchAction",{}]', "NotImplemented"),
        (
            '[2,"m2","ReserveNow",{"connectorId":1,"expiryDate":"2030-01-01T00:00:00Z",'
            '"idTag":"TAG-LONGER-THAN-20-CH","reservationId":1}]',
            "TypeConstraintViolation",
        ),
        # errata E3.24 / E3.38: a value outside the enumeration
        ('[2,"m3","Reset",{"type":"Sideways"}]', "PropertyConstraintViolation"),
        ('[2,"m4","Reset",{}]', "ProtocolError"),
        (
            '[2,"m5","ChangeConfiguration",{"key":"HeartbeatInterval","value":5}]',
            "TypeConstraintViolation",
        ),
        ('[2,"m6","Reset"]', "FormationViolation"),
        ('[9,"m7","Reset",{}]', "ProtocolError"),
    ],
)
async def test_malformed_calls_get_callerror_and_link_stays_up(
    csms: LocalCsms, start_charger, frame: str, code: str
) -> None:
    charger = await start_charger()
    await charger.booted()
    unique_id = json.loads(frame)[1]
    await csms.send_raw("CP001", frame)
    error = await csms.frames.wait_for(
        lambda f: f.direction == "received" and f.message_type == 4 and f.message[1] == unique_id, 5
    )
    assert error.message[2] == code
    assert await charger.call("ClearCache", {}) == {"status": "Accepted"}  # still up
    await csms.send_raw("CP001", "this is not json")
    assert await charger.call("ClearCache", {}) == {"status": "Accepted"}


async def test_callerror_from_csms_is_raised_to_the_caller(csms: LocalCsms, start_charger) -> None:
    charger = await start_charger()
    await charger.booted()
    with pytest.raises(CallFailed):
        await charger.station.request("DataTransfer", {"vendorId": "x" * 300})


def _reading(frame, measurand: str) -> float:
    for sample in frame.payload["meterValue"][0]["sampledValue"]:
        if sample["measurand"] == measurand:
            return float(sample["value"])
    raise AssertionError(f"{measurand} missing")


async def test_offline_authorization_uses_the_cache_and_clear_cache_empties_it(
    csms: LocalCsms, start_charger
) -> None:
    charger = await start_charger()
    await charger.booted()
    assert await charger.station.present_id_tag(1, "KNOWN") == "Accepted"  # cached
    start = await charger.received("StartTransaction", where=lambda p: p["idTag"] == "KNOWN")
    await charger.station.present_id_tag(1, "KNOWN")  # same tag: stop
    await charger.received("StopTransaction", after=start.seq)
    assert await charger.call("ClearCache", {}) == {"status": "Accepted"}
    assert await charger.station.present_id_tag(1, "AGAIN") == "Accepted"  # cached too
    await charger.received("StartTransaction", where=lambda p: p["idTag"] == "AGAIN")
    charger.station.stop_transaction(1)
    # What the cache decides offline is a core behaviour test (tests/core/test_core_auth.py).


async def test_the_ocpp_log_masks_an_authorization_key(start_charger, caplog) -> None:
    key = "00112233445566778899aabbccddeeff"
    caplog.set_level(logging.INFO, logger="cpsim.ocpp")
    charger = await start_charger()
    await charger.booted()
    answer = await charger.call("ChangeConfiguration", {"key": "AuthorizationKey", "value": key})
    assert answer["status"] == "Accepted"
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "cpsim.ocpp")
    assert '"key":"AuthorizationKey","value":"***"' in logged
    assert key not in logged
