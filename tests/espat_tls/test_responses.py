"""The new ESP-AT responses (AT+SYSMFG values, +TIME_UPDATED, AT+CIPSNTPTIME?) at every
byte split, and the pure pieces: the module's time, what a failed TLS open says."""

from __future__ import annotations

import datetime as dt

import pytest

from modem.at import ATParser, Line, Ok, Urc
from modem.at.events import Event, Garbage, Payload
from modem.at.trace import render_event
from modem.espat import ESP_AT, AuthMode, ModuleTls
from modem.espat.tls import parse_module_time, tls_open_failure

KEY = (
    b"-----BEGIN PRIVATE KEY-----\r\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\r\n"
    b"OK\r\n+WS_DATA:0,4,\r\nERROR\r\n-----END PRIVATE KEY-----\r\n"
)  # CR LF, OK, ERROR and a URC lookalike inside: read by length, never by line


def parse_split(data: bytes, cut: int) -> list[Event]:
    parser = ATParser(ESP_AT)
    parser.receive_data(data[:cut])
    parser.receive_data(data[cut:])
    return parser.events()


def every_split(data: bytes) -> list[list[Event]]:
    return [parse_split(data, cut) for cut in range(len(data) + 1)]


def test_sysmfg_value_is_read_by_length_at_every_split() -> None:
    header = b'+SYSMFG:"wss_key","wss_key.0",8,%d,' % len(KEY)
    wire = header + KEY + b"\r\n\r\nOK\r\n+TIME_UPDATED\r\n"
    expected = [Payload(header.decode(), KEY), Ok(), Urc("+TIME_UPDATED")]
    for events in every_split(wire):
        assert events == expected


def test_sysmfg_listings_stay_lines_and_a_huge_length_is_garbage() -> None:
    wire = b'+SYSMFG:"wss_ca"\r\n+SYSMFG:"wss_ca","wss_ca.0",8\r\n\r\nOK\r\n'
    for events in every_split(wire):
        assert events == [Line('+SYSMFG:"wss_ca"'), Line('+SYSMFG:"wss_ca","wss_ca.0",8'), Ok()]
    bogus = b'+SYSMFG:"wss_ca","wss_ca.0",8,99999,xx\r\nOK\r\n'
    for events in every_split(bogus):
        assert isinstance(events[0], Garbage) and "at most 16384" in events[0].reason
        assert events[-1] == Ok()  # the session goes on after the bad header


def test_sntp_time_lines_at_every_split() -> None:
    wire = b"+CIPSNTPTIME:Thu Jan  1 00:00:07 1970\r\nOK\r\n"
    for events in every_split(wire):
        assert events == [Line("+CIPSNTPTIME:Thu Jan  1 00:00:07 1970"), Ok()]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Thu Jan  1 00:00:07 1970", dt.datetime(1970, 1, 1, 0, 0, 7, tzinfo=dt.UTC)),
        ("Tue Oct 19 17:47:56 2021", dt.datetime(2021, 10, 19, 17, 47, 56, tzinfo=dt.UTC)),
        ("2022-10-21 19:20:39", dt.datetime(2022, 10, 21, 19, 20, 39, tzinfo=dt.UTC)),
        ("soon", None),
    ],
)
def test_module_time(text: str, expected: dt.datetime | None) -> None:
    assert parse_module_time(text) == expected


def test_a_key_read_back_is_masked_in_the_trace() -> None:
    shown = render_event(Payload('+SYSMFG:"wss_key","wss_key.0",8,180,', KEY))
    assert "MIGHAgEA" not in shown and "-----BEGIN PRIVATE KEY-----***" in shown


def test_module_tls_refuses_what_the_mode_cannot_use() -> None:
    with pytest.raises(ValueError, match="a CA is needed"):
        ModuleTls(AuthMode.VERIFY_SERVER)
    with pytest.raises(ValueError, match="a certificate and its key"):
        ModuleTls(AuthMode.MUTUAL, ca_pem=b"x", cert_pem=b"y")
    with pytest.raises(ValueError, match="at most 16384"):
        ModuleTls(AuthMode.VERIFY_SERVER, ca_pem=b"x" * 20000)
    files = ModuleTls(AuthMode.MUTUAL, ca_pem=b"a", cert_pem=b"c", key_pem=b"k").files()
    assert [(ns, secret) for ns, _, _, secret in files] == [
        ("wss_ca", False),
        ("wss_cert", False),
        ("wss_key", True),
    ]


def test_tls_open_failure_lists_causes_without_the_key() -> None:
    tls = ModuleTls(AuthMode.MUTUAL, ca_pem=b"junk", cert_pem=b"junk", key_pem=b"SECRETKEY")
    text = tls_open_failure("ERROR", "csms.example", tls, None, 0.3)
    assert "the module's clock (not set)" in text
    assert "'csms.example'" in text and "wss_cert" in text
    assert "SECRETKEY" not in text
    assert "requires a client certificate" not in text  # it presented one
