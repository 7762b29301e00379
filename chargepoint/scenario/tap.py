"""The charger's link as a scenario sees it: every frame logged, some answers replaced.

The tap sits between the station and whatever link carries its WebSocket, so
it works the same over a direct link and through a modem:

* it logs every frame on the charger's side, which is what expectations are
  checked on when the CSMS is not the local one;
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
from typing import Any

from chargepoint.csms.framelog import FrameLog
from chargepoint.transport.base import Connection, Link, LinkError

from .matchers import Fields
from .messages import ErrorReply
from .observe import CHARGER_TO_CSMS, CSMS_TO_CHARGER


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


@dataclass
class Tap:
    """State shared by the tapped link and each connection it opens."""

    charge_point: str
    log: FrameLog = field(default_factory=FrameLog)
    overrides: list[Override] = field(default_factory=list)
    connections: int = 0
    last_error: str | None = None
    current: TappedConnection | None = None
    down_until: float = 0.0
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
        self.down_until = max(self.down_until, time.monotonic() + real_seconds)


class TappedConnection:
    def __init__(self, inner: Connection, tap: Tap) -> None:
        self.inner, self.tap = inner, tap

    async def send(self, message: str) -> None:
        async with self.tap.send_lock:  # the tap's own answers go out between the charger's
            self.tap.log.record(CHARGER_TO_CSMS, self.tap.charge_point, message)
            await self.inner.send(message)

    async def recv(self) -> str:
        while True:
            message = await self.inner.recv()
            self.tap.log.record(CSMS_TO_CHARGER, self.tap.charge_point, message)
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
        wait = self.tap.down_until - time.monotonic()
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

    async def aclose(self) -> None:
        await self.inner.aclose()
