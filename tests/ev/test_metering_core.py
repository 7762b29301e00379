"""Metering in the core (OCPP 1.6 §3.16, §4.7, §4.9; profiles reference §2.9): the power
follows min(EV, charger, limit), the register integrates it, MeterValues show it."""

from __future__ import annotations

from typing import Any

import pytest
from core.harness import Harness, iso  # tests/ is on sys.path (rootdir packages)

from chargepoint.core import events as ev

from .limited import amps, limited_harness, watts

ALL = (
    "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Current.Offered,"
    "Power.Offered,SoC,Voltage"
)
ELEVEN_KW = 16 * 230 * 3  # 11 040 W


def readings(frame: list[Any], index: int = 0) -> dict[str, Any]:
    """measurand (with ``@phase`` for phased ones) -> float value, of one meterValue."""
    out: dict[str, Any] = {}
    for item in frame[3]["meterValue"][index]["sampledValue"]:
        key = item["measurand"] + (f"@{item['phase']}" if "phase" in item else "")
        out[key] = float(item["value"])
    return out


def statuses(h: Harness, connector: int = 1) -> list[str]:
    return [
        f[3]["status"] for f in h.calls("StatusNotification") if f[3]["connectorId"] == connector
    ]


def start(h: Harness, connector: int = 1, **ev_fields: Any) -> float:
    """Boot, set the EV, plug in and start a transaction; returns the start time."""
    h.boot(interval=86_400)
    if ev_fields:
        h.feed(ev.SetEv(connector, **ev_fields))
    h.feed(ev.PlugIn(connector))
    h.feed(ev.StartCharging(connector, "T1"))
    h.answer_all()
    return h.now


def test_a_chargepointmax_of_3_7_kw_cuts_an_11_kw_session_within_one_sample() -> None:
    config = {"MeterValueSampleInterval": "60", "MeterValuesSampledData": ALL}
    h, _ = limited_harness([(90, None, watts(3700))], config=config)
    t = start(h, capacity_wh=60_000, soc=20, max_current_a=16, phases=3)
    h.advance(120)
    h.answer_all()
    first, second = (readings(f) for f in h.calls("MeterValues"))
    assert first == {
        "Energy.Active.Import.Register": 184,  # 11 040 W for 60 s
        "Power.Active.Import": ELEVEN_KW,
        "Current.Import@L1": 16,
        "Current.Import@L2": 16,
        "Current.Import@L3": 16,
        "Current.Offered": 32,
        "Power.Offered": 32 * 230 * 3,
        "SoC": 20,
        "Voltage@L1-N": 230,
        "Voltage@L2-N": 230,
        "Voltage@L3-N": 230,
    }
    # the limit came at t + 90 (one timer at the boundary, not at the next sample)
    assert second["Power.Active.Import"] == 3700 and second["Power.Offered"] == 3700
    assert second["Current.Import@L1"] == pytest.approx(3700 / 690, abs=0.005)
    assert second["Current.Offered"] == pytest.approx(3700 / 690, abs=0.005)
    assert second["Energy.Active.Import.Register"] == int(ELEVEN_KW * 90 / 3600 + 3700 * 30 / 3600)
    assert statuses(h)[-1] == "Charging"
    assert h.calls("MeterValues")[1][3]["meterValue"][0]["timestamp"] == iso(t + 120)


def test_every_sample_is_consistent_power_current_voltage_and_offered_energy() -> None:
    config = {"MeterValueSampleInterval": "30", "MeterValuesSampledData": ALL}
    schedule = [(45, amps(10), None), (100, watts(2000), None), (170, None, None)]
    h, _ = limited_harness(schedule, config=config)
    start(h, capacity_wh=40_000, soc=50, max_current_a=16, phases=3)
    h.advance(240)
    h.answer_all()
    samples = [readings(f) for f in h.calls("MeterValues")]
    previous_energy, previous_offered = 0.0, None
    for sample in samples:
        phase_currents = [sample[f"Current.Import@L{i}"] for i in (1, 2, 3)]
        assert sample["Power.Active.Import"] == pytest.approx(230 * sum(phase_currents), abs=3)
        assert sample["Power.Active.Import"] <= sample["Power.Offered"]
        energy = sample["Energy.Active.Import.Register"]
        if previous_offered is not None:  # +1: the register shows whole Wh
            assert (
                energy - previous_energy
                <= max(previous_offered, sample["Power.Offered"]) * 30 / 3600 + 1
            )
        previous_energy, previous_offered = energy, sample["Power.Offered"]
    assert [s["Power.Active.Import"] for s in samples] == [
        ELEVEN_KW,  # t+30
        6900,  # t+60: 10 A x 230 V x 3 phases
        6900,  # t+90
        2000,
        2000,
        ELEVEN_KW,  # t+180: no limit any more
        ELEVEN_KW,
        ELEVEN_KW,
    ]


def test_a_limit_of_zero_suspends_the_evse_and_lifting_it_resumes_charging() -> None:
    config = {"MeterValueSampleInterval": "60", "MeterValuesSampledData": ALL}
    h, _ = limited_harness([(30, watts(0), None), (150, None, None)], config=config)
    start(h)  # the default fixed-power EV: 7 360 W on one phase
    h.advance(200)
    h.answer_all()
    assert statuses(h) == ["Available", "Preparing", "Charging", "SuspendedEVSE", "Charging"]
    samples = [readings(f) for f in h.calls("MeterValues")]
    assert [s["Power.Active.Import"] for s in samples] == [0, 0, 7360]
    assert [s["Power.Offered"] for s in samples] == [0, 0, 7360]
    assert [s["Energy.Active.Import.Register"] for s in samples] == [
        61,
        61,
        122,
    ]  # 30 s at 7 360 W, then nothing until t + 150
    assert "SoC" not in samples[0]  # a fixed-power EV says nothing of its battery
    assert samples[2]["Current.Import@L1"] == 32 and samples[2]["Current.Import@L2"] == 0


def test_a_full_battery_suspends_the_ev_at_the_instant_it_is_full() -> None:
    config = {"MeterValueSampleInterval": "0"}
    h, core = limited_harness(config=config)
    # 1 kWh from 99 % to full: 10 Wh at the floor of the taper, 10 % of 3 680 W
    start(h, capacity_wh=1000, soc=99, max_current_a=16, phases=1)
    t = h.now
    assert core.connectors[1].meter.power_w == pytest.approx(368)
    h.advance(200)
    h.answer_all()
    full_at = t + 10 / 368 * 3600  # 97.8 s
    suspended = [e for e in h.timeline if e.get("status") == "SuspendedEV"]
    assert len(suspended) == 1 and statuses(h)[-1] == "SuspendedEV"
    assert core.connectors[1].meter.energy_wh == pytest.approx(10)
    assert "metering:ev:1" not in h.timers  # nothing more to wait for
    h.feed(ev.SetEv(1, soc=50))  # the driver used some of it: the EV wants power again
    h.answer_all()
    assert statuses(h)[-2:] == ["SuspendedEV", "Charging"]
    assert core.connectors[1].meter.power_w == 3680
    assert h.sent_times("StatusNotification")[-2] == pytest.approx(full_at)


def test_suspended_evse_wins_over_a_full_ev() -> None:
    h, _ = limited_harness([(60, watts(0), None)], config={"MeterValueSampleInterval": "0"})
    start(h, capacity_wh=1000, soc=100)
    h.advance(90)
    h.answer_all()
    assert statuses(h) == ["Available", "Preparing", "SuspendedEV", "SuspendedEVSE"]


def test_the_ev_pausing_is_suspended_ev_and_resuming_is_charging() -> None:
    h, core = limited_harness(config={"MeterValueSampleInterval": "0"})
    start(h)
    h.feed(ev.SetEv(1, paused=True))
    h.advance(10)
    h.feed(ev.EvSuspend(1, False))  # start_charging: the EV resumes
    h.answer_all()
    assert statuses(h) == ["Available", "Preparing", "Charging", "SuspendedEV", "Charging"]
    assert core.connectors[1].meter.power_w == 7360


def test_an_unplugged_ev_of_a_running_transaction_takes_no_power() -> None:
    config = {"MeterValueSampleInterval": "0", "StopTransactionOnEVSideDisconnect": "false"}
    h, core = limited_harness(config=config)
    start(h)
    h.advance(10)
    h.feed(ev.Unplug(1))
    energy = core.connectors[1].meter.energy_wh
    h.advance(100)
    h.feed(ev.PlugIn(1))
    h.answer_all()
    assert core.connectors[1].meter.energy_wh == pytest.approx(energy)
    assert statuses(h)[-2:] == ["SuspendedEV", "Charging"]


def test_two_connectors_share_the_station_limit_fairly() -> None:
    config = {"MeterValueSampleInterval": "0"}
    h, core = limited_harness([(0, None, watts(11_040))], connectors=2, config=config)
    h.boot(interval=86_400)
    h.feed(ev.SetEv(1, capacity_wh=60_000, soc=50, max_current_a=16, phases=3))
    h.feed(ev.SetEv(2, capacity_wh=60_000, soc=50, max_current_a=16, phases=1))
    for connector in (1, 2):
        h.feed(ev.StartCharging(connector, f"T{connector}"))
    h.answer_all()
    one, two = core.connectors[1].meter, core.connectors[2].meter
    assert (one.power_w, two.power_w) == (pytest.approx(7360), pytest.approx(3680))
    h.feed(ev.StopCharging(2))  # what it took, connector 1 may now have
    assert one.power_w == pytest.approx(ELEVEN_KW)


def test_a_station_current_limit_bounds_the_sum_of_the_currents_on_l1() -> None:
    # §3.13.3, §7.12: a ChargePointMax of 10 A is 10 A per phase at the grid connection;
    # every EV draws on L1, so a 3-phase and a 1-phase EV share those 10 A
    config = {"MeterValueSampleInterval": "0"}
    h, core = limited_harness([(0, None, amps(10))], connectors=2, config=config)
    h.boot(interval=86_400)
    h.feed(ev.SetEv(1, capacity_wh=60_000, soc=50, max_current_a=16, phases=3))
    h.feed(ev.SetEv(2, capacity_wh=60_000, soc=50, max_current_a=16, phases=1))
    for connector in (1, 2):
        h.feed(ev.StartCharging(connector, f"T{connector}"))
    h.answer_all()
    one, two = core.connectors[1].meter, core.connectors[2].meter
    assert (one.power_w, two.power_w) == (pytest.approx(5 * 230 * 3), pytest.approx(5 * 230))
    assert core.reading(core.connectors[0]).currents_a == pytest.approx((10, 5, 5))
    h.feed(ev.StopCharging(1))  # what it took, connector 2 may now have
    assert two.power_w == pytest.approx(10 * 230)


def test_the_fixed_power_of_start_charging_replaces_the_ev() -> None:
    h, core = limited_harness(config={"MeterValueSampleInterval": "0"})
    start(h, capacity_wh=50_000, soc=10)
    h.feed(ev.EvSuspend(1, False, 11_000))
    assert core.connectors[1].meter.power_w == 11_000 and core.connectors[1].meter.phases == 3


# --- clock-aligned data, StopTransaction's transactionData, TriggerMessage --------------


def test_clock_aligned_values_go_for_every_connector_with_or_without_a_transaction() -> None:
    config = {
        "ClockAlignedDataInterval": "900",
        "MeterValuesAlignedData": "Energy.Active.Import.Register,Power.Active.Import",
        "MeterValueSampleInterval": "0",
    }
    h, _ = limited_harness(connectors=2, config=config)
    h.boot(interval=86_400)
    h.advance(600)
    h.feed(ev.StartCharging(1, "T1"))  # at 00:10
    h.answer_all()
    h.advance(300)  # 00:15
    h.answer_all()
    aligned = h.calls("MeterValues")
    assert [f[3]["connectorId"] for f in aligned] == [0, 1, 2]
    assert [f[3].get("transactionId") for f in aligned] == [None, 101, None]
    for frame in aligned:
        value = frame[3]["meterValue"][0]
        assert value["timestamp"] == "2030-01-01T00:15:00.000Z"
        assert {v["context"] for v in value["sampledValue"]} == {"Sample.Clock"}
    assert [readings(f)["Power.Active.Import"] for f in aligned] == [7360, 7360, 0]
    assert readings(aligned[0])["Energy.Active.Import.Register"] == 613  # 7 360 W, 300 s
    h.advance(900)
    h.answer_all()
    assert len(h.calls("MeterValues")) == 6
    assert h.calls("MeterValues")[-1][3]["meterValue"][0]["timestamp"] == iso(h.now)


def test_stop_transaction_carries_the_stop_txn_data_collected_during_it() -> None:
    config = {
        "ClockAlignedDataInterval": "900",
        "MeterValuesAlignedData": "",
        "MeterValueSampleInterval": "300",
        "StopTxnSampledData": "Energy.Active.Import.Register",
        "StopTxnAlignedData": "Power.Active.Import",
    }
    h, _ = limited_harness(config=config)
    h.boot(interval=86_400)
    h.advance(100)
    h.feed(ev.StartCharging(1, "T1"))
    h.advance(1000)
    h.feed(ev.StopCharging(1))
    h.answer_all()
    data = h.calls("StopTransaction")[0][3]["transactionData"]
    contexts = [v["sampledValue"][0]["context"] for v in data]
    assert contexts == [
        "Transaction.Begin",
        "Sample.Periodic",  # +300
        "Sample.Periodic",  # +600
        "Sample.Clock",  # 00:15
        "Sample.Periodic",  # +900
        "Transaction.End",
    ]
    assert data[3]["sampledValue"][0]["measurand"] == "Power.Active.Import"
    assert data[-1]["sampledValue"][0]["value"] == str(int(7360 * 1000 / 3600))


def test_transaction_data_is_bounded_by_stop_transaction_max_meter_values() -> None:
    config = {
        "MeterValueSampleInterval": "10",
        "MeterValuesSampledData": "",
        "StopTxnSampledData": "Energy.Active.Import.Register",
        "StopTransactionMaxMeterValues": "4",
    }
    h, _ = limited_harness(config=config)
    h.boot(interval=86_400)
    h.feed(ev.StartCharging(1, "T1"))
    h.advance(100)
    h.feed(ev.StopCharging(1))
    h.answer_all()
    assert h.calls("MeterValues") == []  # nothing sampled to send
    data = h.calls("StopTransaction")[0][3]["transactionData"]
    contexts = [v["sampledValue"][0]["context"] for v in data]
    assert contexts == [
        "Transaction.Begin",
        "Sample.Periodic",
        "Sample.Periodic",
        "Transaction.End",
    ]
    assert data[1]["timestamp"] < data[2]["timestamp"]  # the newest samples kept


def test_no_stop_txn_data_no_transaction_data() -> None:
    h, _ = limited_harness(config={"StopTxnSampledData": "", "StopTxnAlignedData": ""})
    h.boot(interval=86_400)
    h.feed(ev.StartCharging(1, "T1"))
    h.advance(200)
    h.feed(ev.StopCharging(1))
    h.answer_all()
    assert "transactionData" not in h.calls("StopTransaction")[0][3]  # §3.16.5


def test_a_triggered_meter_values_carries_the_latest_sampled_measurands() -> None:
    config = {"MeterValueSampleInterval": "0", "MeterValuesSampledData": "Power.Offered,SoC"}
    h, _ = limited_harness([(0, amps(6), None)], config=config)
    start(h, capacity_wh=40_000, soc=42.5, phases=3)
    h.csms_call("TriggerMessage", {"requestedMessage": "MeterValues", "connectorId": 1})
    h.answer_all()
    frame = h.calls("MeterValues")[-1]
    assert {v["context"] for v in frame[3]["meterValue"][0]["sampledValue"]} == {"Trigger"}
    assert readings(frame) == {"Power.Offered": 6 * 230 * 3, "SoC": 42}


def test_set_ev_refuses_an_ev_that_cannot_exist() -> None:
    h, _ = limited_harness()
    with pytest.raises(ValueError, match="either a fixed power or a battery"):
        h.feed(ev.SetEv(1, power_w=7000, soc=50))
    with pytest.raises(ValueError, match="SoC"):
        h.feed(ev.SetEv(1, soc=120))


def test_clock_aligned_values_follow_the_wall_clock_the_csms_sets() -> None:
    config = {"ClockAlignedDataInterval": "900", "MeterValueSampleInterval": "0"}
    h, _ = limited_harness(config=config)
    h.feed(ev.LinkUp())
    csms_time = h.now + 3 * 86_400 + 7 * 60  # three days and 7 minutes ahead
    h.answer({"status": "Accepted", "currentTime": iso(csms_time), "interval": 86_400})
    h.answer_all()
    h.advance(8 * 60 + 900)
    h.answer_all()
    stamps = [f[3]["meterValue"][0]["timestamp"] for f in h.calls("MeterValues")]
    assert stamps == ["2030-01-04T00:15:00.000Z"] * 2 + ["2030-01-04T00:30:00.000Z"] * 2


STOP_DATA = {
    "MeterValueSampleInterval": "60",
    "MeterValuesSampledData": "",
    "StopTxnSampledData": "Energy.Active.Import.Register",
}


def test_the_transaction_data_collected_before_a_power_loss_goes_in_its_stop() -> None:
    h = Harness(config=STOP_DATA)
    h.boot(interval=86_400)
    h.feed(ev.StartCharging(1, "T1"))
    h.advance(150)
    h.answer_all()
    assert len([n for n in h.store.values if n.startswith("metering.txdata.")]) == 3
    h2 = h.power_loss(after=30)
    h2.boot(interval=86_400)
    h2.answer_all()
    stop = h2.calls("StopTransaction")[0][3]
    assert stop["reason"] == "PowerLoss"
    assert [v["sampledValue"][0]["context"] for v in stop["transactionData"]] == [
        "Transaction.Begin",
        "Sample.Periodic",
        "Sample.Periodic",
    ]
    assert [v["sampledValue"][0]["value"] for v in stop["transactionData"]] == ["0", "122", "245"]
    assert not [n for n in h2.store.values if n.startswith("metering.txdata.")]


def test_a_resumed_transaction_keeps_collecting_where_it_was() -> None:
    h = Harness(config={**STOP_DATA, "ResumeTransactionsAfterPowerLoss": "true"})
    h.boot(interval=86_400)
    h.feed(ev.StartCharging(1, "T1"))
    h.advance(60)
    h.answer_all()
    h.store.values["metering.txdata.77.00000000"] = "{not json"  # of no open transaction
    h2 = h.power_loss(after=30)
    h2.boot(interval=86_400)
    h2.advance(60)
    h2.feed(ev.StopCharging(1))
    h2.answer_all()
    data = h2.calls("StopTransaction")[0][3]["transactionData"]
    contexts = [v["sampledValue"][0]["context"] for v in data]
    assert contexts == [
        "Transaction.Begin",
        "Sample.Periodic",
        "Sample.Periodic",
        "Transaction.End",
    ]
    # the stale value dropped, the rest taken by the stop
    assert not [n for n in h2.store.values if n.startswith("metering.")]


def test_nothing_measured_nothing_sent() -> None:
    config = {
        "MeterValueSampleInterval": "60",
        "MeterValuesSampledData": "SoC",  # a fixed-power EV has no SoC
        "ClockAlignedDataInterval": "60",
        "MeterValuesAlignedData": "SoC",
    }
    h = Harness(config=config)
    h.boot(interval=86_400)
    h.feed(ev.StartCharging(1, "T1"))
    h.advance(180)
    h.answer_all()
    assert h.calls("MeterValues") == []
    h.feed(ev.SetEv(1, capacity_wh=50_000, soc=30))
    h.advance(60)
    h.answer_all()
    assert [readings(f) for f in h.calls("MeterValues")] == [{"SoC": 30}] * 2  # sampled, aligned


@pytest.mark.parametrize("where", [1, 0], ids=["connector", "charger"])
def test_a_fault_stops_the_power_and_its_end_restores_it(where: int) -> None:
    h = Harness(config={"MeterValueSampleInterval": "0"})
    h.boot(interval=86_400)
    h.feed(ev.StartCharging(1, "T1"))
    h.advance(60)
    h.feed(ev.Fault(where))
    h.advance(600)
    meter = h.core.connectors[1].meter
    assert (meter.power_w, int(meter.energy_wh)) == (0, 122)
    h.feed(ev.ClearFault(where))
    assert meter.power_w == 7360


@pytest.mark.parametrize(
    "value",
    ["Energy.Active.Import.Register,Temperature", "Frequency", ",".join(["Voltage"] * 11)],
    ids=["one-not-measured", "not-measured", "over-max-length"],
)
def test_a_measurand_list_the_charger_cannot_honour_is_rejected_and_changes_nothing(
    value: str,
) -> None:
    # OCPP 1.6 §9.1 MeterValuesSampledData: unsupported measurands -> Rejected, no change
    h = Harness()
    h.boot(interval=86_400)
    before = h.core.config.get("MeterValuesSampledData")
    for key in ("MeterValuesSampledData", "StopTxnAlignedData"):
        answer = h.csms_call("ChangeConfiguration", {"key": key, "value": value})
        assert answer[2] == {"status": "Rejected"}
    assert h.core.config.get("MeterValuesSampledData") == before
