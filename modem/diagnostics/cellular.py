"""Module, SIM, registration and operator checks (reference A.14).

These are the ones that decide: a SIM that wants a PIN or a network that
denies registration stops a charger for good, so they ``fail`` with a reason
code the verdict turns into the fix.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

from modem.at import ATCommandError, ATDriver
from modem.quectel import ModemIdentity, QuectelModem

from .common import guarded, query
from .decode import COPS_MODE, REG_STAT, RegState, parse_cops, parse_reg, sim_state_from_error
from .result import CheckResult, Status

REG_COMMANDS = ("+CEREG", "+CGREG", "+CREG")  # LTE (PS), 2G/3G PS, CS


async def module_check(modem: QuectelModem) -> tuple[CheckResult, ModemIdentity | None]:
    """ATI, firmware and IMEI, plus the ICCID and IMSI the SIM check reports."""
    holder: list[ModemIdentity] = []

    async def run() -> CheckResult:
        ident = await modem.identity()
        holder.append(ident)
        figure = f"{ident.manufacturer} {ident.model}, firmware {ident.revision}, IMEI {ident.imei}"
        data = {
            "manufacturer": ident.manufacturer,
            "model": ident.model,
            "firmware": ident.revision,
            "imei": ident.imei,
        }
        if not ident.imei:
            return CheckResult(
                "module", Status.WARN, figure, "no IMEI reported", reason="no-imei", data=data
            )
        return CheckResult("module", Status.PASS, figure, data=data)

    result = await guarded("module", run)
    return result, holder[0] if holder else None


_SIM_FAILS = {
    "ABSENT": ("no-sim", "no SIM detected"),
    "SIM PIN": ("sim-pin", "the SIM asks for its PIN"),
    "PH-SIM PIN": ("sim-pin", "the module is locked to another SIM (PH-SIM PIN)"),
    "SIM PUK": ("sim-puk", "the SIM is blocked: PUK required"),
    "BUSY": ("sim-busy", "the SIM stays busy"),
}


async def read_sim_state(driver: ATDriver) -> str:
    """``AT+CPIN?`` -> ``READY``, ``SIM PIN``, ``ABSENT``...; SIM errors become states."""
    try:
        return (await query(driver, "AT+CPIN?", "+CPIN:") or "").strip().strip('"') or "?"
    except ATCommandError as exc:
        state = sim_state_from_error(exc.cme_code, exc.reason)
        if state is None:
            raise
        return state


async def sim_check(
    driver: ATDriver, ident: ModemIdentity | None, busy_wait: float = 3.0
) -> CheckResult:
    """``AT+CPIN?`` state, with the ICCID and IMSI read by :func:`module_check`."""

    async def run() -> CheckResult:
        try:
            state = await read_sim_state(driver)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + busy_wait
            while state in ("BUSY", "NOT READY") and loop.time() < deadline:
                await asyncio.sleep(0.5)  # the SIM is still starting
                state = await read_sim_state(driver)
        except ATCommandError as exc:  # not a SIM state: still no usable SIM
            return CheckResult("SIM", Status.FAIL, "unknown", str(exc), reason="sim-error")
        iccid = ident.iccid if ident else None
        imsi = ident.imsi if ident else None
        data = {"state": state, "iccid": iccid, "imsi": imsi}
        figure = f"{state}, ICCID {iccid or '?'}, IMSI {imsi or '?'}"
        if state == "READY":
            return CheckResult("SIM", Status.PASS, figure, data=data)
        reason, detail = _SIM_FAILS.get(state, ("sim-error", f"SIM not usable ({state})"))
        if reason == "sim-error" and "PUK" in state:
            reason, detail = "sim-puk", f"the SIM is blocked ({state})"
        elif reason == "sim-error" and "PIN" in state:
            reason, detail = "sim-pin", f"the SIM asks for a PIN ({state})"
        return CheckResult("SIM", Status.FAIL, figure, detail, reason=reason, data=data)

    return await guarded("SIM", run)


async def read_registration(driver: ATDriver) -> list[RegState]:
    """CEREG, CGREG and CREG as the firmware has them (not all have the three)."""
    states = []
    for name in REG_COMMANDS:
        try:
            value = await query(driver, f"AT{name}?", name + ":")
        except ATCommandError:
            continue
        if value is not None:
            states.append(parse_reg(name, value))
    return states


def judge_registration(states: list[RegState]) -> CheckResult:
    """Data needs packet-domain registration (CEREG on LTE, CGREG on 2G/3G); CREG
    (circuit-switched) is shown but does not carry data."""
    data: dict[str, object] = {s.command.lstrip("+"): s.stat for s in states}
    if not states:
        return CheckResult(
            "registration",
            Status.FAIL,
            "no answer",
            "neither AT+CEREG? nor AT+CGREG? answered",
            reason="not-registered",
            data=data,
        )
    shown = ", ".join(f"{s.command.lstrip('+')} {s.stat}" for s in states)
    packet = [s for s in states if s.command != "+CREG"]
    home = next((s for s in packet if s.data_ok), None)
    if home is not None:
        data["state"] = home.text
        figure = f"{home.text} ({shown})"
        if home.roaming:
            return CheckResult(
                "registration",
                Status.WARN,
                figure,
                "roaming: the SIM works on a visited network",
                reason="roaming",
                data=data,
            )
        return CheckResult("registration", Status.PASS, figure, data=data)
    stats = {s.stat for s in states}
    for stat, reason in ((3, "denied"), (6, "sms-only"), (7, "sms-only"), (8, "emergency-only")):
        if stat in stats:
            data["state"] = REG_STAT[stat]
            return CheckResult(
                "registration",
                Status.FAIL,
                f"{REG_STAT[stat]} ({shown})",
                _REG_DETAIL[reason],
                reason=reason,
                data=data,
            )
    reason = "searching" if 2 in stats else "not-registered"
    text = REG_STAT[2] if reason == "searching" else REG_STAT[0]
    detail = _REG_DETAIL[reason]
    if any(s.data_ok for s in states):  # CREG only: calls, but no packet data
        detail = "registered for calls (CREG) but not for packet data: is data enabled on the SIM?"
    data["state"] = text
    return CheckResult(
        "registration", Status.FAIL, f"{text} ({shown})", detail, reason=reason, data=data
    )


_REG_DETAIL = {
    "denied": "the network refuses this SIM",
    "sms-only": "attached for SMS only: no packet data for this SIM",
    "emergency-only": "the network allows emergency calls only",
    "searching": "the module keeps searching for a network it may use",
    "not-registered": "the module is not on a network and not searching",
}


async def registration_check(
    driver: ATDriver,
    wait: float,
    poll: float = 1.0,
    note: Callable[[str], None] | None = None,
) -> CheckResult:
    """Registration, polled for up to ``wait`` s while the module is still searching."""

    async def run() -> CheckResult:
        loop = asyncio.get_running_loop()
        start = loop.time()
        while True:
            result = judge_registration(await read_registration(driver))
            elapsed = loop.time() - start
            undecided = result.reason in ("searching", "not-registered")
            if not undecided or elapsed + poll > wait:
                if elapsed < 1:
                    return result
                return replace(result, data={**result.data, "waited_s": round(elapsed, 1)})
            if note is not None:
                note(f"registration: {result.figure}, waiting ({elapsed:.0f} of {wait:g} s)")
            await asyncio.sleep(poll)

    return await guarded("registration", run)


async def operator_check(driver: ATDriver) -> CheckResult:
    """``AT+COPS?``: operator name and access technology."""

    async def run() -> CheckResult:
        cops = parse_cops(await query(driver, "AT+COPS?", "+COPS:") or "")
        mode = COPS_MODE.get(cops.mode or 0, f"mode {cops.mode}")
        data = {"mode": cops.mode, "operator": cops.operator, "act": cops.act_text}
        if cops.mode == 2:
            return CheckResult(
                "operator",
                Status.WARN,
                "deregistered (AT+COPS=2)",
                "the module was told to stay off the network: send AT+COPS=0",
                reason="cops-deregistered",
                data=data,
            )
        if cops.operator is None:
            return CheckResult(
                "operator",
                Status.WARN,
                f"none ({mode} selection)",
                "no operator selected",
                reason="no-operator",
                data=data,
            )
        figure = f"{cops.operator}, {cops.act_text or 'AcT ?'}, {mode} selection"
        return CheckResult("operator", Status.PASS, figure, data=data)

    return await guarded("operator", run)
