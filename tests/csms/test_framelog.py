"""The frame log: every frame in memory at once, in the JSONL file by the end of the loop
turn that recorded it (one write for all of that turn's frames), and waiters woken."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from chargepoint.csms.framelog import FrameLog

BOOT = '[2,"b1","BootNotification",{"chargePointVendor":"v","chargePointModel":"m"}]'
KEY = '[2,"c1","ChangeConfiguration",{"key":"AuthorizationKey","value":"0011223344556677"}]'


async def test_a_turns_frames_reach_the_file_in_order_with_secrets_masked(tmp_path: Path) -> None:
    path = tmp_path / "frames.jsonl"
    frames = FrameLog(path)
    for n in range(100):
        frames.record("received", f"CP{n}", BOOT)
    frames.record("sent", "CP1", KEY)
    assert len(frames.frames) == 101  # in memory at once
    await asyncio.sleep(0)  # the end of this loop turn
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["seq"] for line in lines] == list(range(1, 102))
    assert lines[-1]["message"][3]["value"] == "***"
    assert "0011223344556677" not in path.read_text()
    frames.close()


def test_outside_a_loop_a_frame_is_written_at_once_and_close_keeps_the_rest(
    tmp_path: Path,
) -> None:
    path = tmp_path / "frames.jsonl"
    frames = FrameLog(path)
    frames.record("received", "CP1", BOOT)
    assert len(path.read_text().splitlines()) == 1
    frames.close()
    assert len(path.read_text().splitlines()) == 1


async def test_close_writes_what_the_loop_had_not_yet(tmp_path: Path) -> None:
    path = tmp_path / "frames.jsonl"
    frames = FrameLog(path)
    frames.record("received", "CP1", BOOT)
    frames.close()  # before the loop turn ended
    assert len(path.read_text().splitlines()) == 1


async def test_a_waiter_sees_a_frame_recorded_later(tmp_path: Path) -> None:
    frames = FrameLog()
    waiting = asyncio.ensure_future(frames.wait_for(lambda f: f.charge_point == "CP2", 5))
    await asyncio.sleep(0)
    frames.record("received", "CP1", BOOT)  # not the one: it waits on
    await asyncio.sleep(0)
    frames.record("received", "CP2", BOOT)
    assert (await waiting).seq == 2


def test_memory_keeps_the_newest_frames_and_the_file_keeps_all(tmp_path: Path) -> None:
    """A soak must not hold every frame in memory: the log keeps the newest ``keep`` (their
    seq still counting from the start), the JSONL file every one, and ``since`` reads on
    by seq across the trimmed part."""
    path = tmp_path / "frames.jsonl"
    log = FrameLog(path, keep=100)
    for n in range(1, 1001):
        log.record("received", "CP1", f'[2,"{n}","Heartbeat",{{}}]')
    log.close()
    assert log.recorded == 1000
    assert 100 <= len(log.frames) <= 100 + 100 // 8
    assert log.frames[-1].seq == 1000 and log.frames[-1].message[1] == "1000"
    assert [f.seq for f in log.since(995)] == [996, 997, 998, 999, 1000]
    assert log.since(0)[0].seq == log.frames[0].seq  # what was trimmed is gone from memory
    assert len(path.read_text().splitlines()) == 1000
