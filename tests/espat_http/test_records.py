"""Sans-I/O pieces: the HTTP records in the AT parser at every byte split, interleaved
with +WS_DATA; the status in ERR CODE lines; budgets; the upload URL."""

from __future__ import annotations

import pytest

from chargepoint.transport.transfer import TransferError
from chargepoint.transport.transfers_espat import upload_url
from modem.at import ATParser, Error, Garbage, Line, Ok, Prompt, SendResult, Urc
from modem.espat import ESP_AT
from modem.espat.http import http_status, wire_seconds

BINARY = b"\r\nOK\r\n+HTTPCGET:9,\r\n+WS_DATA:0,3,\r\nERROR\r\n>\x00\xff"


def test_http_records_at_every_split_with_ws_data_between() -> None:
    ws = b'[3,"1",{}]\r\nOK'
    wire = (
        b"+HTTPGETSIZE:%d\r\n\r\nOK\r\n" % (2 * len(BINARY))
        + b"+HTTPCGET:%d," % len(BINARY)
        + BINARY
        + b"\r\n"
        + b"+WS_DATA:0,%d," % len(ws)
        + ws
        + b"\r\n"
        + b"+HTTPCGET:%d," % len(BINARY)
        + BINARY
        + b"\r\n"
        + b"\r\nOK\r\n"
        + b"\r\nOK\r\n\r\n>"  # AT+HTTPURLCFG's prompt, then SET OK
        + b"\r\nSET OK\r\n"
        + b"\r\nOK\r\n\r\n>+HTTPCPUT:6,stored\r\n\r\nSEND OK\r\n"
        + b"+HTTPCPOST:0,\r\n\r\nERROR\r\nbusy p...\r\n"
    )
    expected = [
        Line(f"+HTTPGETSIZE:{2 * len(BINARY)}"),
        Ok(),
        Urc(f"+HTTPCGET:{len(BINARY)},", BINARY),
        Urc(f"+WS_DATA:0,{len(ws)},", ws),
        Urc(f"+HTTPCGET:{len(BINARY)},", BINARY),
        Ok(),
        Ok(),
        Prompt(),
        Ok("SET OK"),
        Ok(),
        Prompt(),
        Urc("+HTTPCPUT:6,", b"stored"),
        SendResult(True),
        Urc("+HTTPCPOST:0,", b""),
        Error("ERROR"),
        Error("busy p..."),
    ]
    for cut in range(len(wire) + 1):
        parser = ATParser(ESP_AT)
        parser.receive_data(wire[:cut])
        parser.receive_data(wire[cut:])
        assert parser.events() == expected, cut
    parser = ATParser(ESP_AT)
    for byte in wire:  # one byte at a time, too
        parser.receive_data(bytes([byte]))
    assert parser.events() == expected


def test_a_record_longer_than_any_rx_size_is_garbage_not_a_read() -> None:
    parser = ATParser(ESP_AT)
    parser.receive_data(b"+HTTPCGET:10241,abc\r\n\r\nOK\r\n")
    events = parser.events()
    assert isinstance(events[0], Garbage) and "at most 10240" in events[0].reason
    assert events[-1] == Ok()


def test_status_from_syslog_err_code() -> None:
    assert http_status(["ERR CODE:0x010a7194"]) == 404
    assert http_status(["ERR CODE:0x010a71f7"]) == 503
    assert http_status(["ERR CODE:0x010a7000"]) is None  # connection failed: no status
    assert http_status([]) is None


def test_wire_time_grows_with_size_at_the_baud_rate() -> None:
    assert wire_seconds(200_000, None) == 0.0
    seconds = wire_seconds(200_000, 115200)
    assert 17.3 < seconds < 20  # the reference: about 18 s for 200 kB at 115200 baud
    assert wire_seconds(200_000, 921600) == pytest.approx(seconds / 8)


def test_upload_url_appends_one_encoded_segment() -> None:
    assert upload_url("http://h/diag", "a b.zip") == "http://h/diag/a%20b.zip"
    assert upload_url("http://h/diag/?k=1", "x.zip") == "http://h/diag/x.zip?k=1"
    with pytest.raises(TransferError, match="bad file name"):
        upload_url("http://h/", "../x")
