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


# -- recovery: a broken frame must not swallow the messages after it ---------

CALLS = [b'[2,"c%d","Heartbeat",{}]' % i for i in range(3)]


def pieces(frame: bytes, size: int) -> list[bytes]:
    """ESP-AT's +WS_DATA pieces of one frame: full ``size`` pieces, a shorter last one."""
    return [frame[i : i + size] for i in range(0, len(frame), size)] or [b""]


def feed_frames(frames: list[bytes], size: int) -> tuple[list[bytes], int]:
    splitter = JsonMessageSplitter(chunk_size=size)
    out = [m for frame in frames for piece in pieces(frame, size) for m in splitter.feed(piece)]
    return out, splitter.pending


@pytest.mark.parametrize(
    "last_piece", [b"[", b"[1 is not json", b"[  7", b'[2,"x', b'[3,"y",{"a":', b'[4,"z","a\\"]']
)
def test_text_frame_whose_last_piece_starts_with_a_bracket_swallows_no_call(
    last_piece: bytes,
) -> None:
    """The reported case: text over full pieces, then a short last piece starting with ``[``."""
    text = b"server error see" + last_piece  # 16 bytes: one full piece, then the last one
    assert pieces(text, 16)[1] == last_piece
    out, pending = feed_frames([text, *CALLS], 16)
    assert out == [text[:16], last_piece, *CALLS]
    assert pending == 0


BROKEN = [
    b"[",
    b"[oops",
    b'["',
    b'{"a":',
    b"{",
    b"[1,",
    b'[2,"1","Heartbeat",{',
    b'["unterminated \\"]',
    b'[3,"9",{"a":"x"}',
    b'{"k": ["v", {"w": "]]]"',
]


@pytest.mark.parametrize("broken", BROKEN)
@pytest.mark.parametrize("size", [8, 16, 1024])
def test_garbage_between_valid_frames(broken: bytes, size: int) -> None:
    long_call = b'[2,"long","DataTransfer",{"vendorId":"v","data":"' + b'] [ { \\" ' * 9 + b'"}]'
    frames = [CALLS[0], broken, long_call, broken, broken, CALLS[1], broken, CALLS[2]]
    out, pending = feed_frames(frames, size)
    assert [m for m in out if m in (*CALLS, long_call)] == [CALLS[0], long_call, *CALLS[1:]]
    assert pending == 0
    assert b"".join(out) == b"".join(frames)  # nothing lost, nothing made up


def test_recovery_with_pieces_cut_short_by_tcp() -> None:
    rng = random.Random(11)
    frames = [CALLS[0], b"[oops", CALLS[1], b'{"a":"', CALLS[2]]
    for _ in range(300):
        splitter = JsonMessageSplitter(chunk_size=16)
        out: list[bytes] = []
        for frame in frames:
            pos = 0
            while pos < len(frame):  # a piece never spans two frames
                size = rng.randint(1, 16)
                out += splitter.feed(frame[pos : pos + size])
                pos += size
        assert [m for m in out if m in CALLS] == CALLS


def test_an_open_message_closed_inside_a_piece_gives_way_to_the_next() -> None:
    """``["`` turns the strings of what follows inside out: its bracket closes mid-piece."""
    call = b'[3,"1",{"a":"]","b":"' + b"x" * 30 + b'"}]'
    out, pending = feed_frames([b'["', call, CALLS[0]], 16)
    assert out == [b'["', call, CALLS[0]] and pending == 0


def test_a_sound_message_is_not_cut_where_a_piece_starts_like_a_message() -> None:
    """Pieces of a string reading ``[3,\\"x\\",{}]``, or an inner ``[2, 1, ...]``: one message."""

    def padded(head: bytes) -> bytes:
        return head + b"." * (-len(head) % 16)

    string_head = padded(b'[2,"1","DataTransfer",{"vendorId":"v","data":"')
    in_string = string_head + b'[3,\\"x\\",{}]..' + b'"}]'
    array_head = b'[2,"2","X",{"a":'  # 16 bytes: the array starts a piece
    in_array = array_head + b"[2, 1, 2, 3, 4]" + b"}]"
    assert pieces(in_string, 16)[len(string_head) // 16].startswith(b"[3,")
    assert pieces(in_array, 16)[1].startswith(b"[2, 1")
    for frames in ([b"[oops", in_string, in_array], [in_string, in_array]):
        out, pending = feed_frames([*frames, CALLS[0]], 16)
        assert out[-3:] == [in_string, in_array, CALLS[0]] and pending == 0
