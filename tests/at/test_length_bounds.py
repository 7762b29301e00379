"""Length fields of payload headers: bounded before conversion, split-proof, linear work.

A ``+QIRD:`` length has at most 4 digits (AT+QIRD reads at most 1500 bytes, reference
A.5 / A.11), a ``+WS_DATA:`` length at most 5 (one piece of at most the AT+WSCFG
buffer, 16384 on master firmware, reference B.3 / B.4).  A longer or larger one is
garbage, never an exception that would kill the reader task.
"""

from __future__ import annotations

import re

import pytest

from modem.at import ATParser, Dialect, Event, Garbage, Line, Ok, Payload, PayloadHeader, Urc
from modem.espat import ESP_AT
from modem.quectel import QUECTEL


def parse(data: bytes, dialect: Dialect, step: int | None = None) -> list[Event]:
    parser = ATParser(dialect)
    chunks = [data] if step is None else [data[i : i + step] for i in range(0, len(data), step)]
    for chunk in chunks:
        parser.receive_data(chunk)
    parser.receive_eof()
    assert parser.held() == b""
    return parser.events()


def qird(digits: bytes) -> bytes:
    return b"\r\n+QIRD: " + digits + b"\r\nabc\r\n\r\nOK\r\n"


def ws_data(digits: bytes) -> bytes:
    return b"+WS_DATA:0," + digits + b",abc\r\n\r\nOK\r\n"


@pytest.mark.parametrize("digits", [5, 6, 50, 4089, 4090, 4299, 4301, 5000, 100_000])
@pytest.mark.parametrize(
    "frame,dialect,header",
    [(qird, QUECTEL, "+QIRD: "), (ws_data, ESP_AT, "+WS_DATA:0,")],
    ids=["QIRD", "WS_DATA"],
)
def test_a_long_length_field_is_garbage_not_an_exception(
    frame: object, dialect: Dialect, header: str, digits: int
) -> None:
    """Formerly ``int()`` of more than 4300 digits raised ValueError in the reader task."""
    assert callable(frame)
    data = frame(b"7" * digits)
    events = parse(data, dialect)
    garbage = [e for e in events if isinstance(e, Garbage)]
    assert garbage and events[-1] == Ok()
    assert not any(isinstance(e, Payload | Urc) for e in events)
    first = garbage[0].reason
    limit = "16384" if dialect is ESP_AT else "1500"
    assert header in first and limit in first
    assert any(why in first for why in ("length field of", "digits without LF", "announces"))
    assert all(len(e.data) <= dialect.max_line for e in garbage)  # bounded pieces


@pytest.mark.parametrize(
    "data,dialect,reason",
    [
        (qird(b"1501"), QUECTEL, "'+QIRD: 1501' announces 1501 bytes"),
        (qird(b"9999"), QUECTEL, "'+QIRD: 9999' announces 9999 bytes"),
        (qird(b"01500"), QUECTEL, "length field of 5 digits"),
        (b"\r\n+QSSLRECV: 123456\r\nOK\r\n", QUECTEL, "length field of 6 digits"),
        (ws_data(b"16385"), ESP_AT, "'+WS_DATA:0,16385,' announces 16385 bytes"),
        (ws_data(b"123456"), ESP_AT, "length field of 6 digits"),
    ],
)
def test_a_length_above_the_maximum_is_garbage(data: bytes, dialect: Dialect, reason: str) -> None:
    events = parse(data, dialect)
    assert isinstance(events[0], Garbage) and reason in events[0].reason
    assert events[-1] == Ok()


def test_the_largest_lengths_are_payloads() -> None:
    data = bytes(range(256)) * 64
    quectel = b"\r\n+QIRD: 1500\r\n" + data[:1500] + b"\r\n\r\nOK\r\n"
    assert parse(quectel, QUECTEL) == [Payload("+QIRD: 1500", data[:1500]), Ok()]
    esp = b"+WS_DATA:2,16384," + data + b"\r\n"
    assert parse(esp, ESP_AT) == [Urc("+WS_DATA:2,16384,", data)]


def test_the_qird_query_form_with_long_numbers_stays_a_line() -> None:
    """``+QIRD: <total>,<read>,<unread>`` is no header: its counters may pass 1500."""
    data = b"\r\n+QIRD: 1234567,1234567,0\r\n\r\nOK\r\n"
    assert parse(data, QUECTEL) == [Line("+QIRD: 1234567,1234567,0"), Ok()]
    assert parse(data, QUECTEL, step=1) == [Line("+QIRD: 1234567,1234567,0"), Ok()]


def test_the_rest_of_a_bad_ws_data_line_is_dropped() -> None:
    """Its payload cannot be trusted: up to the line end it is garbage, then parsing goes on."""
    events = parse(b"+WS_DATA:0,99999,OK\r\nERROR\r\n" + ws_data(b"3")[:-4], ESP_AT)
    assert [type(e) for e in events] == [Garbage, Garbage, type(events[2]), Urc]
    assert events[1].data == b"OK" and "rest of the line" in events[1].reason  # type: ignore[union-attr]
    assert events[3] == Urc("+WS_DATA:0,3,", b"abc")


# A small max_line makes the over-long paths cheap to split at every byte.
SMALL = Dialect(
    name="small",
    payload_headers=(
        PayloadHeader(re.compile(rb"\+LEN: (?P<len>\d+)\r?\n"), max_length=99, window=8),
        PayloadHeader(
            re.compile(rb"\+PUSH:(?P<id>\d+),(?P<len>\d+),"),
            max_length=99,
            unsolicited=True,
            window=12,
        ),
    ),
    max_line=40,
)
SMALL_STREAM = b"".join(
    [
        b"\r\n+LEN: 3\r\nabc\r\nOK\r\n",
        b"\r\n+LEN: 123\r\nOK\r\n",  # 3 digits: more than 99 has
        b"\r\n+LEN: 100\r\nOK\r\n",  # 3 digits but above 99
        b"\r\n+LEN: " + b"9" * 60 + b"\r\nOK\r\n",  # longer than a line
        b"\r\n+LEN: " + b"9" * 33 + b"\r\nOK\r\n",  # exactly at the line bound
        b"\r\n+LEN: 12,34\r\nOK\r\n",  # digits, then no tail: a line
        b"+PUSH:1,12,abcdefghijkl\r\n",
        b"+PUSH:1," + b"5" * 100 + b",xyz\r\n",
        b"+PUSH:" + b"1" * 50 + b",2,ab\r\n",  # the id overflows the lead's window
        b"+PUSH:1,99999,payload bytes that are not read\r\nOK\r\n",
        b"x" * 95 + b"\r\nOK\r\n",
        b"\r\n+LEN: 4\r\n\r\n\r\n\r\nOK\r\n",
    ]
)


def test_small_dialect_events() -> None:
    events = parse(SMALL_STREAM, SMALL)
    payloads = [e for e in events if isinstance(e, Payload | Urc)]
    assert payloads == [
        Payload("+LEN: 3", b"abc"),
        Urc("+PUSH:1,12,", b"abcdefghijkl"),
        Payload("+LEN: 4", b"\r\n\r\n"),
    ]
    assert events.count(Ok()) == 9
    assert Line("+LEN: 12,34") in events


@pytest.mark.parametrize("split", range(len(SMALL_STREAM) + 1))
def test_bad_headers_parse_the_same_split_anywhere(split: int) -> None:
    parser = ATParser(SMALL)
    parser.receive_data(SMALL_STREAM[:split])
    parser.receive_data(SMALL_STREAM[split:])
    parser.receive_eof()
    assert parser.events() == parse(SMALL_STREAM, SMALL)


def test_bad_headers_parse_the_same_one_byte_at_a_time() -> None:
    assert parse(SMALL_STREAM, SMALL, step=1) == parse(SMALL_STREAM, SMALL)
    for data, dialect in ((qird(b"7" * 5000), QUECTEL), (ws_data(b"7" * 5000), ESP_AT)):
        assert parse(data, dialect, step=1) == parse(data, dialect)
        assert parse(data, dialect, step=7) == parse(data, dialect)


def work_one_byte_at_a_time(data: bytes, dialect: Dialect) -> int:
    parser = ATParser(dialect)
    for i in range(len(data)):
        parser.receive_data(data[i : i + 1])
    parser.receive_eof()
    return parser.work


@pytest.mark.parametrize(
    "make,dialect",
    [
        (lambda n: qird(b"7" * n), QUECTEL),
        (lambda n: ws_data(b"7" * n), ESP_AT),
        (lambda n: b"+WS_DATA:" + b"1" * n + b",3,abc\r\n", ESP_AT),  # the link id
        (lambda n: b"\r\n+QIRD: " + b"7" * n, QUECTEL),  # no end at all
        (lambda n: b"x" * n + b"\r\nOK\r\n", QUECTEL),  # a plain line
    ],
    ids=["qird", "ws_data", "ws_data_id", "qird_no_end", "plain_line"],
)
def test_work_per_byte_is_linear_in_a_growing_header(make: object, dialect: Dialect) -> None:
    """A 100 kB header fed one byte at a time is never rescanned from its start.

    ``work`` adds up the bytes every scan is allowed to look at, so a rescan of a
    growing buffer shows up as quadratic growth (the old parser: about n^2 / 2).
    """
    assert callable(make)
    small, large = (work_one_byte_at_a_time(make(n), dialect) for n in (10_000, 100_000))
    assert large <= 4 * 100_000
    assert large / small <= 11  # ten times the bytes: ten times the work, not a hundred


def test_a_header_pattern_must_spell_its_length_group_plainly() -> None:
    """The parser counts the digits itself, so it must find where the length field is."""
    with pytest.raises(ValueError, match="exactly"):
        PayloadHeader(re.compile(rb"\+X: (?P<len>[0-9]+)\r\n"), max_length=10)
    with pytest.raises(ValueError, match="top level"):
        PayloadHeader(re.compile(rb"(\+X: (?P<len>\d+))\r\n"), max_length=10)
    header = PayloadHeader(re.compile(rb"\+X:(?P<id>\d),(?P<len>\d+),"), max_length=1460)
    assert (header.lead.pattern, header.tail.pattern, header.max_digits) == (
        rb"\+X:(?P<id>\d),",
        b",",
        4,
    )
    with pytest.raises(ValueError, match="max_line"):
        Dialect(name="tiny", payload_headers=(header,), max_line=64)
