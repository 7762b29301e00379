"""The decoders, on answers as real firmwares give them (reference A.14)."""

from __future__ import annotations

import pytest

from modem.diagnostics.decode import (
    csq_dbm,
    fields,
    parse_cops,
    parse_csq,
    parse_qcsq,
    parse_qeng_servingcell,
    parse_qnwinfo,
    parse_reg,
    sim_state_from_error,
)


@pytest.mark.parametrize(
    ("rssi", "dbm"),
    [
        (0, -113),
        (1, -111),
        (2, -109),
        (15, -83),
        (30, -53),
        (31, -51),
        (99, None),
        (100, -116),
        (191, -25),
        (199, None),
        (32, None),
    ],
)
def test_csq_to_dbm(rssi: int, dbm: int | None) -> None:
    assert csq_dbm(rssi) == dbm


def test_csq_line() -> None:
    csq = parse_csq("24,99")
    assert (csq.rssi, csq.ber, csq.dbm) == (24, 99, -65)
    with pytest.raises(ValueError, match="no <rssi>"):
        parse_csq("")


def test_qcsq_lte_shows_raw_and_computed_sinr() -> None:
    q = parse_qcsq('"LTE",-65,-92,195,-8')
    assert (q.rssi, q.rsrp, q.rsrq, q.sinr_raw) == (-65, -92, -8, 195)
    assert q.sinr_db == 19.0
    assert parse_qcsq('"LTE",-65,-92,0,-8').sinr_db == -20.0


def test_qcsq_other_modes() -> None:
    assert parse_qcsq('"NOSERVICE"').sysmode == "NOSERVICE"
    assert parse_qcsq('"GSM",-70').rssi == -70
    w = parse_qcsq('"WCDMA",-70,-80,-6')
    assert (w.rscp, w.ecio, w.sinr_db) == (-80, -6, None)
    assert parse_qcsq('"CAT-M1",-70,-100,100,-10').lte_like


@pytest.mark.parametrize(
    ("command", "value", "stat", "text", "data_ok", "roaming"),
    [
        ("+CEREG", "0,1", 1, "registered, home network", True, False),
        ("+CEREG", '2,5,"C35A","2B1C0F3",7', 5, "registered, roaming", True, True),
        ("+CGREG", "0,2", 2, "not registered, searching", False, False),
        ("+CREG", "0,3", 3, "registration denied", False, False),
        ("+CEREG", "0,0", 0, "not registered, not searching", False, False),
        ("+CEREG", "1,7", 7, "registered for SMS only, roaming", False, True),
        ("+CEREG", "4", 4, "unknown", False, False),  # URC form: <stat> alone
    ],
)
def test_registration(
    command: str, value: str, stat: int, text: str, data_ok: bool, roaming: bool
) -> None:
    reg = parse_reg(command, value)
    assert (reg.stat, reg.text, reg.data_ok, reg.roaming) == (stat, text, data_ok, roaming)


def test_registration_location_fields() -> None:
    reg = parse_reg("+CEREG", '2,1,"1A2B","1A2D001",7')
    assert (reg.tac, reg.cell_id, reg.act) == ("1A2B", "1A2D001", 7)


def test_cops() -> None:
    cops = parse_cops('0,0,"CHINA MOBILE",7')
    assert (cops.mode, cops.operator, cops.act_text) == (0, "CHINA MOBILE", "E-UTRAN (LTE)")
    assert parse_cops('0,2,"46000",9').act_text == "NB-IoT"
    assert parse_cops("0").operator is None
    assert parse_cops('1,0,"A, B",0').operator == "A, B"  # a comma inside quotes


def test_qnwinfo() -> None:
    info = parse_qnwinfo('"FDD LTE","46011","LTE BAND 3",1650')
    assert info is not None
    assert (info.act, info.plmn, info.band, info.channel) == (
        "FDD LTE",
        "46011",
        "LTE BAND 3",
        1650,
    )
    assert parse_qnwinfo("No Service") is None


LTE_20 = (
    '"servingcell","NOCONN","LTE","FDD",460,00,1A2D001,123,1650,3,5,5,1A2B,-92,-8,-65,19,12,-32,48'
)
LTE_18 = '"servingcell","CONNECT","LTE","TDD",262,02,2B1C0F3,7,6300,20,3,3,C35A,-101,-11,-70,4,30'


def test_qeng_lte_20_fields() -> None:
    cell = parse_qeng_servingcell(LTE_20)
    assert cell.field_count == 20
    assert (cell.state, cell.rat, cell.duplex, cell.mcc, cell.mnc) == (
        "NOCONN",
        "LTE",
        "FDD",
        460,
        "00",
    )
    assert (cell.cell_id, cell.pci, cell.earfcn, cell.band, cell.tac) == (
        "1A2D001",
        123,
        1650,
        3,
        "1A2B",
    )
    assert (cell.rsrp, cell.rsrq, cell.rssi, cell.sinr) == (-92, -8, -65, 19)
    assert (cell.cqi, cell.tx_power, cell.srxlev, cell.dl_bandwidth_mhz) == (12, -32, 48, 20.0)


def test_qeng_lte_18_fields_has_no_cqi() -> None:
    cell = parse_qeng_servingcell(LTE_18)
    assert cell.field_count == 18
    assert (cell.sinr, cell.cqi, cell.tx_power, cell.srxlev) == (4, None, None, 30)


def test_qeng_invalid_values_and_short_lines() -> None:
    dashed = parse_qeng_servingcell(LTE_20.replace(",-32,", ",-,"))
    assert dashed.tx_power is None
    assert parse_qeng_servingcell('"servingcell","SEARCH"').state == "SEARCH"
    truncated = parse_qeng_servingcell('"servingcell","LIMSRV","LTE","FDD",460,00')
    assert (truncated.mcc, truncated.band, truncated.srxlev) == (460, None, None)
    gsm = parse_qeng_servingcell('"servingcell","NOCONN","GSM",460,00,5A,1234,20,60,0,-70')
    assert (gsm.rat, gsm.mcc, gsm.rsrp) == ("GSM", 460, None)
    with pytest.raises(ValueError):
        parse_qeng_servingcell("")


@pytest.mark.parametrize(
    ("code", "text", "state"),
    [
        (10, "+CME ERROR: 10", "ABSENT"),
        (None, "+CME ERROR: SIM not inserted", "ABSENT"),
        (11, "+CME ERROR: 11", "SIM PIN"),
        (None, "+CME ERROR: SIM PUK required", "SIM PUK"),
        (None, "+CME ERROR: SIM busy", "BUSY"),
        (None, "+CME ERROR: operation not allowed", None),
        (3, "+CME ERROR: 3", None),
    ],
)
def test_sim_state_from_error(code: int | None, text: str, state: str | None) -> None:
    assert sim_state_from_error(code, text) == state


def test_fields_keep_quoted_commas() -> None:
    assert fields('"a,b", 2 ,"c"') == ["a,b", "2", "c"]
