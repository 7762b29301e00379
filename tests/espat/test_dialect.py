"""Pure pieces of the ESP-AT path: quoting, limits, WSCFG values, the parser on ESP bytes."""

from __future__ import annotations

import pytest

from modem.at import ATParser, Line, Ok, Prompt, SendResult, Urc
from modem.at.events import Error
from modem.emulator.espat.parse import parse_line, split_params
from modem.espat import ESP_AT, CommandTooLong, EspAtModem, ping_settings, quote


def test_quote_escapes_comma_quote_backslash() -> None:
    assert quote('a,b"c\\d') == '"a\\,b\\"c\\\\d"'
    with pytest.raises(ValueError, match="line breaks"):
        quote("a\r\nb")


def test_emulator_reads_back_what_quote_writes() -> None:
    url = 'ws://h:1/ocpp/CP,"1"\\x'
    (cmd,) = parse_line(f"AT+WSOPEN=0,{quote(url)},{quote('ocpp1.6')},5000\r") or []
    assert cmd.name == "+WSOPEN" and cmd.str_param(1) == url and cmd.int_param(3, 0, 9999) == 5000
    assert split_params('"unterminated') is None
    assert parse_line("AT+X=" + "9" * 260 + "\r") is None  # over 256 bytes with CR LF
    at_limit = 'AT+CWJAP="' + "s" * 243 + '"'  # 254 bytes + CR LF: exactly 256
    assert parse_line(at_limit + "\r") is not None
    assert parse_line('AT+CWJAP="' + "s" * 244 + '"\r') is None
    assert parse_line("AT") is None  # a line ended by a bare LF


@pytest.mark.parametrize(
    "interval,expected",
    [
        (60, (60, 120)),
        (0, (7200, 7200)),
        (0.4, (1, 2)),
        (5000, (5000, 7200)),
        (99999, (7200, 7200)),
    ],
)
def test_ping_settings_from_websocket_ping_interval(interval: float, expected: tuple) -> None:
    assert ping_settings(interval) == expected


def test_plan_open_refuses_long_url_and_header_before_sending() -> None:
    command, bodies = EspAtModem.plan_open(
        "ws://csms:9000/ocpp/CP1", [("Authorization", "Basic QUJD"), ("X-A", "1")]
    )
    assert command == 'AT+WSOPEN=0,"ws://csms:9000/ocpp/CP1","ocpp1.6",20000'
    assert bodies == [b"Authorization: Basic QUJD", b"X-A: 1"]
    with pytest.raises(CommandTooLong, match=r"256 bytes.*shorten the CSMS URL"):
        EspAtModem.plan_open("ws://csms:9000/ocpp/" + "C" * 220)
    with pytest.raises(
        CommandTooLong, match=r'header Authorization \("Authorization: <value>"\)'
    ) as info:
        EspAtModem.plan_open("ws://csms/ocpp/CP1", [("Authorization", "Basic " + "Q" * 300)])
    assert "QQQQ" not in str(info.value)  # the secret stays out of the message
    with pytest.raises(ValueError, match="line break"):
        EspAtModem.plan_open("ws://csms/ocpp/CP1", [("X-A", "1\r\nX-B: 2")])
    with pytest.raises(ValueError, match="ws://"):
        EspAtModem.plan_open("http://csms/ocpp/CP1")


def test_parser_on_esp_bytes() -> None:
    """Prompt after OK, a same-line +WS_DATA between prompt and SEND OK, busy, Wi-Fi lines."""
    chunk = b'[3,"1",{}]\r\n+WS_DATA:0,2,OK'
    wire = (
        b"\r\nOK\r\n\r\n>"
        + b"+WS_DATA:0,%d," % len(chunk)
        + chunk
        + b"\r\n"
        + b"\r\nSEND OK\r\n+WS_DISCONNECTED:0\r\nbusy p...\r\n"
        + b"WIFI GOT IP\r\n+CWJAP:2\r\n\r\nERROR\r\nready\r\n"
    )
    for cut in range(len(wire) + 1):
        parser = ATParser(ESP_AT)
        parser.receive_data(wire[:cut])
        parser.receive_data(wire[cut:])
        assert parser.events() == [
            Ok(),
            Prompt(),
            Urc(f"+WS_DATA:0,{len(chunk)},", chunk),
            SendResult(True),
            Urc("+WS_DISCONNECTED:0"),
            Error("busy p..."),
            Urc("WIFI GOT IP"),
            Line("+CWJAP:2"),
            Error("ERROR"),
            Urc("ready"),
        ]
