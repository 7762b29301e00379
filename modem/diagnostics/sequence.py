"""The cellular checks in the order a technician reasons: module, SIM, radio,
registration, data.

A failure does not end the run: radio and registration still explain a locked
SIM, and only the checks that cannot work any more (data without a SIM or a
network) are skipped, each with the reason.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from modem.at import ATCommandError, ATTimeout
from modem.quectel import ModemIdentity, QuectelModem, SimError

from .cellular import module_check, operator_check, registration_check, sim_check
from .data import ApnSettings, data_check
from .radio import lte_quality_check, network_check, serving_cell_check, signal_check
from .result import Report

RADIO = ("signal", "LTE quality", "network", "serving cell")
CELLULAR = ("module", "SIM", *RADIO, "registration", "operator", "data")


@dataclass(frozen=True)
class CellularPlan:
    """``apn`` None: activate whatever APN the modem holds; ``activate`` False: stop
    before the data check (apn-scan activates each APN itself)."""

    apn: ApnSettings | None = None
    registration_wait: float = 30.0
    ctx: int = 1
    activate: bool = True


async def run_cellular(
    modem: QuectelModem, plan: CellularPlan, report: Report
) -> ModemIdentity | None:
    """Add the cellular rows to ``report``; an :class:`ATPortError` ends it early."""
    with contextlib.suppress(SimError, ATCommandError, ATTimeout):
        await modem.initialise()  # echo off, verbose errors; the SIM check says the rest
    driver = modem.driver
    module, ident = await module_check(modem)
    report.add(module)
    sim = report.add(await sim_check(driver, ident))
    # Registration first (it may wait while the module searches, e.g. after a reboot),
    # then the radio: read before the wait, QNWINFO and QENG would still say "no
    # service" next to "registered".  The rows keep the table order all the same.
    wait = plan.registration_wait if sim.ok else 0.0  # a locked SIM never registers
    registration = await registration_check(driver, wait, note=report.note)
    for check in (signal_check, lte_quality_check, network_check, serving_cell_check):
        report.add(await check(driver))
    report.add(registration)
    report.add(await operator_check(driver))
    if not plan.activate:
        return ident
    blocker = data_blocker(report)
    if blocker is not None:
        report.skip(["data"], blocker)
    else:
        report.add(await data_check(modem, plan.apn, plan.ctx))
    return ident


def data_blocker(report: Report) -> str | None:
    """Why no APN can be tried (no usable SIM, no network), or None when one can."""
    sim, registration = report.get("SIM"), report.get("registration")
    if sim is not None and not sim.ok:
        return f"no usable SIM ({sim.data.get('state') or sim.figure})"
    if registration is not None and not registration.ok:
        state = registration.data.get("state") or registration.figure
        return f"not registered on a network ({state})"
    return None
