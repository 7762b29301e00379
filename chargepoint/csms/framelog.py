"""Every OCPP frame the local CSMS sends or receives, one JSON object per line.

Tests and scenario checks assert on this log, i.e. on what the CSMS actually
received, never on the charger's own idea of what it sent.  In memory a frame is
kept as it was; everything shown to a person (the JSONL file, the printed lines,
``/api/log``) has AuthorizationKey values masked (:func:`Frame.public_dict`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from chargepoint.logmask import mask_data


@dataclass(frozen=True)
class Frame:
    seq: int
    time: str
    direction: str  # "received" (charger -> CSMS) or "sent"
    charge_point: str
    message: Any  # the parsed OCPP-J array, or the raw text if it was not JSON

    @property
    def message_type(self) -> int | None:
        msg = self.message
        return msg[0] if isinstance(msg, list) and msg and isinstance(msg[0], int) else None

    @property
    def action(self) -> str | None:
        msg = self.message
        if self.message_type == 2 and len(msg) > 2:
            return str(msg[2])
        return None

    @property
    def payload(self) -> Any:
        msg = self.message
        if self.message_type == 2 and len(msg) > 3:
            return msg[3]
        if self.message_type == 3 and len(msg) > 2:
            return msg[2]
        return None

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "direction": self.direction,
            "charge_point": self.charge_point,
            "message": self.message,
        }

    def public_dict(self) -> dict[str, Any]:
        """:meth:`as_dict` with every secret (a ChangeConfiguration AuthorizationKey) masked."""
        return mask_data(self.as_dict())


def format_frame(frame: Frame, width: int = 110) -> str:
    """One readable line: time, direction, CALL/RESULT/ERROR, action, payload (cut to ``width``)."""
    arrow = (
        f"{frame.charge_point} -> CSMS"
        if frame.direction == "received"
        else f"CSMS -> {frame.charge_point}"
    )
    kind = {2: "CALL", 3: "RESULT", 4: "ERROR"}.get(frame.message_type or 0, "?")
    msg = frame.message
    shown = (
        frame.payload if frame.payload is not None else (msg[2:] if isinstance(msg, list) else msg)
    )
    body = json.dumps(mask_data(shown), separators=(",", ":"))
    if len(body) > width:
        body = body[: width - 3] + "..."
    return f"{frame.time[11:23]}  {arrow}  {kind:<6} {frame.action or '':<20} {body}"


KEEP_FRAMES = 200_000
"""Frames a CSMS keeps in memory (the newest): a 10,000-charger fleet at a 30 s heartbeat
makes about 2.4 million an hour, which kept for ever would be gigabytes in a soak.  The
JSONL file (``--log``) keeps every one."""


class FrameLog:
    """The newest frames in memory at once (what tests and ``/api/log`` read; at most
    ``keep``, their ``seq`` counting every frame since the start); the JSONL file gets
    them all, in one write per event-loop turn, so a boot storm of thousands of frames a
    second is not a write and a flush each."""

    def __init__(
        self,
        path: Path | None = None,
        clock: Callable[[], datetime] | None = None,
        keep: int = KEEP_FRAMES,
    ) -> None:
        if keep < 1:
            raise ValueError(f"a frame log keeps at least 1 frame (got {keep})")
        self.clock = clock or (lambda: datetime.now(UTC))
        """The CSMS's time: a scenario's (possibly virtual) clock, else the wall clock."""
        self.frames: list[Frame] = []
        self.keep = keep
        self.recorded = 0
        """Frames recorded since the start (the last one's ``seq``)."""
        self._file: IO[str] | None = path.open("a", encoding="utf-8") if path else None
        self._unwritten: list[str] = []
        self._waiters: list[asyncio.Future[None]] = []
        self.listeners: list[Callable[[Frame], None]] = []

    def record(self, direction: str, charge_point: str, text: str) -> Frame:
        try:
            message: Any = json.loads(text)
        except ValueError:
            message = text
        self.recorded += 1
        frame = Frame(
            self.recorded,
            self.clock().isoformat(timespec="milliseconds"),
            direction,
            charge_point,
            message,
        )
        self.frames.append(frame)
        if len(self.frames) > self.keep + self.keep // 8:  # trimmed now and then, not per frame
            del self.frames[: len(self.frames) - self.keep]
        if self._file is not None:
            self._unwritten.append(json.dumps(frame.public_dict(), separators=(",", ":")))
            if len(self._unwritten) == 1:
                self._write_soon()
        for listener in self.listeners:
            listener(frame)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        return frame

    def _write_soon(self) -> None:
        """At the end of this loop turn (with every frame recorded in it); now, outside a loop."""
        try:
            asyncio.get_running_loop().call_soon(self.flush)
        except RuntimeError:
            self.flush()

    def flush(self) -> None:
        """Write the frames recorded since the last flush to the file."""
        if self._file is None or not self._unwritten:
            return
        lines, self._unwritten = self._unwritten, []
        self._file.write("\n".join(lines) + "\n")
        self._file.flush()

    def since(self, seq: int) -> list[Frame]:
        """The frames kept that came after frame number ``seq`` (0: all kept)."""
        if not self.frames:
            return []
        return self.frames[max(0, seq - self.frames[0].seq + 1) :]

    def calls(
        self,
        charge_point: str | None = None,
        action: str | None = None,
        direction: str = "received",
    ) -> list[Frame]:
        return [
            f
            for f in self.frames
            if f.direction == direction
            and f.message_type == 2
            and (charge_point is None or f.charge_point == charge_point)
            and (action is None or f.action == action)
        ]

    async def wait_for(self, predicate: Any, timeout: float) -> Frame:
        """The first frame (old or new) for which ``predicate(frame)`` is true."""

        async def scan() -> Frame:
            seen = 0
            while True:
                for frame in self.since(seen):
                    if predicate(frame):
                        return frame
                seen = self.recorded
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                await waiter

        async with asyncio.timeout(timeout):
            return await scan()

    def close(self) -> None:
        if self._file is not None:
            self.flush()
            self._file.close()
            self._file = None
