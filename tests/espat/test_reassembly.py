"""JsonMessageSplitter: whole OCPP messages out of +WS_DATA chunks split anywhere."""

from __future__ import annotations

import json
import random

import pytest

from modem.espat import JsonMessageSplitter, ReassemblyError

TRICKY = [
    '[2,"1","DataTransfer",{"vendorId":"x","data":"] } [ { \\" \\\\"}]',
    '[3,"2",{"configurationKey":[{"key":"A","value":"[[[","readonly":false}]}]',
    '[2,"3","DataTransfer",{"vendorId":"ü","data":"€ 𝄞 \\u00e9 \\\\\\" ]"}]',
    '[4,"4","GenericError","",{}]',
    '{"not":"an array, still JSON"}',
    "[]",
]
STREAM = "\r\n ".join(TRICKY).encode()


def feed_all(chunks: list[bytes]) -> list[bytes]:
    splitter = JsonMessageSplitter()
    out: list[bytes] = []
    for chunk in chunks:
        out += splitter.feed(chunk)
    assert splitter.pending == 0
    return out


@pytest.mark.parametrize("cut", range(len(STREAM) + 1))
def test_two_chunks_cut_anywhere(cut: int) -> None:
    messages = feed_all([STREAM[:cut], STREAM[cut:]])
    assert [m.decode() for m in messages] == TRICKY


def test_byte_by_byte_and_random_pieces() -> None:
    assert [m.decode() for m in feed_all([bytes([b]) for b in STREAM])] == TRICKY
    rng = random.Random(7)
    for _ in range(200):
        chunks, pos = [], 0
        while pos < len(STREAM):
            size = rng.randint(1, 40)
            chunks.append(STREAM[pos : pos + size])
            pos += size
        assert [m.decode() for m in feed_all(chunks)] == TRICKY


def test_messages_are_valid_json_and_utf8_only_after_reassembly() -> None:
    message = json.dumps(
        [2, "9", "DataTransfer", {"vendorId": "v", "data": "é€" * 3000}], ensure_ascii=False
    ).encode()
    chunks = [message[i : i + 1024] for i in range(0, len(message), 1024)]
    with pytest.raises(UnicodeDecodeError):  # some chunk edge splits a character
        for chunk in chunks:
            chunk.decode()
    (whole,) = feed_all(chunks)
    assert json.loads(whole.decode()) == json.loads(message)


def test_text_without_a_chunk_size_is_one_message_per_chunk() -> None:
    splitter = JsonMessageSplitter()
    assert splitter.feed(b"this is not json\r\n") == [b"this is not json"]
    assert splitter.feed(b'[2,"5","Heartbeat",{}]') == [b'[2,"5","Heartbeat",{}]']


def test_unbalanced_message_is_bounded() -> None:
    splitter = JsonMessageSplitter(max_size=100)
    assert splitter.feed(b'[2,"6",' + b"[" * 50) == []
    with pytest.raises(ReassemblyError, match="100 bytes"):
        splitter.feed(b"x" * 60)
    assert splitter.pending == 0
    assert splitter.feed(b"[1]") == [b"[1]"]  # usable again


def test_reset_drops_a_partial_message() -> None:
    splitter = JsonMessageSplitter()
    assert splitter.feed(b'[2,"7","Heartbeat","unterminated \\') == []
    splitter.reset()
    assert splitter.feed(b'[3,"7",{}]') == [b'[3,"7",{}]']


HEARTBEAT = b'[2,"5","Heartbeat",{}]'


def test_long_text_is_one_message_and_a_later_bracket_swallows_nothing() -> None:
    """Text over full 16-byte chunks: a piece starting with ``[`` is still text."""
    text = b"error: see this" + b" [unclosed list " + b"and the end"
    assert [len(c) for c in (text[:16], text[16:32])] == [16, 16]
    splitter = JsonMessageSplitter(chunk_size=16)
    out = [m for c in (text[:16], text[16:32], text[32:], HEARTBEAT) for m in splitter.feed(c)]
    assert out == [text, HEARTBEAT]
    assert splitter.pending == 0


def test_text_of_whole_chunks_ends_where_an_ocpp_message_starts() -> None:
    text = b"0123456789abcdef" * 2  # exactly two full chunks: no shorter one ends it
    splitter = JsonMessageSplitter(chunk_size=16)
    assert splitter.feed(text[:16]) == []
    assert splitter.feed(text[16:]) == []
    assert splitter.feed(b' [ 3,"1",{}]') == [text, b'[ 3,"1",{}]']


def test_after_short_text_only_an_ocpp_start_opens_json() -> None:
    """Short pieces (a slow link) end text early; its next piece must not open JSON."""
    splitter = JsonMessageSplitter(chunk_size=1024)
    assert splitter.feed(b"oops") == [b"oops"]
    assert splitter.feed(b"[unclosed {") == [b"[unclosed {"]  # text again, not JSON
    assert splitter.feed(HEARTBEAT) == [HEARTBEAT]
    assert splitter.feed(b'{"json": [1]}') == [b'{"json": [1]}']  # JSON is fine again
    assert splitter.pending == 0
