"""The emulator's radio figures tell one story per profile, as a technician would read
them side by side: AT+CSQ, AT+QCSQ and AT+QENG="servingcell" through the checks."""

from __future__ import annotations

import math
from typing import Any

import pytest

from modem.diagnostics import lte_quality_check, serving_cell_check, signal_check
from modem.emulator.ec200u.cmd_network import cqi_for, tx_power_for
from modem.emulator.ec200u.profiles import PROFILES
from modem.quectel import QuectelModem

from .conftest import ec200u

RESOURCE_BLOCKS = {0: 6, 1: 15, 2: 25, 3: 50, 4: 75, 5: 100}  # QENG bandwidth index
NOISE_PER_RE = -125  # dBm: thermal noise in 15 kHz plus a 7 dB noise figure
HEARD = [name for name, profile in PROFILES.items() if profile.coverage]


async def radio(profile: str) -> dict[str, dict[str, Any]]:
    async with ec200u(profile) as emu:
        modem = await QuectelModem.open(emu.port_url)
        try:
            checks = (signal_check, lte_quality_check, serving_cell_check)
            return {check.__name__: (await check(modem.driver)).data for check in checks}
        finally:
            await modem.aclose()


@pytest.mark.parametrize("profile", HEARD)
async def test_figures_agree(profile: str) -> None:
    got = await radio(profile)
    csq, qcsq, cell = got["signal_check"], got["lte_quality_check"], got["serving_cell_check"]
    for key in ("rsrp", "rsrq", "rssi"):  # one measurement, two commands
        assert cell[key] == qcsq[key], key
    assert cell["sinr"] == qcsq["sinr_db"]
    assert abs(int(csq["dbm"]) - int(cell["rssi"])) <= 1
    sinr, rsrp = float(cell["sinr"]), int(cell["rsrp"])
    assert cell["cqi"] == cqi_for(sinr)
    assert sinr <= rsrp - NOISE_PER_RE + 1, "SINR above what the noise floor allows"
    assert cell["srxlev"] == rsrp + 140  # Qrxlevmin -140 dBm


def _rsrq_expected(cell: dict[str, Any]) -> float:
    blocks = RESOURCE_BLOCKS[int(cell["dl_bandwidth"])]
    return 10 * math.log10(blocks) + int(cell["rsrp"]) - int(cell["rssi"])


@pytest.mark.parametrize("profile", HEARD)
async def test_rsrq_matches_rsrp_and_rssi(profile: str) -> None:
    """RSRQ = 10 log10(N) + RSRP - RSSI over N resource blocks (36.214)."""
    cell = (await radio(profile))["serving_cell_check"]
    assert abs(int(cell["rsrq"]) - _rsrq_expected(cell)) <= 2


def test_cqi_and_transmit_power_follow_the_radio() -> None:
    assert [cqi_for(s) for s in (-10, -3, 0.2, 19, 30)] == [0, 2, 4, 13, 15]
    assert tx_power_for(-99) == 14  # field log: RSRP -99 dBm, txpwr 14 while connected
    assert tx_power_for(-70) < tx_power_for(-92) < tx_power_for(-110)
    assert tx_power_for(-124) == 23  # the cell edge: full power
