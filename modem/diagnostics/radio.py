"""Radio checks: how well the module hears the network (CSQ, QCSQ, QNWINFO, QENG).

These only ever warn: a weak signal explains a failure further on (no
registration, a slow activation) but is not one by itself, since a charger at
-105 dBm still works.  The thresholds are the usual LTE planning figures.
"""

from __future__ import annotations

from modem.at import ATDriver

from .common import guarded, query
from .decode import parse_csq, parse_qcsq, parse_qeng_servingcell, parse_qnwinfo
from .result import CheckResult, Status

RSSI_FAIR = -95  # dBm; below: weak
RSSI_POOR = -105
RSRP_MIN = -105  # dBm; below: cell edge, retransmissions
RSRQ_MIN = -15  # dB; below: heavy interference or load
SINR_MIN = 0.0  # dB; below: noise louder than the cell


def _rssi_words(dbm: int) -> str:
    if dbm >= -75:
        return "excellent"
    if dbm >= -85:
        return "good"
    if dbm >= RSSI_FAIR:
        return "fair"
    return "weak" if dbm >= RSSI_POOR else "very weak"


async def signal_check(driver: ATDriver) -> CheckResult:
    """``AT+CSQ`` turned into dBm (27.007: -113 + 2 * rssi)."""

    async def run() -> CheckResult:
        csq = parse_csq(await query(driver, "AT+CSQ", "+CSQ:") or "")
        data = {"csq": csq.rssi, "ber": csq.ber, "dbm": csq.dbm}
        if csq.dbm is None:
            return CheckResult(
                "signal",
                Status.WARN,
                f"not measured (CSQ {csq.rssi})",
                "no cell heard: antenna missing or loose, or no coverage here",
                reason="no-signal",
                data=data,
            )
        words = _rssi_words(csq.dbm)
        figure = f"{csq.dbm} dBm (CSQ {csq.rssi}, {words})"
        if csq.dbm >= RSSI_FAIR:
            return CheckResult("signal", Status.PASS, figure, data=data)
        return CheckResult(
            "signal",
            Status.WARN,
            figure,
            "weak signal: move the antenna (higher, outside the cabinet) or use an external one",
            reason="weak-signal",
            data=data,
        )

    return await guarded("signal", run)


async def lte_quality_check(driver: ATDriver) -> CheckResult:
    """``AT+QCSQ``: RSRP, RSRQ and SINR; SINR shown raw and as raw/5 - 20 dB, since the
    encoding differs between firmwares (reference A.14)."""

    async def run() -> CheckResult:
        q = parse_qcsq(await query(driver, "AT+QCSQ", "+QCSQ:") or "")
        data = {
            "sysmode": q.sysmode,
            "rssi": q.rssi,
            "rsrp": q.rsrp,
            "rsrq": q.rsrq,
            "sinr_raw": q.sinr_raw,
            "sinr_db": q.sinr_db,
            "rscp": q.rscp,
            "ecio": q.ecio,
        }
        if q.sysmode == "NOSERVICE":
            return CheckResult(
                "LTE quality",
                Status.WARN,
                "no service",
                "the module is on no cell",
                reason="no-service",
                data=data,
            )
        if not q.lte_like:
            figure = f"{q.sysmode}, RSSI {q.rssi} dBm"
            return CheckResult(
                "LTE quality", Status.PASS, figure, f"not on LTE ({q.sysmode})", data=data
            )
        sinr = "?" if q.sinr_db is None else f"{q.sinr_db:.1f}"
        figure = f"RSRP {q.rsrp} dBm, RSRQ {q.rsrq} dB, SINR {sinr} dB (raw {q.sinr_raw})"
        poor = [
            text
            for bad, text in (
                (q.rsrp is not None and q.rsrp < RSRP_MIN, f"RSRP below {RSRP_MIN} dBm"),
                (q.rsrq is not None and q.rsrq < RSRQ_MIN, f"RSRQ below {RSRQ_MIN} dB"),
                (q.sinr_db is not None and q.sinr_db < SINR_MIN, "SINR below 0 dB"),
            )
            if bad
        ]
        if not poor:
            return CheckResult("LTE quality", Status.PASS, figure, data=data)
        return CheckResult(
            "LTE quality",
            Status.WARN,
            figure,
            "poor LTE link (" + ", ".join(poor) + "): expect retries and slow answers",
            reason="poor-lte",
            data=data,
        )

    return await guarded("LTE quality", run)


async def network_check(driver: ATDriver) -> CheckResult:
    """``AT+QNWINFO``: technology, operator code (PLMN), band and channel."""

    async def run() -> CheckResult:
        info = parse_qnwinfo(await query(driver, "AT+QNWINFO", "+QNWINFO:") or "No Service")
        if info is None:
            return CheckResult(
                "network",
                Status.WARN,
                "no service",
                "the module is not on a network",
                reason="no-service",
            )
        figure = f"{info.act}, PLMN {info.plmn}, {info.band}, channel {info.channel}"
        data = {"act": info.act, "plmn": info.plmn, "band": info.band, "channel": info.channel}
        return CheckResult("network", Status.PASS, figure, data=data)

    return await guarded("network", run)


_CELL_STATES = {
    "SEARCH": "searching, not camped on a cell",
    "LIMSRV": "camped, limited service (emergency calls only)",
    "NOCONN": "registered, idle",
    "CONNECT": "registered, connected",
}


async def serving_cell_check(driver: ATDriver) -> CheckResult:
    """``AT+QENG="servingcell"``: the cell the module is on."""

    async def run() -> CheckResult:
        value = await query(driver, 'AT+QENG="servingcell"', "+QENG:")
        cell = parse_qeng_servingcell(value or "")
        meaning = _CELL_STATES.get(cell.state, cell.state)
        data = {k: v for k, v in vars(cell).items() if v is not None}
        if cell.rat is None:
            figure = cell.state
        else:
            parts = [cell.state, cell.rat + (f" {cell.duplex}" if cell.duplex else "")]
            if cell.band is not None:
                parts.append(f"band {cell.band}")
            if cell.mcc is not None:
                parts.append(f"MCC {cell.mcc} MNC {cell.mnc}")
            if cell.cell_id:
                parts.append(f"cell {cell.cell_id}" + (f" PCI {cell.pci}" if cell.pci else ""))
            if cell.tac:
                parts.append(f"TAC {cell.tac}")
            figure = ", ".join(parts)
        if cell.state in ("NOCONN", "CONNECT"):
            return CheckResult("serving cell", Status.PASS, figure, meaning, data=data)
        return CheckResult(
            "serving cell", Status.WARN, figure, meaning, reason="not-camped", data=data
        )

    return await guarded("serving cell", run)
