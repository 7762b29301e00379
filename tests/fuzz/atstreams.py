"""Modem output for the AT parser properties, and the checks the properties make.

A stream is a list of items, each the bytes a module prints for one thing: a
length-framed payload (``+QIRD: n``, ``+QSSLRECV: n``, ``+WS_DATA:id,n,``) whose
bytes hold CR LF, ``OK``, URCs, prompts and header look-alikes; a URC; a result
code; a prompt; an echo; a header whose length field is too long or too large;
a line of random bytes.  Items meet at line boundaries, in any order, so URCs
interleave with everything.  The checks are plain functions, so
``benchmarks/fuzz.py`` runs them with its own example counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from modem.at import ATParser, Dialect, Event, Garbage, Payload, Urc
from modem.espat import ESP_AT
from modem.quectel import QUECTEL

# Bytes a line scanner would take for responses, headers or the end of a frame.
TRICKY = [
    b"\r\n",
    b"\r",
    b"\n",
    b"\r\nOK\r\n",
    b"\r\nERROR\r\n",
    b'\r\n+QIURC: "recv",1\r\n',
    b"\r\n> ",
    b">",
    b"\r\n+QIRD: 5\r\n",
    b"+WS_DATA:0,3,",
    b"+WS_DATA:0,99999999,",
    b"\r\n+QIRD: 9999999999999\r\n",
    b"\x1a",
    b"\x1b",
    b"\x00",
    b"\xff\xfe",
    b"SEND OK",
]
HEADER_TOKENS = (b"+QIRD", b"+QSSLRECV", b"+WS_DATA")


def payload_bytes(max_size: int) -> st.SearchStrategy[bytes]:
    parts = st.one_of(st.binary(max_size=32), st.sampled_from(TRICKY))
    return st.lists(parts, max_size=16).map(lambda p: b"".join(p)[:max_size])


def big_bytes(min_size: int, max_size: int) -> st.SearchStrategy[bytes]:
    """Kilobytes cheaply: a short random pattern repeated (drawing each byte is slow)."""
    return st.builds(
        lambda seed, size: (seed * (size // len(seed) + 1))[:size],
        st.binary(min_size=1, max_size=64),
        st.integers(min_size, max_size),
    )


def _no_headers(data: bytes) -> bytes:
    for token in HEADER_TOKENS:
        data = data.replace(token, b"-" + token[1:])
    return data


# A line of random bytes: anything but a header lead (which would frame what follows).
garbage_lines = st.one_of(
    st.binary(max_size=120),
    big_bytes(4000, 9000),  # past max_line
).map(lambda b: _no_headers(b) + b"\r\n")


@dataclass(frozen=True)
class Item:
    data: bytes
    payload: Event | None = None  # the Payload / data-carrying Urc it must give


def _qird(p: bytes, echo: bool) -> Item:
    data = b"\r\n+QIRD: %d\r\n" % len(p) + p + b"\r\n\r\nOK\r\n"
    return Item((b"AT+QIRD=0,1500\r" if echo else b"") + data, Payload(f"+QIRD: {len(p)}", p))


def _qird_udp(p: bytes, ip: str, port: int) -> Item:
    head = f'+QIRD: {len(p)},"{ip}",{port}'
    return Item(b"\r\n" + head.encode() + b"\r\n" + p + b"\r\n\r\nOK\r\n", Payload(head, p))


def _qsslrecv(p: bytes) -> Item:
    head = f"+QSSLRECV: {len(p)}"
    return Item(b"\r\n" + head.encode() + b"\r\n" + p + b"\r\n\r\nOK\r\n", Payload(head, p))


def _ws_data(link: int, p: bytes) -> Item:
    head = f"+WS_DATA:{link},{len(p)},"
    return Item(head.encode() + p + b"\r\n", Urc(head, p))


_ips = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)).map(str)
_too_many_digits = st.integers(6, 6000).map(lambda n: b"7" * n)
_junk_to_eol = st.binary(max_size=60).map(lambda b: _no_headers(b.replace(b"\n", b"")))

QUECTEL_NOISE = [
    b'\r\n+QIURC: "recv",0\r\n',
    b'\r\n+QIURC: "closed",0\r\n',
    b'\r\n+QIURC: "pdpdeact",1\r\n',
    b"\r\n+QIOPEN: 0,0\r\n",
    b"\r\nOK\r\n",
    b"\r\nERROR\r\n",
    b"\r\n+CME ERROR: 30\r\n",
    b"\r\nSEND OK\r\n",
    b"\r\nSEND FAIL\r\n",
    b"\r\n> ",
    b"\r\n>",
    b"\r\n>\r\n",
    b"\r\nRDY\r\n",
    b"AT+QISEND=0,5\r",
    b"\r\n+QIRD: 319,319,0\r\n",
    b"\r\n+QIRD: 123456789,123456789,0\r\n",
    b"\r\n+QIRD: \r\n",
]
quectel_items: st.SearchStrategy[Item] = st.one_of(
    st.builds(_qird, payload_bytes(1500), st.booleans()),
    st.builds(_qird, big_bytes(1400, 1500), st.booleans()),
    st.builds(_qird_udp, payload_bytes(1500), _ips, st.integers(1, 65535)),
    st.builds(_qsslrecv, payload_bytes(1500)),
    st.sampled_from(QUECTEL_NOISE).map(Item),
    garbage_lines.map(Item),
    _too_many_digits.map(lambda d: Item(b"\r\n+QIRD: " + d + b"\r\n")),
    st.integers(1501, 9999).map(lambda n: Item(b"\r\n+QIRD: %d\r\n\r\nOK\r\n" % n)),
    _too_many_digits.map(lambda d: Item(b"\r\n+QSSLRECV: " + d + b"\r\n")),
)

ESP_NOISE = [
    b"+WS_CONNECTED:0\r\n",
    b"+WS_DISCONNECTED:1\r\n",
    b"+WS_CLOSED:2\r\n",
    b"WIFI CONNECTED\r\n",
    b"WIFI GOT IP\r\n",
    b"WIFI DISCONNECT\r\n",
    b"ready\r\n",
    b"\r\nOK\r\n",
    b"\r\nOK\r\n\r\n>",
    b"\r\nSEND OK\r\n",
    b"\r\nERROR\r\n",
    b"busy p...\r\n",
    b"AT+WSSEND=0,10\r\n",
    b'\r\n+WSOPEN:0,2,"ws://h/ocpp/CP1"\r\n',
]
esp_items: st.SearchStrategy[Item] = st.one_of(
    st.builds(_ws_data, st.integers(0, 2), payload_bytes(16384)),
    st.builds(_ws_data, st.integers(0, 2), big_bytes(8000, 16384)),
    st.sampled_from(ESP_NOISE).map(Item),
    garbage_lines.map(Item),
    st.tuples(_too_many_digits, _junk_to_eol).map(
        lambda t: Item(b"+WS_DATA:0," + t[0] + b"," + t[1] + b"\r\n")
    ),
    st.tuples(st.integers(16385, 99999), _junk_to_eol).map(
        lambda t: Item(b"+WS_DATA:1,%d," % t[0] + t[1] + b"\r\n")
    ),
)

DIALECTS: dict[str, tuple[Dialect, st.SearchStrategy[Item]]] = {
    "quectel": (QUECTEL, quectel_items),
    "esp": (ESP_AT, esp_items),
}


def items(kind: str) -> st.SearchStrategy[list[Item]]:
    return st.lists(DIALECTS[kind][1], min_size=1, max_size=12)


@st.composite
def cuts(draw: st.DrawFn, size: int) -> list[int]:
    """Where the serial port splits ``size`` bytes: sorted cut points, often one byte apart."""
    if size == 0:
        return []
    points = draw(st.lists(st.integers(0, size), max_size=40))
    if draw(st.booleans()):  # a run of single bytes somewhere
        start = draw(st.integers(0, size))
        points += range(start, min(size, start + 64))
    return sorted(set(points))


# Any bytes at all: random binary, pieces of items, header look-alikes, prompts.
any_bytes: st.SearchStrategy[bytes] = st.lists(
    st.one_of(
        st.binary(max_size=64),
        st.sampled_from(TRICKY),
        quectel_items.map(lambda i: i.data),
        esp_items.map(lambda i: i.data),
        st.tuples(quectel_items, st.integers(0, 200)).map(lambda t: t[0].data[: t[1]]),
        st.tuples(esp_items, st.integers(0, 200)).map(lambda t: t[0].data[: t[1]]),
    ),
    max_size=10,
).map(b"".join)


def chunks_of(data: bytes, points: list[int]) -> list[bytes]:
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False) if b > a]


def parse(dialect: Dialect, chunks: list[bytes]) -> tuple[list[Event], ATParser]:
    parser = ATParser(dialect)
    events: list[Event] = []
    largest = max((h.max_length for h in dialect.payload_headers), default=0)
    window = max((h.window for h in dialect.payload_headers), default=0)
    for chunk in chunks:
        parser.receive_data(chunk)
        events += parser.events()
        # Bounded memory: an unfinished line, header or payload, nothing more.
        assert len(parser.held()) <= max(dialect.max_line + window, largest)
    parser.receive_eof()
    events += parser.events()
    assert parser.held() == b""
    return events, parser


def work_bound(dialect: Dialect, size: int, chunks: int) -> int:
    """Linear work: a constant per byte and per resume, the constant set by the dialect."""
    headers = len(dialect.payload_headers)
    window = max((h.window for h in dialect.payload_headers), default=0)
    return 4 * (headers + 1) * (window + 1) * (size + chunks + 1)


def check_payloads(kind: str, stream: list[Item], points: list[int]) -> None:
    """No length-framed payload lost or corrupted, whatever surrounds or splits it."""
    dialect = DIALECTS[kind][0]
    data = b"".join(item.data for item in stream)
    events, _ = parse(dialect, chunks_of(data, points))
    got = [
        e for e in events if isinstance(e, Payload) or (isinstance(e, Urc) and e.data is not None)
    ]
    assert got == [item.payload for item in stream if item.payload is not None]


def check_same_events(kind: str, data: bytes, points_a: list[int], points_b: list[int]) -> None:
    """The events do not depend on how the bytes arrive."""
    dialect = DIALECTS[kind][0]
    whole, _ = parse(dialect, [data])
    assert parse(dialect, chunks_of(data, points_a))[0] == whole
    assert parse(dialect, chunks_of(data, points_b))[0] == whole


def check_robust(kind: str, data: bytes, points: list[int]) -> None:
    """Never raises, takes every byte, reports garbage in bounded pieces, works linearly."""
    dialect = DIALECTS[kind][0]
    chunks = chunks_of(data, points)
    events, parser = parse(dialect, chunks)
    window = max(h.window for h in dialect.payload_headers)
    largest = max(h.max_length for h in dialect.payload_headers)  # a payload cut by EOF
    for event in events:
        if isinstance(event, Garbage):
            assert event.reason and len(event.data) <= max(dialect.max_line + window, largest)
    assert parser.work <= work_bound(dialect, len(data), len(chunks))
