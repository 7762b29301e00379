"""The Sans-I/O parser on real modem bytes, split at every possible position."""

from __future__ import annotations

import random
import re

import pytest

from modem.at import (
    GENERIC,
    ATParser,
    Dialect,
    Error,
    Event,
    Garbage,
    Line,
    Ok,
    Payload,
    PayloadHeader,
    Prompt,
    SendResult,
    Urc,
)
from modem.quectel import QUECTEL

# A WebSocket text frame as the CSMS sends it (unmasked), followed by bytes a
# line scanner would mistake for responses: CRLF OK, a recv URC, Ctrl+Z, a prompt.
FRAME = (
    b'\x81\x7e\x00\x67[2,"e4e14f97-b503-4c24-8920-16e2dd330300","TriggerMessage",'
    b'{"requestedMessage":"StatusNotification"}]'
)
TRICKY = b'\r\nOK\r\n+QIURC: "recv",1\r\n\x1a\x1b\r\n> \r\nERROR\r\n+QIRD: 5\r\n\x00\xff'
HANDSHAKE = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: TuNHNYAVKuHKr8iSI6bmJmvayH4=\r\nSec-WebSocket-Protocol: ocpp1.6\r\n"
    b"\r\n"
)
PAYLOAD = HANDSHAKE + FRAME + TRICKY

# Modem output of the seed's EC200U session (echo on, as in the log), in the
# fixed-length QISEND form, plus a URC between an echo and its response.
TRANSCRIPT = b"".join(
    [
        b"AT+CGREG?\r\r\n+CGREG: 0,5\r\n\r\nOK\r\n",
        b'AT+QICSGP=1,1,"airtelgprs.com","","",1\r\r\nOK\r\n',
        b"AT+QIACT?\r\r\nOK\r\n",
        b'AT+QIACT=1\r\r\n+QIURC: "recv",2\r\n\r\nOK\r\n',
        b'AT+QIACT?\r\r\n+QIACT: 1,1,1,"100.72.170.162"\r\n\r\nOK\r\n',
        b'AT+QIOPEN=1,1,"TCP","20.0.0.144",80,0,0\r\r\nOK\r\n\r\n+QIOPEN: 1,0\r\n',
        b"AT+QISEND=1,125\r\r\n> ",
        b'\r\n+QIURC: "recv",1\r\n\r\nSEND OK\r\n',
        b"AT+QIRD=1,1500\r\r\n+QIRD: %d\r\n" % len(PAYLOAD) + PAYLOAD + b"\r\n\r\nOK\r\n",
        b"AT+QIRD=1,1500\r\r\n+QIRD: 0\r\n\r\nOK\r\n",
        b"AT+QIRD=1,0\r\r\n+QIRD: 319,319,0\r\n\r\nOK\r\n",
        b"\x00\xff\xfe\x80\r\n",
        b"AT+QISEND=1,5\r\r\n>",
        b"\r\nSEND FAIL\r\n",
        b"AT+QIACT=1\r\r\n+CME ERROR: 30\r\n",
        b"AT+QICLOSE=1\r\r\nERROR\r\n",
        b"ati\r\r\nQuectel\r\nEC200U\r\nRevision: EC200UCNAAR03A06M08\r\n\r\nOK\r\n",
        b'\r\n+QIURC: "closed",1\r\n',
    ]
)

EXPECTED: list[Event] = [
    Line("AT+CGREG?"),
    Urc("+CGREG: 0,5"),
    Ok(),
    Line('AT+QICSGP=1,1,"airtelgprs.com","","",1'),
    Ok(),
    Line("AT+QIACT?"),
    Ok(),
    Line("AT+QIACT=1"),
    Urc('+QIURC: "recv",2'),
    Ok(),
    Line("AT+QIACT?"),
    Line('+QIACT: 1,1,1,"100.72.170.162"'),
    Ok(),
    Line('AT+QIOPEN=1,1,"TCP","20.0.0.144",80,0,0'),
    Ok(),
    Urc("+QIOPEN: 1,0"),
    Line("AT+QISEND=1,125"),
    Prompt(),
    Urc('+QIURC: "recv",1'),
    SendResult(True),
    Line("AT+QIRD=1,1500"),
    Payload(f"+QIRD: {len(PAYLOAD)}", PAYLOAD),
    Ok(),
    Line("AT+QIRD=1,1500"),
    Payload("+QIRD: 0", b""),
    Ok(),
    Line("AT+QIRD=1,0"),
    Line("+QIRD: 319,319,0"),
    Ok(),
    Garbage(b"\x00\xff\xfe\x80", "line is not UTF-8 text (wrong baud rate or line noise?)"),
    Line("AT+QISEND=1,5"),
    Prompt(),
    SendResult(False),
    Line("AT+QIACT=1"),
    Error("+CME ERROR", "30"),
    Line("AT+QICLOSE=1"),
    Error("ERROR"),
    Line("ati"),
    Line("Quectel"),
    Line("EC200U"),
    Line("Revision: EC200UCNAAR03A06M08"),
    Ok(),
    Urc('+QIURC: "closed",1'),
]


def parse(chunks: list[bytes], dialect: Dialect = QUECTEL, eof: bool = True) -> list[Event]:
    parser = ATParser(dialect)
    events: list[Event] = []
    for chunk in chunks:
        parser.receive_data(chunk)
        events += parser.events()
    if eof:
        parser.receive_eof()
        events += parser.events()
    return events


def test_whole_transcript() -> None:
    assert parse([TRANSCRIPT]) == EXPECTED


@pytest.mark.parametrize("split", range(len(TRANSCRIPT) + 1))
def test_split_at_every_byte(split: int) -> None:
    assert parse([TRANSCRIPT[:split], TRANSCRIPT[split:]]) == EXPECTED


def test_one_byte_at_a_time() -> None:
    assert parse([bytes([b]) for b in TRANSCRIPT]) == EXPECTED


@pytest.mark.parametrize("seed", range(20))
def test_random_chunks(seed: int) -> None:
    rng = random.Random(seed)
    chunks, at = [], 0
    while at < len(TRANSCRIPT):
        n = rng.randint(1, 40)
        chunks.append(TRANSCRIPT[at : at + n])
        at += n
    assert parse(chunks) == EXPECTED


def test_events_come_as_soon_as_complete() -> None:
    parser = ATParser(QUECTEL)
    parser.receive_data(b"\r\n+QIRD: 4\r\nab")
    assert parser.events() == []
    parser.receive_data(b"\r\n")
    assert parser.events() == [Payload("+QIRD: 4", b"ab\r\n")]
    parser.receive_data(b"\r\n> ")
    assert parser.events() == [Prompt()]  # no line ending: reported at once


def test_prompt_space_does_not_start_a_line() -> None:
    assert parse([b"\r\n>", b" ", b"\r\nSEND OK\r\n"]) == [Prompt(), SendResult(True)]
    assert parse([b"\r\n>\r\n\r\nSEND OK\r\n"]) == [Prompt(), SendResult(True)]


def test_all_byte_values_in_a_payload() -> None:
    data = bytes(range(256)) * 5
    body = b"\r\n+QIRD: 1280\r\n" + data + b"\r\n\r\nOK\r\n"
    assert parse([body[:700], body[700:]]) == [Payload("+QIRD: 1280", data), Ok()]


def test_udp_style_qird_header_carries_a_payload() -> None:
    assert parse([b'\r\n+QIRD: 3,"10.0.0.1",5000\r\nabc\r\n\r\nOK\r\n']) == [
        Payload('+QIRD: 3,"10.0.0.1",5000', b"abc"),
        Ok(),
    ]


def test_cme_error_in_words() -> None:
    assert parse([b"\r\n+CME ERROR: SIM not inserted\r\n"]) == [
        Error("+CME ERROR", "SIM not inserted")
    ]
    assert parse([b"\r\n+CMS ERROR: 500\r\n"]) == [Error("+CMS ERROR", "500")]


def test_an_absurd_length_is_garbage_not_a_swallowed_session() -> None:
    events = parse([b"\r\n+QIRD: 99999\r\nOK\r\n"])
    assert isinstance(events[0], Garbage)
    assert "99999" in events[0].reason and "1500" in events[0].reason
    assert events[1:] == [Ok()]


def test_eof_inside_a_payload_names_the_payload() -> None:
    events = parse([b"\r\n+QIRD: 10\r\nabc"])
    assert len(events) == 1 and isinstance(events[0], Garbage)
    assert events[0].data == b"abc"
    assert "3 bytes into the 10-byte payload of '+QIRD: 10'" in events[0].reason


def test_eof_inside_a_line() -> None:
    events = parse([b"\r\nOK\r\nOK"])
    assert events[0] == Ok()
    assert isinstance(events[1], Garbage) and "end of the line" in events[1].reason


def test_control_bytes_and_long_lines_are_skipped() -> None:
    events = parse([b"\x07bell\r\n", b"x" * 5000, b"\r\nOK\r\n"])
    assert isinstance(events[0], Garbage) and "control" in events[0].reason
    assert isinstance(events[1], Garbage) and "longer than 4096" in events[1].reason
    assert events[-1] == Ok()


def test_generic_dialect_knows_no_urcs() -> None:
    assert parse([b'\r\n+QIURC: "recv",1\r\n'], GENERIC) == [Line('+QIURC: "recv",1')]


def test_receive_data_after_eof_is_refused() -> None:
    parser = ATParser()
    parser.receive_eof()
    with pytest.raises(RuntimeError, match="after receive_eof"):
        parser.receive_data(b"OK\r\n")


# ESP-AT: URCs without a leading CRLF, a same-line length-framed payload, and
# the prompt after OK plus an empty line.
ESP = Dialect(
    name="ESP-AT",
    urc_prefixes=("+WS_CONNECTED:", "+WS_DISCONNECTED:", "+WS_CLOSED:", "WIFI "),
    payload_headers=(
        PayloadHeader(
            re.compile(rb"\+WS_DATA:(?P<id>\d+),(?P<len>\d+),"), max_length=16384, unsolicited=True
        ),
    ),
    extra_errors=("busy p...",),
    line_ending=b"\r\n",
)
ESP_DATA = b'[3,"1",{}]\r\n+WS_DATA:0,2,OK\r\n'
ESP_TRANSCRIPT = (
    b"AT+WSSEND=0,10\r\n\r\nOK\r\n\r\n>"
    b"+WS_DATA:0,%d," % len(ESP_DATA) + ESP_DATA + b"\r\n"
    b"\r\nSEND OK\r\n"
    b"+WS_CLOSED:0\r\nbusy p...\r\nWIFI DISCONNECT\r\n"
)
ESP_EXPECTED: list[Event] = [
    Line("AT+WSSEND=0,10"),
    Ok(),
    Prompt(),
    Urc(f"+WS_DATA:0,{len(ESP_DATA)},", ESP_DATA),
    SendResult(True),
    Urc("+WS_CLOSED:0"),
    Error("busy p..."),
    Urc("WIFI DISCONNECT"),
]


@pytest.mark.parametrize("split", range(len(ESP_TRANSCRIPT) + 1))
def test_esp_dialect_split_anywhere(split: int) -> None:
    chunks = [ESP_TRANSCRIPT[:split], ESP_TRANSCRIPT[split:]]
    assert parse(chunks, ESP) == ESP_EXPECTED


def test_esp_header_waits_for_its_closing_comma() -> None:
    # "+WS_DATA:0,1" could be the start of ",12,": nothing may be taken yet.
    parser = ATParser(ESP)
    parser.receive_data(b"+WS_DATA:0,1")
    assert parser.events() == []
    parser.receive_data(b"2,abcdefghijkl\r\n")
    assert parser.events() == [Urc("+WS_DATA:0,12,", b"abcdefghijkl")]


def test_payload_header_needs_a_len_group() -> None:
    with pytest.raises(ValueError, match="len"):
        PayloadHeader(re.compile(rb"\+X: (\d+)\r\n"), max_length=10)
