"""WebSocket frames for the reassembly property, cut into ``+WS_DATA`` pieces as ESP-AT does.

Well-formed frames are OCPP-J messages (CALL, CALLRESULT, CALLERROR) with
payloads shaped like OCPP 1.6 ones: objects of strings (with brackets, quotes,
backslashes, non-ASCII), numbers, booleans, nested objects and arrays of
objects or strings.  Broken frames are what a hostile or buggy CSMS sends:
random text, a lone ``[``, JSON cut short, an unterminated string, text whose
pieces start with ``[``.  Every frame is cut into pieces of at most the buffer
size, as esp_websocket_client reads it: full pieces then a shorter one, or
pieces cut short anywhere (TCP delivering less); a piece never spans two frames.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from modem.espat import JsonMessageSplitter

_text = st.text(
    alphabet=st.one_of(
        st.sampled_from('[]{}",:\\ 0123456789'),
        st.characters(codec="utf-8", exclude_categories=["Cs"]),
    ),
    max_size=40,
)
_keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ_", min_size=1, max_size=12)
_scalars = st.one_of(
    _text,
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
    st.none(),
)
_objects: st.SearchStrategy[dict[str, Any]] = st.recursive(
    st.dictionaries(_keys, _scalars, max_size=5),
    lambda inner: st.dictionaries(
        _keys,
        st.one_of(_scalars, inner, st.lists(inner, max_size=3), st.lists(_text, max_size=3)),
        max_size=5,
    ),
    max_leaves=25,
)
_ids = st.text(alphabet="0123456789abcdef-", min_size=1, max_size=36)
_actions = st.sampled_from(
    ["Heartbeat", "DataTransfer", "GetConfiguration", "RemoteStartTransaction"]
)


def _dump(message: list[Any], spaced: bool, ascii_only: bool) -> bytes:
    separators = (", ", ": ") if spaced else (",", ":")
    return json.dumps(message, separators=separators, ensure_ascii=ascii_only).encode()


messages: st.SearchStrategy[bytes] = st.builds(
    _dump,
    st.one_of(
        st.tuples(st.just(2), _ids, _actions, _objects).map(list),
        st.tuples(st.just(3), _ids, _objects).map(list),
        st.tuples(st.just(4), _ids, st.just("GenericError"), _text, _objects).map(list),
    ),
    st.booleans(),
    st.booleans(),
)

BROKEN_HEADS = [
    b"[",
    b"[oops",
    b'["',
    b'{"a":',
    b"{",
    b"[1,",
    b"[ 2",
    b'[2,"1","Heartbeat",{',
    b'[3,"9",{"a":"x"}',
    b'["unterminated \\"]',
    b"server error, see [",
]
broken: st.SearchStrategy[bytes] = st.one_of(
    st.text(min_size=1, max_size=200).map(str.encode),
    st.tuples(st.sampled_from(BROKEN_HEADS), _text).map(lambda t: t[0] + t[1].encode()),
    st.tuples(_text, st.sampled_from(BROKEN_HEADS)).map(lambda t: t[0].encode() + t[1]),
    messages.map(lambda m: m[: len(m) // 2]),  # a message cut short
)


@dataclass(frozen=True)
class Frame:
    data: bytes
    sound: bool


frames: st.SearchStrategy[list[Frame]] = st.lists(
    st.one_of(
        messages.map(lambda m: Frame(m, True)),
        broken.map(lambda b: Frame(b, False)),
    ),
    min_size=1,
    max_size=8,
)


@st.composite
def pieces(draw: st.DrawFn, stream: list[Frame], size: int) -> list[bytes]:
    """``+WS_DATA`` pieces of every frame in turn: full ones, or cut short anywhere."""
    out: list[bytes] = []
    short = draw(st.booleans())
    for frame in stream:
        pos = 0
        while pos < len(frame.data):
            step = draw(st.integers(1, size)) if short else size
            out.append(frame.data[pos : pos + step])
            pos += step
    return out


def check_recovery(stream: list[Frame], size: int, chunks: list[bytes]) -> None:
    """Every well-formed message comes out whole and in order, whatever frames surround it."""
    splitter = JsonMessageSplitter(chunk_size=size)
    out = [message for chunk in chunks for message in splitter.feed(chunk)]
    sound = [frame.data for frame in stream if frame.sound]
    it = iter(out)
    assert all(any(got == want for got in it) for want in sound), (sound, out)
    # Nothing made up: every byte that comes out came in, in order.
    assert b"".join(m.translate(None, b" \t\r\n") for m in out) in b"".join(
        chunk.translate(None, b" \t\r\n") for chunk in chunks
    )
