"""Decoders for the diagnostic answers of 3GPP TS 27.007 and Quectel (reference A.14).

Pure functions over the text after the ``+XXX:`` prefix, so they are tested
without a modem.  Field counts vary with model and firmware, so every decoder
takes what is there and leaves the rest ``None`` instead of raising; only an
answer with no usable field at all gives ``None`` (or a :class:`ValueError`
where the caller must report a malformed answer).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass

# +CREG/+CGREG/+CEREG <stat> (27.007 §7.2, §10.1.20)
REG_STAT: dict[int, str] = {
    0: "not registered, not searching",
    1: "registered, home network",
    2: "not registered, searching",
    3: "registration denied",
    4: "unknown",
    5: "registered, roaming",
    6: "registered for SMS only, home network",
    7: "registered for SMS only, roaming",
    8: "attached for emergency bearer services only",
    9: "registered for CSFB not preferred, home network",
    10: "registered for CSFB not preferred, roaming",
}
REG_DATA_OK = (1, 5, 9, 10)  # registered with packet data
REG_ROAMING = (5, 7, 10)

# +COPS <AcT> (27.007 §7.3; 8 is Cat-M1 on Quectel BG96, EC-GSM-IoT in 3GPP)
ACCESS_TECH: dict[int, str] = {
    0: "GSM",
    1: "GSM Compact",
    2: "UTRAN (3G)",
    3: "GSM w/EGPRS",
    4: "UTRAN w/HSDPA",
    5: "UTRAN w/HSUPA",
    6: "UTRAN w/HSDPA and HSUPA",
    7: "E-UTRAN (LTE)",
    8: "LTE Cat-M1",
    9: "NB-IoT",
}
COPS_MODE = {
    0: "automatic",
    1: "manual",
    2: "deregistered",
    3: "format only",
    4: "manual/automatic",
}

# AT+QENG LTE <UL_bandwidth>/<DL_bandwidth> codes
LTE_BANDWIDTH_MHZ = {0: 1.4, 1: 3.0, 2: 5.0, 3: 10.0, 4: 15.0, 5: 20.0}


def fields(value: str) -> list[str]:
    """``'"LTE",-65,"a,b"'`` -> ``["LTE", "-65", "a,b"]``: commas inside quotes kept."""
    return [f.strip() for f in next(csv.reader([value], skipinitialspace=True), [])]


def to_int(text: str | None) -> int | None:
    """``"-92"`` -> -92; ``"-"``, ``""`` or junk -> None (Quectel's "invalid")."""
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


# -- signal ------------------------------------------------------------------


def csq_dbm(rssi: int) -> int | None:
    """``AT+CSQ`` <rssi> in dBm: 0 -> -113 (or less) ... 31 -> -51 (or more); 99 unknown.

    Quectel also reports 100-191 for TD-SCDMA (-116 ... -25 dBm) and 199 unknown.
    """
    if 0 <= rssi <= 31:
        return -113 + 2 * rssi
    if 100 <= rssi <= 191:
        return -116 + (rssi - 100)
    return None


@dataclass(frozen=True)
class Csq:
    rssi: int
    ber: int | None
    dbm: int | None


def parse_csq(value: str) -> Csq:
    parts = fields(value)
    rssi = to_int(parts[0]) if parts else None
    if rssi is None:
        raise ValueError(f"+CSQ: {value} has no <rssi>")
    ber = to_int(parts[1]) if len(parts) > 1 else None
    return Csq(rssi, ber, csq_dbm(rssi))


@dataclass(frozen=True)
class Qcsq:
    """``+QCSQ: "LTE",<rssi>,<rsrp>,<sinr>,<rsrq>`` and the GSM/WCDMA/no-service forms."""

    sysmode: str
    rssi: int | None = None
    rsrp: int | None = None
    sinr_raw: int | None = None
    rsrq: int | None = None
    rscp: int | None = None
    ecio: int | None = None

    @property
    def sinr_db(self) -> float | None:
        """EC2x/BG96 encode LTE SINR as 0..250 with dB = raw/5 - 20 (reference A.14)."""
        return None if self.sinr_raw is None else self.sinr_raw / 5 - 20

    @property
    def lte_like(self) -> bool:
        return self.sysmode in ("LTE", "CAT-M", "CAT-M1", "CAT-NB", "CAT-NB1", "eMTC", "NBIoT")


def parse_qcsq(value: str) -> Qcsq:
    parts = fields(value)
    if not parts or not parts[0]:
        raise ValueError(f"+QCSQ: {value} has no <sysmode>")
    mode, nums = parts[0], [to_int(p) for p in parts[1:]] + [None] * 4
    if mode in ("GSM", "TDSCDMA"):
        return Qcsq(mode, rssi=nums[0])
    if mode == "WCDMA":
        return Qcsq(mode, rssi=nums[0], rscp=nums[1], ecio=nums[2])
    if mode == "NOSERVICE":
        return Qcsq(mode)
    return Qcsq(mode, rssi=nums[0], rsrp=nums[1], sinr_raw=nums[2], rsrq=nums[3])


# -- registration --------------------------------------------------------------


@dataclass(frozen=True)
class RegState:
    """One of ``+CREG``/``+CGREG``/``+CEREG``; ``stat`` None when the answer was unusable."""

    command: str
    stat: int | None
    tac: str | None = None
    cell_id: str | None = None
    act: int | None = None

    @property
    def text(self) -> str:
        if self.stat is None:
            return "no answer"
        return REG_STAT.get(self.stat, f"stat {self.stat}")

    @property
    def data_ok(self) -> bool:
        return self.stat in REG_DATA_OK

    @property
    def roaming(self) -> bool:
        return self.stat in REG_ROAMING


def parse_reg(command: str, value: str) -> RegState:
    """Read form ``<n>,<stat>[,"<tac>","<ci>"[,<AcT>]]``; a bare ``<stat>`` (URC form) too."""
    parts = fields(value)
    if len(parts) == 1:
        return RegState(command, to_int(parts[0]))
    if len(parts) < 2:
        return RegState(command, None)
    rest = parts[2:] + [""] * 3
    return RegState(
        command,
        to_int(parts[1]),
        tac=rest[0] or None,
        cell_id=rest[1] or None,
        act=to_int(rest[2]),
    )


@dataclass(frozen=True)
class Cops:
    mode: int | None
    operator: str | None = None
    format: int | None = None
    act: int | None = None

    @property
    def act_text(self) -> str | None:
        return None if self.act is None else ACCESS_TECH.get(self.act, f"AcT {self.act}")


def parse_cops(value: str) -> Cops:
    """``0,0,"CHINA MOBILE",7`` or just ``0`` when no operator is selected."""
    parts = fields(value) + [""] * 4
    return Cops(
        mode=to_int(parts[0]),
        format=to_int(parts[1]),
        operator=parts[2] or None,
        act=to_int(parts[3]),
    )


# -- Quectel network information ------------------------------------------------


@dataclass(frozen=True)
class NetworkInfo:
    """``+QNWINFO: "FDD LTE","46011","LTE BAND 3",1650`` (technology, PLMN, band, channel)."""

    act: str
    plmn: str | None
    band: str | None
    channel: int | None


def parse_qnwinfo(value: str) -> NetworkInfo | None:
    """None for ``No Service``."""
    if value.strip().strip('"').lower().startswith("no service"):
        return None
    parts = fields(value) + [""] * 4
    if not parts[0]:
        return None
    return NetworkInfo(parts[0], parts[1] or None, parts[2] or None, to_int(parts[3]))


@dataclass(frozen=True)
class ServingCell:
    """``AT+QENG="servingcell"``.  Only ``state`` and ``rat`` are sure to be there.

    state: ``SEARCH`` (not camped), ``LIMSRV`` (camped, not registered: emergency
    calls only), ``NOCONN`` (registered, idle), ``CONNECT`` (RRC connected).
    """

    state: str
    rat: str | None = None
    duplex: str | None = None
    mcc: int | None = None
    mnc: str | None = None
    cell_id: str | None = None
    pci: int | None = None
    earfcn: int | None = None
    band: int | None = None
    ul_bandwidth: int | None = None
    dl_bandwidth: int | None = None
    tac: str | None = None
    rsrp: int | None = None
    rsrq: int | None = None
    rssi: int | None = None
    sinr: int | None = None
    cqi: int | None = None
    tx_power: int | None = None
    srxlev: int | None = None
    field_count: int = 0

    @property
    def dl_bandwidth_mhz(self) -> float | None:
        return None if self.dl_bandwidth is None else LTE_BANDWIDTH_MHZ.get(self.dl_bandwidth)


def _text(value: str) -> str | None:
    return None if value in ("", "-") else value


def parse_qeng_servingcell(value: str) -> ServingCell:
    """The LTE line has 18 or 20 fields depending on firmware (CQI and tx power are the
    optional pair before srxlev); ``-`` marks an invalid value.  Other RATs: state,
    RAT, MCC and MNC only."""
    parts = fields(value)
    count = len(parts)
    if parts and parts[0].lower() == "servingcell":
        parts = parts[1:]
    if not parts or not parts[0]:
        raise ValueError(f"+QENG: {value} has no serving-cell state")
    n = len(parts)
    padded = parts + [""] * 20

    def num(i: int) -> int | None:
        return to_int(padded[i]) if i < n else None

    rat = _text(padded[1])
    if rat != "LTE" and rat not in ("CAT-M", "CAT-NB", "eMTC", "NBIoT"):
        return ServingCell(parts[0], rat, mcc=num(2), mnc=_text(padded[3]), field_count=count)
    # 0 state, 1 LTE, 2 duplex, 3 MCC, 4 MNC, 5 cellID, 6 PCI, 7 EARFCN, 8 band, 9 UL bw,
    # 10 DL bw, 11 TAC, 12 RSRP, 13 RSRQ, 14 RSSI, 15 SINR, [16 CQI, 17 tx power,] srxlev
    return ServingCell(
        state=parts[0],
        rat=rat,
        duplex=_text(padded[2]),
        mcc=num(3),
        mnc=_text(padded[4]),
        cell_id=_text(padded[5]),
        pci=num(6),
        earfcn=num(7),
        band=num(8),
        ul_bandwidth=num(9),
        dl_bandwidth=num(10),
        tac=_text(padded[11]),
        rsrp=num(12),
        rsrq=num(13),
        rssi=num(14),
        sinr=num(15),
        cqi=num(16) if n >= 19 else None,
        tx_power=num(17) if n >= 19 else None,
        srxlev=num(n - 1) if n >= 17 else None,
        field_count=count,
    )


# -- SIM -----------------------------------------------------------------------

# Error texts (AT+CMEE=2) and codes (AT+CMEE=1) that say what the SIM is doing.
_SIM_CME = {10: "ABSENT", 11: "SIM PIN", 12: "SIM PUK", 13: "FAILURE", 14: "BUSY", 15: "WRONG"}
_SIM_TEXTS = (
    ("not inserted", "ABSENT"),
    ("pin required", "SIM PIN"),
    ("puk required", "SIM PUK"),
    ("busy", "BUSY"),
    ("failure", "FAILURE"),
    ("wrong", "WRONG"),
)


def sim_state_from_error(cme_code: int | None, text: str) -> str | None:
    """``+CME ERROR: 10`` / ``+CME ERROR: SIM not inserted`` -> ``ABSENT``; None if unrelated."""
    if cme_code is not None:
        return _SIM_CME.get(cme_code)
    lowered = text.lower()
    if "sim" not in lowered:
        return None
    for needle, state in _SIM_TEXTS:
        if needle in lowered:
            return state
    return None
