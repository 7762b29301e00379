"""What the CSMS received, as a scenario checks it: waiting, matching, explaining.

Expectations are checked on a :class:`~chargepoint.csms.framelog.FrameLog`:
the local CSMS's own log (what it really received), or, against a remote
CSMS, the log the charger's tapped link keeps (what the charger sent).  Either
way ``direction == "received"`` means charger -> CSMS.

Timing is judged at the charger's end of the link (:meth:`Observer.sent_at`):
the charger time at which the charger sent a frame, as the tap noted it, not
when the CSMS read it, so a modem's latency is not counted as the charger's.

When an expectation fails, the person reading the report needs the message
that came instead, not just "timeout": :func:`explain_missing` picks the
closest frames and says field by field why they did not match.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from chargepoint.clocks import Clock
from chargepoint.csms.framelog import Frame, FrameLog
from chargepoint.logmask import mask_data

from .errors import brief, flow
from .matchers import Fields
from .messages import MessageMatch
from .tap import CHARGER_TO_CSMS as CHARGER_TO_CSMS
from .tap import CSMS_TO_CHARGER as CSMS_TO_CHARGER
from .tap import Tap, key_of

if TYPE_CHECKING:
    from chargepoint.station import Station

T = TypeVar("T")


def is_call(frame: Frame, direction: str, action: str | None = None) -> bool:
    return (
        frame.direction == direction
        and frame.message_type == 2
        and (action is None or frame.action == action)
    )


def matches(action: str, payload: Fields | None, frame: Frame) -> bool:
    return frame.action == action and (payload is None or payload.matches(frame.payload))


class Observer:
    """One charger's frames in a log, and a way to wait until one of them shows up.

    It also notes the charger-time at which each frame was logged (by the
    scenario's clock), since the log's own timestamps are real time, and finds
    in the ``tap`` when the charger itself sent or received a frame.
    """

    def __init__(self, log: FrameLog, charge_point: str, clock: Clock, tap: Tap) -> None:
        self.log = log
        self.charge_point = charge_point
        self.clock = clock
        self.tap = tap
        self.charger_times: dict[int, datetime] = {}
        self._new = asyncio.Event()
        log.listeners.append(self._on_frame)
        if tap.log is not log:  # waits also end when something reaches the charger's end
            tap.log.listeners.append(lambda frame: self._new.set())

    def _on_frame(self, frame: Frame) -> None:
        self.charger_times[frame.seq] = self.clock.now()
        self._new.set()

    def at_charger(self, frame: Frame) -> datetime:
        """The charger time at which ``frame`` passed the charger's end of the link: when the
        charger sent it (charger -> CSMS) or received it (CSMS -> charger).

        Falls back to when it was logged, for a frame the tap never saw (not an OCPP-J
        array), and to now for one logged before this observer existed.
        """
        key = key_of(frame)
        mark = self.tap.marks.get(key) if key is not None else None
        if mark is not None:
            return mark.charger
        return self.charger_times.get(frame.seq) or self.clock.now()

    def reached_charger(self, unique_id: str) -> bool:
        """Whether the charger has received the answer to its call ``unique_id``."""
        return any((CSMS_TO_CHARGER, kind, unique_id) in self.tap.marks for kind in (3, 4))

    def in_flight(self, sent_by: datetime) -> list[str]:
        """Ids of the calls the charger sent by ``sent_by`` that this log has not shown yet."""
        logged = {key_of(f) for f in self.after(0)}
        return [
            key[2]
            for key, mark in self.tap.marks.items()
            if key[0] == CHARGER_TO_CSMS
            and key[1] == 2
            and mark.charger <= sent_by
            and key not in logged
        ]

    @property
    def last_seq(self) -> int:
        return self.log.recorded

    def after(self, seq: int) -> list[Frame]:
        """This charger's frames logged after ``seq``, oldest first."""
        return [f for f in self.log.since(seq) if f.charge_point == self.charge_point]

    def calls_after(self, seq: int, direction: str = CHARGER_TO_CSMS) -> list[Frame]:
        return [f for f in self.after(seq) if is_call(f, direction)]

    def answer_to(self, unique_id: str, direction: str) -> Frame | None:
        """The CALLRESULT or CALLERROR with this id going ``direction``."""
        for frame in reversed(self.after(0)):
            if (
                frame.direction == direction
                and frame.message_type in (3, 4)
                and frame.message[1] == unique_id
            ):
                return frame
        return None

    def call_with_id(self, unique_id: str, direction: str) -> Frame | None:
        for frame in reversed(self.after(0)):
            if is_call(frame, direction) and frame.message[1] == unique_id:
                return frame
        return None

    async def until(self, probe: Callable[[], T | None], timeout: float) -> T | None:
        """The first non-None ``probe()``, re-checked on every new frame; None after ``timeout``."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    self._new.clear()
                    found = probe()
                    if found is not None:
                        return found
                    await self._new.wait()
        except TimeoutError:
            return None


async def until_changed(station: Station, probe: Callable[[], bool], timeout: float) -> bool:
    """Wait for a condition on the charger's state (not a frame), re-checked after each of the
    charger's steps (:meth:`~chargepoint.station.Station.changed`), so the wait ends in the
    very instant the state changes; False when it still does not hold after ``timeout``."""
    try:
        async with asyncio.timeout(timeout):
            while not probe():
                await station.changed()
    except TimeoutError:
        return probe()
    return True


def assign(wanted: Sequence[MessageMatch], frames: Sequence[Frame]) -> list[Frame] | None:
    """A distinct frame for each of ``wanted`` (any order), or None.

    Backtracking, because a broad matcher listed first must not take the frame
    that only a narrower one after it could match.
    """
    candidates = [[f for f in frames if matches(w.action, w.payload, f)] for w in wanted]
    chosen: list[Frame] = []

    def search(i: int) -> bool:
        if i == len(wanted):
            return True
        for frame in candidates[i]:
            if frame not in chosen:
                chosen.append(frame)
                if search(i + 1):
                    return True
                chosen.pop()
        return False

    return list(chosen) if search(0) else None


def describe_frame(frame: Frame, limit: int = 160) -> str:
    body = flow(mask_data(frame.payload if frame.payload is not None else frame.message))
    text = f"#{frame.seq} {frame.action or ''} {body}".replace("  ", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def explain_missing(
    action: str,
    payload: Fields | None,
    frames: Sequence[Frame],
    limit: int = 3,
    sender: str = "the charger",
) -> list[str]:
    """Lines saying what arrived instead of ``action`` ``payload``."""
    same = [f for f in frames if f.action == action]
    if same:
        ranked = sorted(same, key=lambda f: len(payload.mismatches(f.payload)) if payload else 0)
        lines = [f"closest {action} that arrived:"]
        for frame in ranked[:limit]:
            lines.append("  " + describe_frame(frame))
            if payload is not None:
                lines += [f"      {m}" for m in payload.mismatches(frame.payload)]
        if len(same) > limit:
            lines.append(f"  (and {len(same) - limit} more {action})")
        return lines
    if not frames:
        return [f"{sender} sent nothing meanwhile"]
    counts = Counter(f.action for f in frames)
    listed = ", ".join(f"{a} x{n}" if n > 1 else str(a) for a, n in counts.items())
    return [f"no {action} arrived; {sender} sent: {listed}"]


def describe_answer(frame: Frame | None) -> str:
    if frame is None:
        return "no answer"
    if frame.message_type == 4:
        code, text = frame.message[2], frame.message[3] if len(frame.message) > 3 else ""
        return f"CALLERROR {code}" + (f" {brief(text, 60)}" if text else "")
    return f"CALLRESULT {flow(mask_data(frame.payload))}"
