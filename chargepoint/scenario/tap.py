"""The charger's link as a scenario sees it: every frame logged, some answers replaced.

The tap sits between the station and whatever link carries its WebSocket, so
it works the same over a direct link and through a modem:

* it logs every frame on the charger's side, which is what expectations are
  checked on when the CSMS is not the local one;
* it notes, for each frame, the charger time (the scenario's clock) at which the
  charger handed it to the link or got it from the link: timing checks are judged
  there, so the link's own latency never counts as the charger's (see
  :mod:`.timebase`), and the real round trips give the link's latency;
* it can answer one CSMS call in the charger's place (``reply`` on an
  ``expect_call`` step, ``charger_reply`` on a ``csms`` step): the call never
  reaches the charger's handlers, so the charger does not act on it either;
* it can keep the network "down" for a while after a link fault, refusing to
  connect, so reconnects fail as they would without coverage.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median
from typing import Any

from chargepoint.clocks import Clock
from chargepoint.csms.framelog import Frame, FrameLog
from chargepoint.transport.base import Connection, Link, LinkError
from chargepoint.transport.transfer import FileTransfer

from .matchers import Fields
from .messages import ErrorReply

CHARGER_TO_CSMS = "received"
"""A frame's direction in a log: the CSMS received it (the charger sent it)."""
CSMS_TO_CHARGER = "sent"


@dataclass
class Override:
    """Answer the next CSMS call ``action`` (whose payload matches) with this instead."""

    action: str
    payload: Fields | None = None
    reply: dict[str, Any] | None = None
    error: ErrorReply | None = None
    used: asyncio.Future[str] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    """Resolves to the unique id of the call it answered."""

    def answer(self, unique_id: str) -> list[Any]:
        if self.error is not None:
            return [4, unique_id, self.error.code, self.error.description, self.error.details]
        return [3, unique_id, self.reply or {}]


@dataclass(frozen=True)
class Mark:
    """When a frame passed the charger's end of the link."""

    charger: datetime
    """On the scenario's clock (charger time)."""
    real: float
    """``time.monotonic()``."""


FrameKey = tuple[str, int, str]
"""(direction, message type, unique id): the same frame in the CSMS's log and the tap's."""


def key_of(frame: Frame) -> FrameKey | None:
    msg = frame.message
    if frame.message_type is None or len(msg) < 2 or not isinstance(msg[1], str):
        return None
    return frame.direction, frame.message_type, msg[1]


@dataclass
class Tap:
    """State shared by the tapped link and each connection it opens."""

    charge_point: str
    clock: Clock | None = None
    """The scenario's clock; without it frames get no charger time (only real time)."""
    log: FrameLog = field(default_factory=FrameLog)
    marks: dict[FrameKey, Mark] = field(default_factory=dict)
    """Each frame the charger sent or received, by key: when it passed the charger's end."""
    overrides: list[Override] = field(default_factory=list)
    connections: int = 0
    last_error: str | None = None
    current: TappedConnection | None = None
    down_until: float = 0.0
    """The loop time until which connecting fails (a link fault's ``duration``)."""
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def take_override(self, message: str) -> tuple[Override, str] | None:
        if not self.overrides or not message.startswith("[2"):
            return None
        try:
            frame = json.loads(message)
            _, unique_id, action, payload = frame
        except (ValueError, TypeError):
            return None
        for override in self.overrides:
            if override.action == action and (
                override.payload is None or override.payload.matches(payload)
            ):
                self.overrides.remove(override)
                return override, str(unique_id)
        return None

    def network_down_for(self, real_seconds: float) -> None:
        """Refuse to connect for ``real_seconds`` of the loop's time from now."""
        # on the loop's clock, which is the charger's under virtual time
        now = asyncio.get_running_loop().time()
        self.down_until = max(self.down_until, now + real_seconds)

    def record(self, direction: str, message: str) -> Frame:
        """Log a frame at the charger's end of the link, with its charger time."""
        frame = self.log.record(direction, self.charge_point, message)
        key = key_of(frame)
        if key is not None and self.clock is not None:
            self.marks.setdefault(key, Mark(self.clock.now(), time.monotonic()))
        return frame

    def round_trips(self) -> list[float]:
        """Real seconds from each charger CALL leaving to its answer arriving, oldest first."""
        trips = []
        for (direction, kind, unique_id), sent in self.marks.items():
            if direction != CHARGER_TO_CSMS or kind != 2:
                continue
            answer = self.marks.get((CSMS_TO_CHARGER, 3, unique_id)) or self.marks.get(
                (CSMS_TO_CHARGER, 4, unique_id)
            )
            if answer is not None:
                trips.append(answer.real - sent.real)
        return trips

    def round_trip(self) -> float | None:
        """The link's typical round trip (median), or None before any call was answered."""
        trips = self.round_trips()
        return median(trips) if trips else None


class TappedConnection:
    def __init__(self, inner: Connection, tap: Tap) -> None:
        self.inner, self.tap = inner, tap

    async def send(self, message: str) -> None:
        async with self.tap.send_lock:  # the tap's own answers go out between the charger's
            self.tap.record(CHARGER_TO_CSMS, message)
            await self.inner.send(message)

    async def recv(self) -> str:
        while True:
            message = await self.inner.recv()
            self.tap.record(CSMS_TO_CHARGER, message)
            taken = self.tap.take_override(message)
            if taken is None:
                return message
            override, unique_id = taken
            await self.send(json.dumps(override.answer(unique_id), separators=(",", ":")))
            if not override.used.done():
                override.used.set_result(unique_id)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.inner.close(code, reason)


class TappedLink:
    """A :class:`~chargepoint.transport.base.Link` whose connections are tapped."""

    def __init__(self, inner: Link, tap: Tap) -> None:
        self.inner, self.tap = inner, tap
        self.description = inner.description

    @property
    def sim_identity(self) -> dict[str, str]:
        """The modem's ICCID/IMSI, which the station puts in its BootNotification."""
        identity: dict[str, str] = getattr(self.inner, "sim_identity", {}) or {}
        return identity

    async def connect(self) -> Connection:
        wait = self.tap.down_until - asyncio.get_running_loop().time()
        if wait > 0:
            raise LinkError(f"{self.description}: network down (link fault) for {wait:.1f}s more")
        try:
            connection = await self.inner.connect()
        except LinkError as exc:
            self.tap.last_error = str(exc)
            raise
        self.tap.connections += 1
        self.tap.current = TappedConnection(connection, self.tap)
        return self.tap.current

    def file_transfer(self) -> FileTransfer:
        """The inner link's (transfers are not tapped: they carry no OCPP)."""
        return self.inner.file_transfer()

    async def aclose(self) -> None:
        await self.inner.aclose()
