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


def test_text_that_is_not_json_is_one_message_per_chunk() -> None:
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
