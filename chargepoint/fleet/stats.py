"""What a fleet counts: per-charger state changes, messages, round trips, failures.

:class:`MeteredLink` wraps each charger's link: it sees every connect, every frame
and every drop, so the counting needs nothing from the charger core.  A CALL's
round trip is from our send of ``[2,"id",...]`` to the ``[3,"id",...]`` or
``[4,"id",...]`` that answers it (OCPP-J 1.6 §4.1).
"""

from __future__ import annotations

import math
import os
import re
import resource
import sys
import time
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from chargepoint.transport.base import Connection, Link, LinkClosed, LinkError
from chargepoint.transport.push import MessageSink, PushConnection, pushes

from .linkwrap import DelegatingLink
from .report import FleetReportWriter

MAX_REASON = 400
"""Characters of a failure reason kept (it comes from a CSMS, a modem or the OS)."""
_SECONDS = re.compile(r"\b\d+\.\d+ s\b")


@dataclass
class ChargerStatus:
    cp: str
    connected: bool = False
    booted_at: float | None = None
    last_failure: str | None = None


@dataclass
class FleetStats:
    writer: FleetReportWriter
    started: float = field(default_factory=time.monotonic)
    chargers: dict[str, ChargerStatus] = field(default_factory=dict)
    launched: int = 0
    connected: int = 0
    booted: int = 0
    sent: int = 0
    received: int = 0
    call_errors: int = 0
    connect_failures: int = 0
    latencies: array[float] = field(default_factory=lambda: array("d"))
    last_boot: float | None = None
    extra_counts: Callable[[], dict[str, Any]] | None = None
    """More counts for every sample (``{group: {name: number}}``: the link factory's
    ``counts()``, :func:`~chargepoint.fleet.links.factory_counts`)."""

    def now(self) -> float:
        return round(time.monotonic() - self.started, 4)

    def add(self, cp: str) -> ChargerStatus:
        status = self.chargers[cp] = ChargerStatus(cp)
        return status

    def on_connected(self, status: ChargerStatus, url: str) -> None:
        status.connected = True
        self.connected += 1
        self.writer.event({"t": self.now(), "cp": status.cp, "event": "connected", "url": url})

    def on_disconnected(self, status: ChargerStatus, reason: str) -> None:
        if not status.connected:
            return
        status.connected = False
        self.connected -= 1
        self.writer.event(
            {
                "t": self.now(),
                "cp": status.cp,
                "event": "disconnected",
                "reason": reason[:MAX_REASON],
            }
        )

    def on_failed(self, status: ChargerStatus, reason: str) -> None:
        self.connect_failures += 1
        status.last_failure = reason[:MAX_REASON]
        self.writer.event(
            {"t": self.now(), "cp": status.cp, "event": "failed", "reason": status.last_failure}
        )

    def on_session(self, status: ChargerStatus, state: str) -> None:
        if state == "Accepted":
            t = self.now()
            if status.booted_at is None:
                status.booted_at = t
                self.booted += 1
                self.last_boot = t
            self.writer.event({"t": t, "cp": status.cp, "event": "booted"})
        elif state in ("Pending", "Rejected"):
            self.writer.event(
                {"t": self.now(), "cp": status.cp, "event": "rejected", "status": state}
            )

    @property
    def errors(self) -> int:
        return self.call_errors + self.connect_failures

    def sample(self) -> dict[str, Any]:
        record = {
            "t": self.now(),
            "started": self.launched,
            "connected": self.connected,
            "booted": self.booted,
            "sent": self.sent,
            "received": self.received,
            "errors": self.errors,
        }
        if self.extra_counts is not None:
            record.update(self.extra_counts())
        self.writer.sample(record)
        return record

    def failures(self) -> dict[str, int]:
        """Chargers that never booted, grouped by their last failure."""
        grouped = Counter(
            s.last_failure or "connected but not Accepted"
            for s in self.chargers.values()
            if s.booted_at is None
        )
        return dict(grouped.most_common())

    def latency_ms(self) -> dict[str, float | int]:
        values = sorted(self.latencies)
        if not values:
            return {"count": 0}

        def pct(p: float) -> float:
            return round(values[min(len(values) - 1, math.ceil(p * len(values)) - 1)] * 1000, 2)

        return {
            "count": len(values),
            "p50": pct(0.5),
            "p90": pct(0.9),
            "p99": pct(0.99),
            "max": round(values[-1] * 1000, 2),
        }


def _unique_id(frame: str) -> str | None:
    """The uniqueId of an OCPP-J frame, read without parsing the JSON (it is the first
    string, OCPP-J 1.6 §4.1.1); None for anything else."""
    start = frame.find('"')
    if start < 0:
        return None
    end = frame.find('"', start + 1)
    return frame[start + 1 : end] if 0 < end - start <= 37 else None


class MeteredConnection:
    __slots__ = ("_inner", "_pending", "_stats", "_status")

    def __init__(self, inner: Connection, stats: FleetStats, status: ChargerStatus) -> None:
        self._inner, self._stats, self._status = inner, stats, status
        self._pending: dict[str, float] = {}

    def _sending(self, message: str) -> None:
        if message.startswith("[2"):
            uid = _unique_id(message)
            if uid is not None and len(self._pending) < 64:
                self._pending[uid] = time.monotonic()

    async def send(self, message: str) -> None:
        self._sending(message)
        try:
            await self._inner.send(message)
        except LinkClosed as exc:
            self._stats.on_disconnected(self._status, str(exc))
            raise
        self._stats.sent += 1

    async def recv(self) -> str:
        try:
            message = await self._inner.recv()
        except LinkClosed as exc:
            self._stats.on_disconnected(self._status, str(exc))
            raise
        self._received(message)
        return message

    def _received(self, message: str) -> None:
        stats = self._stats
        stats.received += 1
        if message.startswith(("[3", "[4")):
            uid = _unique_id(message)
            sent = self._pending.pop(uid, None) if uid is not None else None
            if sent is not None:
                stats.latencies.append(time.monotonic() - sent)
            if message.startswith("[4"):
                stats.call_errors += 1

    async def close(self, code: int = 1000, reason: str = "") -> None:
        try:
            await self._inner.close(code, reason)
        finally:
            self._stats.on_disconnected(self._status, f"closed by the charger ({code})")


class MeteredPushConnection(MeteredConnection):
    """The same counting on a :class:`PushConnection`: it stands between the connection
    and the station's session as the connection's :class:`MessageSink`."""

    __slots__ = ("_sink",)

    def __init__(self, inner: PushConnection, stats: FleetStats, status: ChargerStatus) -> None:
        super().__init__(inner, stats, status)
        self._sink: MessageSink | None = None

    def deliver_to(self, sink: MessageSink) -> None:
        self._sink = sink
        cast(PushConnection, self._inner).deliver_to(self)

    def send_now(self, message: str) -> None:
        self._sending(message)
        try:
            cast(PushConnection, self._inner).send_now(message)
        except LinkClosed as exc:
            self._stats.on_disconnected(self._status, str(exc))
            raise
        self._stats.sent += 1

    def message_received(self, text: str) -> None:
        self._received(text)
        assert self._sink is not None
        self._sink.message_received(text)

    def link_closed(self, closed: LinkClosed) -> None:
        self._stats.on_disconnected(self._status, str(closed))
        assert self._sink is not None
        self._sink.link_closed(closed)


class MeteredLink(DelegatingLink):
    """A charger's link, counted in the fleet's :class:`FleetStats`."""

    def __init__(self, inner: Link, stats: FleetStats, status: ChargerStatus, url: str) -> None:
        super().__init__(inner)
        self._stats, self._status = stats, status
        self._url = _without_userinfo(url)

    async def connect(self) -> Connection:
        try:
            connection = await self.inner.connect()
        except LinkError as exc:
            reason = str(exc)
            prefix = self.inner.description + ": "
            cause = reason[len(prefix) :] if reason.startswith(prefix) else reason
            own = f"{self._url.rstrip('/')}/{self._status.cp}: "  # ESP-AT names it again
            cause = cause[len(own) :] if cause.startswith(own) else cause
            # the CSMS's base URL, not the charger's, and no measured seconds ("after
            # 0.1 s"): the summary groups chargers by CSMS and cause
            cause = _SECONDS.sub("… s", cause)
            self._stats.on_failed(self._status, sys.intern(f"{self._url[:100]}: {cause}"))
            raise
        self._stats.on_connected(self._status, self._url)
        if pushes(connection):
            return MeteredPushConnection(connection, self._stats, self._status)
        return MeteredConnection(connection, self._stats, self._status)


def _without_userinfo(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    return f"{scheme}{sep}{host.rpartition('@')[2]}{slash}{path}"


def rss_mib() -> float:
    """This process's resident set now (Linux /proc), in MiB."""
    try:
        with open(f"/proc/{os.getpid()}/statm") as file:
            pages = int(file.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / (1 << 20)
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
