"""The EV obeys the real Smart Charging layer: profiles sent by the CSMS change the power
the MeterValues show (§3.13, profiles reference §2.9)."""

from __future__ import annotations

from typing import Any

from core.harness import Harness, iso  # tests/ is on sys.path (rootdir packages)

from chargepoint.core import events as ev

from .test_metering_core import ALL, readings, statuses

ELEVEN_KW = 16 * 230 * 3


def max_profile(limit_w: float, profile_id: int = 1) -> dict[str, Any]:
    return {
        "connectorId": 0,
        "csChargingProfiles": {
            "chargingProfileId": profile_id,
            "stackLevel": 0,
            "chargingProfilePurpose": "ChargePointMaxProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {
                "startSchedule": "2029-12-31T00:00:00Z",
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit_w}],
            },
        },
    }


def eleven_kw_session() -> Harness:
    h = Harness(config={"MeterValueSampleInterval": "60", "MeterValuesSampledData": ALL})
    h.boot(interval=86_400)
    h.feed(ev.SetEv(1, capacity_wh=60_000, soc=20, max_current_a=16, phases=3))
    h.feed(ev.PlugIn(1))
    h.feed(ev.StartCharging(1, "T1"))
    h.answer_all()
    return h


def test_a_3_7_kw_chargepointmax_profile_cuts_an_11_kw_session_at_once() -> None:
    h = eleven_kw_session()
    t = h.now
    h.advance(70)
    h.answer_all()
    answer = h.csms_call("SetChargingProfile", max_profile(3700))
    assert answer[2] == {"status": "Accepted"}
    h.advance(50)  # the next sample, at t + 120
    h.answer_all()
    before, after = (readings(f) for f in h.calls("MeterValues"))
    assert before["Power.Active.Import"] == ELEVEN_KW
    assert after["Power.Active.Import"] == 3700 and after["Power.Offered"] == 3700
    assert after["Energy.Active.Import.Register"] == int((ELEVEN_KW * 70 + 3700 * 50) / 3600)
    assert h.calls("MeterValues")[1][3]["meterValue"][0]["timestamp"] == iso(t + 120)
    assert statuses(h)[-1] == "Charging"


def test_a_zero_limit_suspends_the_evse_and_clearing_it_resumes() -> None:
    h = eleven_kw_session()
    h.csms_call("SetChargingProfile", max_profile(0))
    h.advance(30)
    h.csms_call("ClearChargingProfile", {"id": 1}, uid="c2")
    h.answer_all()
    assert statuses(h)[-3:] == ["Charging", "SuspendedEVSE", "Charging"]
