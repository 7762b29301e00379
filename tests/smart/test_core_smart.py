"""Smart Charging through the charger core: the CSMS's calls and their answers, what is
persisted, TxProfiles with their transaction (§3.13.1, §5.16.2), and the limit metering
follows at the instants it changes."""

from __future__ import annotations

from typing import Any

from core.harness import Harness, MemoryStore  # tests/ is on sys.path (rootdir packages)

from chargepoint.core import ChargerCore, CoreSettings, Identity
from chargepoint.core import events as ev
from chargepoint.core.actions import Persist
from chargepoint.core.limits import ChargingLimit
from chargepoint.core.records import StoredProfile
from chargepoint.store.sqlite import Store
from chargepoint.timefmt import format_epoch

from .builders import DAY, profile


def online(connectors: int = 2, store: MemoryStore | None = None, **config: str) -> Harness:
    h = Harness(connectors=connectors, config=config, store=store)
    h.boot(interval=3600)
    return h


def set_profile(h: Harness, connector: int, data: dict[str, Any]) -> list[Any]:
    return h.csms_call(
        "SetChargingProfile",
        {"connectorId": connector, "csChargingProfiles": data},
        uid=f"scp{len(h.sent)}",
    )


def status(answer: list[Any]) -> str:
    assert answer[0] == 3, answer
    return str(answer[2]["status"])


def composite(h: Harness, connector: int, duration: int, unit: str | None = None) -> list[Any]:
    payload: dict[str, Any] = {"connectorId": connector, "duration": duration}
    if unit is not None:
        payload["chargingRateUnit"] = unit
    return h.csms_call("GetCompositeSchedule", payload, uid=f"gcs{len(h.sent)}")


def periods(answer: list[Any]) -> list[tuple[int, float]]:
    assert answer[0] == 3 and answer[2]["status"] == "Accepted", answer
    schedule = answer[2]["chargingSchedule"]
    return [(p["startPeriod"], p["limit"]) for p in schedule["chargingSchedulePeriod"]]


def start(h: Harness, connector: int = 1, id_tag: str = "T1") -> int:
    h.feed(ev.StartCharging(connector, id_tag))
    h.answer_all()
    tx = h.core.connectors[connector].transaction
    assert tx is not None and tx.transaction_id is not None
    return tx.transaction_id


def test_a_profile_is_accepted_persisted_and_shown_in_the_composite_schedule() -> None:
    h = online()
    t = h.now
    data = profile(1, periods=[(0, 16.0), (600, 10.0)], start=t)
    assert status(set_profile(h, 0, data)) == "Accepted"
    assert h.store.profiles[1].connector_id == 0
    assert h.store.profiles[1].profile["chargingSchedule"]["chargingSchedulePeriod"][1] == {
        "startPeriod": 600,
        "limit": 10.0,
    }
    answer = composite(h, 1, 3600)
    assert answer[2]["connectorId"] == 1
    assert answer[2]["scheduleStart"] == format_epoch(t)
    assert answer[2]["chargingSchedule"]["chargingRateUnit"] == "A"  # Current is allowed first
    assert answer[2]["chargingSchedule"]["duration"] == 3600
    assert "startSchedule" not in answer[2]["chargingSchedule"]  # E3.57
    assert periods(answer) == [(0, 16.0), (600, 10.0)]
    assert periods(composite(h, 0, 3600)) == [(0, 32.0), (600, 20.0)]  # both connectors


def test_profiles_survive_a_power_loss() -> None:  # E3.37
    h = online()
    set_profile(h, 0, profile(1, "ChargePointMaxProfile", periods=[(0, 11000.0)], unit="W"))
    after = h.power_loss(after=5)
    after.boot(interval=3600)
    assert periods(composite(after, 1, 60, "W")) == [(0, 11000.0)]
    assert after.core.station_limit() == ChargingLimit(11000.0, "W", 3)


def test_a_stored_profile_that_no_longer_makes_sense_is_dropped_with_a_warning(
    caplog: Any,
) -> None:
    store = MemoryStore()
    store.profiles[1] = StoredProfile(1, 0, profile(1, periods=[(5, 16.0)]))  # first period 5
    store.profiles[2] = StoredProfile(2, 1, profile(2, "TxProfile"))  # its transaction is gone
    store.profiles[3] = StoredProfile(3, 0, profile(3, periods=[(0, 8.0)]))
    store.profiles[4] = StoredProfile(4, 0, {"chargingProfileId": 4})  # mangled on disk
    h = online(store=store)
    assert sorted(h.store.profiles) == [3]
    assert "stored charging profile 1 dropped" in caplog.text
    assert "stored charging profile 4 dropped" in caplog.text
    assert h.core.charging_limit(1) == ChargingLimit(8.0, "A", 3)


def test_an_unknown_connector_is_a_callerror_or_configurably_rejected() -> None:  # E3.39
    h = online()
    answer = set_profile(h, 3, profile())
    assert answer[0] == 4 and answer[2] == "PropertyConstraintViolation"
    lenient = online(UnknownConnectorProfileCallError="false")
    assert status(set_profile(lenient, 3, profile())) == "Rejected"


def test_a_bad_enum_is_caught_by_the_schema() -> None:  # E3.38
    h = online()
    bad = profile()
    bad["chargingSchedule"]["chargingRateUnit"] = "kW"
    assert set_profile(h, 0, bad)[0] == 4
    assert h.store.profiles == {}


def test_a_limit_too_large_for_the_schema_check_is_a_callerror_not_a_dropped_link() -> None:
    # jsonschema's multipleOf on a Decimal of 1e300 raises decimal.InvalidOperation
    h = online()
    answer = set_profile(h, 1, profile(periods=[(0, 1e300)], unit="W"))
    assert answer[0] == 4 and answer[2] == "PropertyConstraintViolation"
    assert h.store.profiles == {} and h.closed == []
    assert status(set_profile(h, 1, profile(periods=[(0, 3700.0)], unit="W"))) == "Accepted"


def test_profile_rules_answer_rejected_and_install_nothing() -> None:
    h = online(ChargeProfileMaxStackLevel="2", ChargingScheduleAllowedChargingRateUnit="Current")
    assert status(set_profile(h, 1, profile(purpose="ChargePointMaxProfile"))) == "Rejected"
    assert status(set_profile(h, 0, profile(stack=3))) == "Rejected"
    assert status(set_profile(h, 0, profile(unit="W", periods=[(0, 7000.0)]))) == "Rejected"
    assert status(set_profile(h, 1, profile(purpose="TxProfile"))) == "Rejected"  # no transaction
    assert h.store.profiles == {}
    assert composite(h, 1, 60, "W")[2] == {"status": "Rejected"}  # W not allowed
    assert composite(h, 3, 60)[2] == {"status": "Rejected"}  # no connector 3


def test_a_tx_profile_is_bound_to_its_transaction_and_deleted_when_it_ends() -> None:
    h = online()
    tx_id = start(h)
    assert status(set_profile(h, 1, profile(5, "TxProfile", 1, [(0, 6.0)]))) == "Accepted"
    assert h.store.profiles[5].profile["transactionId"] == tx_id
    other = profile(6, "TxProfile", 2, [(0, 6.0)], transaction_id=tx_id + 1)
    assert status(set_profile(h, 1, other)) == "Rejected"
    assert h.core.charging_limit(1) == ChargingLimit(6.0, "A", 3)
    h.feed(ev.StopCharging(1))
    assert h.store.profiles == {}  # §3.13.1
    assert h.core.charging_limit(1) is None


def test_clear_charging_profile() -> None:
    h = online()
    clear = "ClearChargingProfile"
    assert status(h.csms_call(clear, {}, uid="c0")) == "Unknown"  # nothing to clear
    set_profile(h, 0, profile(1, stack=1))
    set_profile(h, 2, profile(2, stack=1))
    set_profile(h, 0, profile(3, "ChargePointMaxProfile"))
    assert status(h.csms_call(clear, {"id": 9, "connectorId": 0}, uid="c1")) == "Unknown"
    assert status(h.csms_call(clear, {"connectorId": 0, "stackLevel": 1}, uid="c2")) == "Accepted"
    assert sorted(h.store.profiles) == [2, 3]
    answer = h.csms_call(clear, {"chargingProfilePurpose": "TxDefaultProfile"}, uid="c3")
    assert status(answer) == "Accepted" and sorted(h.store.profiles) == [3]
    assert status(h.csms_call(clear, {"id": 3, "connectorId": 1}, uid="c4")) == "Accepted"
    assert h.store.profiles == {}


def test_remote_start_with_a_tx_profile() -> None:  # §5.16.2, E3.41, E3.42
    h = online(AuthorizeRemoteTxRequests="false")
    remote = {"idTag": "R1", "connectorId": 2, "chargingProfile": profile(7, "TxProfile", 0)}
    assert status(h.csms_call("RemoteStartTransaction", remote, uid="r1")) == "Accepted"
    h.answer_all()
    tx = h.core.connectors[2].transaction
    assert tx is not None and tx.id_tag == "R1"
    assert h.store.profiles[7].connector_id == 2
    assert h.store.profiles[7].profile["transactionId"] == tx.transaction_id
    assert h.core.charging_limit(2) == ChargingLimit(16.0, "A", 3)
    assert h.core.charging_limit(1) is None


def test_remote_start_with_a_profile_it_cannot_take_is_rejected() -> None:
    h = online(AuthorizeRemoteTxRequests="false")
    for uid, data in (
        ("r1", profile(7, "TxDefaultProfile")),  # not a TxProfile
        ("r2", profile(7, "TxProfile", transaction_id=5)),  # names a transaction
        ("r3", profile(7, "TxProfile", periods=[(10, 6.0)])),  # first period not at 0
    ):
        payload = {"idTag": "R1", "connectorId": 1, "chargingProfile": data}
        assert status(h.csms_call("RemoteStartTransaction", payload, uid=uid)) == "Rejected"
    h.answer_all()
    assert h.core.connectors[1].transaction is None and h.store.profiles == {}


def test_remote_start_without_smart_charging_ignores_the_profile() -> None:  # §5.11 NOTE
    h = Harness(
        connectors=1,
        config={"AuthorizeRemoteTxRequests": "false"},
        feature_profiles=frozenset({"Core", "RemoteTrigger"}),
    )
    h.boot(interval=3600)
    payload = {"idTag": "R1", "chargingProfile": profile(7, "TxDefaultProfile")}
    assert status(h.csms_call("RemoteStartTransaction", payload, uid="r1")) == "Accepted"
    answer = set_profile(h, 0, profile())
    assert answer[0] == 4 and answer[2] == "NotSupported"


def test_power_follows_the_limit_at_its_change_on_the_chargers_clock() -> None:
    h = online(connectors=1)
    t = h.now
    start(h)  # a 7360 W EV on one phase
    meter = h.core.connectors[1].meter
    assert meter.power_w == 7360.0
    tx_default = profile(1, periods=[(0, 10.0), (600, 0.0), (900, 16.0)], start=t + 60)
    assert status(set_profile(h, 0, tx_default)) == "Accepted"
    assert meter.power_w == 7360.0  # not yet: the schedule starts at t + 60
    assert h.timers["metering:limit"] == t + 60  # ONE timer at the next change
    h.advance(60)
    assert meter.power_w == 2300.0  # 10 A x 230 V on the phase in use
    h.advance(600)
    assert meter.power_w == 0.0
    assert h.core.connectors[1].status == "SuspendedEVSE"
    h.advance(300)
    assert meter.power_w == 3680.0
    assert h.timers.get("metering:limit") is None  # nothing changes any more
    h.csms_call("ClearChargingProfile", {}, uid="clear")
    assert meter.power_w == 7360.0  # applied at once (§2.4)


def test_a_recurring_daily_charge_point_max_over_48_hours() -> None:
    h = online(connectors=1)
    t = h.now
    start(h)
    night = profile(
        1,
        "ChargePointMaxProfile",
        0,
        [(0, 3680.0), (8 * 3600, 7360.0)],
        "W",
        "Recurring",
        start=t + 3600,
        recurrency="Daily",
    )
    assert status(set_profile(h, 0, night)) == "Accepted"
    meter = h.core.connectors[1].meter
    seen = []
    for _ in range(2 * 24):
        seen.append(meter.power_w)
        h.advance(3600)
        h.answer_all()
    assert seen[:2] == [7360.0, 3680.0]
    assert seen == ([7360.0] + [3680.0] * 8 + [7360.0] * 15) * 2
    assert len(seen) == 2 * DAY // 3600


def test_without_a_unit_the_composite_is_in_the_first_allowed_one() -> None:
    h = online(ChargingScheduleAllowedChargingRateUnit="Power,Current")
    answer = composite(h, 1, 60)
    assert answer[2]["chargingSchedule"]["chargingRateUnit"] == "W"
    assert periods(answer) == [(0, 22080.0)]  # the 32 A, 3-phase rating


def test_a_charge_point_max_without_start_schedule_starts_when_received() -> None:
    h = online()
    h.advance(30)
    t = h.now
    cpmax = profile(1, "ChargePointMaxProfile", periods=[(0, 10.0), (600, 20.0)], start=None)
    assert status(set_profile(h, 0, cpmax)) == "Accepted"
    stored = h.store.profiles[1].profile["chargingSchedule"]["startSchedule"]
    assert stored == format_epoch(t)  # kept with that start across a restart
    h.advance(60)
    assert periods(composite(h, 1, 3600)) == [(0, 10.0), (540, 20.0)]


def test_profiles_round_trip_through_the_sqlite_store(tmp_path: Any) -> None:
    """The real store keeps what SetChargingProfile persisted; a new core enforces it."""
    h = online(connectors=1)
    t = h.now
    start(h)
    night = profile(
        1,
        "TxDefaultProfile",
        0,
        [(0, 6.0), (3600, 16.0, 1)],
        "A",
        "Recurring",
        start=t - 1800,
        recurrency="Daily",
        valid_to=t + 2 * DAY,
    )
    assert status(set_profile(h, 0, night)) == "Accepted"
    assert status(set_profile(h, 1, profile(2, "TxProfile", 1, [(0, 8.0)]))) == "Accepted"
    with Store.open(tmp_path) as store:
        store.apply("CP1", [a for a in h.log if isinstance(a, Persist)])
        state = store.load("CP1")
    assert {p.profile_id: p.profile for p in state.charging_profiles} == {
        i: p.profile for i, p in h.store.profiles.items()
    }
    config = {"ResumeTransactionsAfterPowerLoss": "true"}
    core = ChargerCore(
        Identity("CP1"), CoreSettings(connectors=1, config_overrides=config), state, h.now
    )
    assert core.charging_limit(1) == ChargingLimit(8.0, "A", 3)  # the transaction resumed
    assert core.next_limit_change() == t + 1800


def test_a_one_phase_ev_keeps_to_an_amp_limit_under_a_watt_maximum() -> None:
    h = online(connectors=1)
    start(h)  # 7360 W on one phase
    set_profile(h, 0, profile(1, "ChargePointMaxProfile", periods=[(0, 3700.0)], unit="W"))
    set_profile(h, 0, profile(2, periods=[(0, 10.0)]))
    assert h.core.connectors[1].meter.power_w == 2300.0  # 10 A x 230 V, not 3700 W
