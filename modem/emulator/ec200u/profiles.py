"""Field profiles (issue #6): the network situations a field tester meets.

A profile only sets state and network behaviour; the commands then answer
from that state, so e.g. ``denied`` shows up consistently in CREG, CEREG,
COPS, QNWINFO, QENG and a failing QIACT.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from modem.emulator.ec200u.state import Cell, ModemState, Sim


@dataclass(frozen=True)
class Profile:
    name: str
    sim_status: str = "READY"
    reg_stat: int = 1  # once the SIM is usable
    cell: Cell = field(default_factory=Cell)
    apn_check: bool = False  # only the configured good APNs activate
    dns_ok: bool = True
    reachable: bool = True  # TCP connects are carried out for real
    slowdown: float = 1.0  # multiplies network delays (weak signal retransmits)
    coverage: bool = True  # False: no cell heard at all (antenna off, basement)


_ROAMING_CELL = Cell(
    mcc=262,
    mnc=2,
    oper_long="Vodafone.de",
    oper_short="Vodafone",
    band=20,
    earfcn=6300,
    cell_id="2B1C0F3",
    tac="C35A",
    bandwidth=3,  # 10 MHz, 50 resource blocks: RSRQ = 10 log10(50) + RSRP - RSSI
    rssi=-67,
)
# The cell edge of a loaded 20 MHz cell: RSRP and SINR are poor while RSSI (all the power
# in the band, interference included) stays fair, so CSQ alone would not tell: RSRQ =
# 10 log10(100 RBs) + RSRP - RSSI (36.214); srxlev = RSRP - Qrxlevmin (-140 dBm).
_WEAK_CELL = Cell(rssi=-83, rsrp=-120, rsrq=-17, sinr=-3, srxlev=20)

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("ok"),
        Profile("no-sim", sim_status="ABSENT", reg_stat=0),
        Profile("sim-pin", sim_status="SIM PIN"),
        Profile("sim-puk", sim_status="SIM PUK"),
        Profile("no-signal", reg_stat=2, coverage=False),
        Profile("denied", reg_stat=3),
        Profile("roaming", reg_stat=5, cell=_ROAMING_CELL),
        Profile("weak-signal", cell=_WEAK_CELL, slowdown=4.0),
        Profile("bad-apn", apn_check=True),
        Profile("no-dns", dns_ok=False),
        Profile("csms-unreachable", reachable=False),
    )
}


def initial_state(profile: Profile, booted: bool) -> ModemState:
    """State right after power-on; ``booted`` is True when already registered.

    A SIM that waits for its PIN keeps the module unregistered until
    ``AT+CPIN`` succeeds, whatever the network would otherwise allow.
    """
    sim = Sim(status=profile.sim_status, pin_tries=0 if "PUK" in profile.sim_status else 3)
    usable = sim.status == "READY"
    reg = (profile.reg_stat if usable else 0) if booted else (2 if usable else 0)
    return ModemState(sim=sim, cell=replace(profile.cell), reg_stat=reg)
