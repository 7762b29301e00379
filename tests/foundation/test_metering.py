"""The energy register follows power x time, whatever the CSMS does to the charger's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chargepoint.core.settings import EV_POWER_W
from chargepoint.csms.server import LocalCsms


def _energy(frame) -> int:
    for sample in frame.payload["meterValue"][0]["sampledValue"]:
        if sample["measurand"] == "Energy.Active.Import.Register":
            return int(sample["value"])
    raise AssertionError("no Energy.Active.Import.Register")


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def test_csms_time_jump_does_not_add_energy(csms: LocalCsms, start_charger) -> None:
    csms.policy.heartbeat_interval = 1
    charger = await start_charger(config_overrides={"MeterValueSampleInterval": "1"})
    await charger.booted()
    await charger.call("RemoteStartTransaction", {"idTag": "TAG1", "connectorId": 1})
    start = await charger.received("StartTransaction")
    tx_id = (await charger.answer_to(start)).payload["transactionId"]
    before = await charger.received("MeterValues", after=start.seq)
    # The CSMS's clock is an hour ahead from now on; the charger adopts it at the next Heartbeat.
    csms.policy.clock = lambda: datetime.now(UTC) + timedelta(hours=1)
    heartbeat = await charger.received("Heartbeat", after=before.seq, timeout=5)
    await charger.answer_to(heartbeat)
    after = await charger.received("MeterValues", after=heartbeat.seq, timeout=5)
    later = await charger.received("MeterValues", after=after.seq, timeout=5)
    jump = _seconds(later.payload["meterValue"][0]["timestamp"]) - _seconds(
        before.payload["meterValue"][0]["timestamp"]
    )
    assert jump > 3000, "the charger's timestamps should follow the CSMS's clock"
    await charger.call("RemoteStopTransaction", {"transactionId": tx_id})
    stop = await charger.received("StopTransaction", after=later.seq)
    # Real seconds the transaction lasted, as the CSMS saw it (its log uses its own wall time).
    lasted = _seconds(stop.time) - _seconds(start.time)
    most = EV_POWER_W * (lasted + 2) / 3600  # 2 s for the messages' time on the way
    energy = stop.payload["meterStop"] - start.payload["meterStart"]
    assert 0 < energy <= most, f"{energy} Wh in {lasted:.1f} s at {EV_POWER_W} W"
    readings = [_energy(f) for f in (before, after, later)]
    assert readings == sorted(readings) and readings[-1] <= stop.payload["meterStop"]
