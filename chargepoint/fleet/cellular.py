"""A cellular fleet: every charger's own emulated modem, in process, and its network.

``CellularFleet(kind, profile, seed)`` makes one :class:`~modem.emulator.inprocess.
InProcessModem` per charger (``--link ec200u|esp-at``), paced at its baud rate, and
runs the faults the :mod:`link profile <chargepoint.fleet.linkprofiles>` draws for
the whole fleet on ONE task (a heap of due times): PDP deactivations per charger,
and cell outages that take a share of the fleet off the network at once.  The
charger side is unchanged: :meth:`CellularFleet.link_spec` gives the
:class:`~chargepoint.assembly.LinkSpec` that :func:`~chargepoint.assembly.build_link`
builds the usual ``Ec200uLink`` / ``EspAtLink`` from, its port opened in memory.

``cpsim fleet --link ec200u|esp-at --profile P`` gets :func:`cellular_links` (registered
with :mod:`chargepoint.fleet.links`): a :class:`CellularLinks` whose links power their
modem off when they close and tell which fault ended a connection; it lets
:data:`CONNECT_SLOTS` connects run at once and counts the faults for the fleet's
samples and summary (``link_faults``: :meth:`FaultCounts.as_dict`).
Directly (in the fleet's event loop)::

    cellular = CellularFleet("ec200u", parse_link_profile("lte-weak"), seed=7)
    link = build_link(cellular.link_spec(i, charge_point_id, url), station)
    cellular.start_faults()      # time 0 of the profile; later chargers join it
    ...
    await cellular.aclose()
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from dataclasses import dataclass, field, replace
from typing import Literal

from chargepoint.assembly import LinkSpec, build_link
from chargepoint.fleet.ids import FleetUsageError
from chargepoint.fleet.linkprofiles import (
    ChargerLink,
    LinkProfile,
    Outage,
    draw_charger,
    next_pdp_gap,
    parse_link_profile,
    plan_outage,
)
from chargepoint.fleet.links import LinkContext, register_link_kind
from chargepoint.fleet.linkwrap import ReleasingLink
from chargepoint.station.shell import Station
from chargepoint.transport.base import Connection, Link
from chargepoint.transport.ec200u import ModemSettings
from chargepoint.transport.espat import EspAtSettings
from modem.emulator.config import EmulatorConfig, Timing
from modem.emulator.dialect import FaultError
from modem.emulator.inprocess import InProcessModem

log = logging.getLogger(__name__)

CellularKind = Literal["ec200u", "esp-at"]
APN = "internet"
WIFI_SSID, WIFI_PASSWORD = "cpsim-fleet", "cpsim-fleet-wifi"
"""The ESP-AT fleet's access point (the emulator accepts any; nothing secret)."""
NO_AP = "\x00cpsim-outage"
"""During an ESP-AT outage the module's access point is out of range: +CWJAP:3."""
SEND_COMMANDS = (b"AT+QISEND=", b"AT+WSSEND=")
CONNECT_SLOTS = 1024
"""Cellular connects at once (the fleet's ``connect_slots`` for these links), where a
direct link gets 64 (:data:`chargepoint.fleet.runner.MAX_CONNECTING`).  A cellular
``connect()`` is mostly the modem's bring-up (power-on, AT handshake at the baud
rate, registration, PDP context: ~1.5 s with ``lte-good``); the part that reaches the
CSMS's accept backlog, the TCP open, is a few ms of it.  So 1,024 bring-ups in flight
keep about 1024 x 5 ms / 1.5 s = 4 TCP opens in flight, far below a backlog of 100,
while 64 would cap a cellular fleet's boot at ~40 chargers a second.  The bound
stays so a large fleet's modems do not all start at once and slow every bring-up
past the drivers' AT timeouts.  ``--link-option connect-slots=N`` changes it."""


FaultKind = Literal["send_fail", "pdp", "outage"]


@dataclass
class FaultCounts:
    """What the link profile did to the fleet so far."""

    send_fails: int = 0
    pdp_deactivations: int = 0
    skipped: int = 0
    """Faults due while the charger had nothing to lose (no context, no connection)."""
    outages: list[Outage] = field(default_factory=list)
    """Outages started so far (their chargers lose the cell from ``start`` to ``end``)."""
    outage_chargers: int = 0
    """Chargers (with a powered modem) that lost the cell, summed over the outages."""
    cell_lost_now: int = 0
    """Chargers without the cell at this moment (in an outage)."""
    dropped: dict[str, int] = field(default_factory=lambda: {"send_fail": 0, "pdp": 0, "outage": 0})
    """Connections that ended after a fault of each kind hit them (the last fault a
    connection saw while up is the one its end is put on; a SEND FAIL the host got
    past, with a later SEND OK, is forgiven)."""

    def as_dict(self) -> dict[str, int | float]:
        """The counts of a fleet sample and summary (``link_faults``)."""
        return {
            "send_fails": self.send_fails,
            "pdp_deactivations": self.pdp_deactivations,
            "cell_outages": len(self.outages),
            "outage_chargers": self.outage_chargers,
            "cell_lost_now": self.cell_lost_now,
            "dropped_by_send_fail": self.dropped["send_fail"],
            "dropped_by_pdp": self.dropped["pdp"],
            "dropped_by_outage": self.dropped["outage"],
            "skipped": self.skipped,
        }


class CellularFleet:
    """The emulated modems of one fleet process and the network faults they see."""

    def __init__(
        self,
        kind: CellularKind,
        profile: LinkProfile,
        seed: int = 0,
        *,
        baud: int | None = 115200,
        timing: Timing | None = None,
    ) -> None:
        if kind not in ("ec200u", "esp-at"):
            raise ValueError(f"--link: {kind!r} is not a cellular link (ec200u or esp-at)")
        self.kind: CellularKind = kind
        self.profile = profile
        self.seed = seed
        self.baud = baud
        self.timing = timing or Timing()
        self.modems: dict[int, InProcessModem] = {}
        self.draws: dict[int, ChargerLink] = {}
        self.counts = FaultCounts()
        self._task: asyncio.Task[None] | None = None
        self._t0 = 0.0
        self._tapped: set[int] = set()
        self._up: set[int] = set()
        """Chargers whose link is connected (as far as their ``connect()`` calls tell)."""
        self._exposed: dict[int, FaultKind] = {}
        """The last fault that hit each connected charger."""
        self._lost: set[int] = set()
        """Chargers in an outage now."""
        self._due: list[tuple[float, int, str, int]] = []  # (t, tie-break, kind, key)
        self._order = itertools.count()
        self._woken = asyncio.Event()

    # -- building ---------------------------------------------------------------
    def modem(self, index: int, name: str) -> InProcessModem:
        """Charger ``index``'s modem (made on first use; powered on when its port opens)."""
        if index in self.modems:
            return self.modems[index]
        draw = draw_charger(self.profile, self.seed, index)
        config = EmulatorConfig(
            dialect=self.kind,
            baud=self.baud,
            latency_ms=draw.latency_ms,
            profile=self.profile.modem_profile if self.kind == "ec200u" else "ok",
            timing=self.timing,
        )
        modem = InProcessModem(config, name)
        self.modems[index] = modem
        self.draws[index] = draw
        if self._task is not None:
            self._schedule_pdp(index, self._elapsed())
        return modem

    def settings(self, index: int, name: str) -> ModemSettings | EspAtSettings:
        """The link settings of charger ``index`` (its port: ``inprocess://<name>``)."""
        modem = self.modem(index, name)
        baud = self.baud or 115200
        if self.kind == "ec200u":
            return ModemSettings(modem.url, baud=baud, apn=APN, open_port=self._opener(index))
        return EspAtSettings(
            modem.url, WIFI_SSID, WIFI_PASSWORD, baud=baud, open_port=self._opener(index)
        )

    def link_spec(self, index: int, charge_point_id: str, url: str) -> LinkSpec:
        """``build_link(cellular.link_spec(i, cp_id, url), station)`` gives the charger's link."""
        return LinkSpec(self.kind, url, modem=self.settings(index, charge_point_id))

    def _opener(self, index: int) -> InProcessOpener:
        return InProcessOpener(self, index)

    def _arm_send_failures(self, index: int, modem: InProcessModem) -> None:
        """Tap the wire: as a send command crosses it, draw whether it fails."""
        draw = self.draws[index]
        if draw.send_fail <= 0 or index in self._tapped:
            return

        def tap(data: bytes) -> None:
            sends = sum(data.count(command) for command in SEND_COMMANDS)
            for _ in range(sends):
                if draw.send_rng.random() < draw.send_fail:
                    modem.faults.send_fail(1)
                    self.counts.send_fails += 1
                    self._expose(index, "send_fail")

        def answered(data: bytes) -> None:
            if b"SEND OK" in data and self._exposed.get(index) == "send_fail":
                del self._exposed[index]  # the host got past it: not what ends the link

        modem.engine.tap_input(tap)  # the engine and the wire outlive reopened ports:
        modem.link.tap_output(answered)  # tap once
        self._tapped.add(index)

    # -- which fault ended a connection ------------------------------------------------
    def connecting(self, index: int) -> None:
        """Charger ``index`` connects (again): a connection it had is over; count what
        ended it."""
        kind = self._exposed.pop(index, None)
        if index in self._up:
            self._up.discard(index)
            if kind is not None:
                self.counts.dropped[kind] += 1

    def connected(self, index: int) -> None:
        self._up.add(index)
        self._exposed.pop(index, None)

    def _expose(self, index: int, kind: FaultKind) -> None:
        if index in self._up:
            self._exposed[index] = kind

    # -- the faults ---------------------------------------------------------------
    def start_faults(self) -> None:
        """Start the fleet's fault schedule on the running loop (its time 0 is now).

        Chargers added later get their PDP deactivations from when they are added.
        """
        if self._task is not None or not self._has_faults():
            return
        self._t0 = asyncio.get_running_loop().time()
        for index in sorted(self.modems):
            self._schedule_pdp(index, 0.0)
        if self.profile.outages.enabled:
            self._push(self.profile.outages.every, "outage", 0)
        self._task = asyncio.create_task(self._run_faults(), name="cellular-faults")

    def _has_faults(self) -> bool:
        return self.profile.pdp_per_hour > 0 or self.profile.outages.enabled

    def _push(self, t: float, kind: str, key: int) -> None:
        heapq.heappush(self._due, (t, next(self._order), kind, key))
        self._woken.set()

    def _schedule_pdp(self, index: int, after: float) -> None:
        gap = next_pdp_gap(self.profile, self.draws[index])
        if gap is not None:
            self._push(after + gap, "pdp", index)

    def _elapsed(self) -> float:
        return asyncio.get_running_loop().time() - self._t0

    async def _run_faults(self) -> None:
        ending: dict[int, Outage] = {}
        while True:
            if not self._due:
                self._woken.clear()
                await self._woken.wait()
                continue
            t, _, kind, key = self._due[0]
            wait = t - self._elapsed()
            if wait > 0:
                self._woken.clear()  # an earlier fault may be pushed meanwhile
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._woken.wait()
                continue
            heapq.heappop(self._due)
            if kind == "pdp":
                if key in self.modems:
                    self._pdp(key)
                    self._schedule_pdp(key, t)
            elif kind == "outage":
                outage = plan_outage(self.profile, self.seed, key, list(self.modems))
                self.counts.outages.append(outage)
                log.info(
                    "cell outage %d: %d charger(s) off the network for %g s",
                    key,
                    len(outage.chargers),
                    outage.end - outage.start,
                )
                for index in outage.chargers:
                    self._cell_lost(index)
                ending[key] = outage
                self._push(outage.end, "outage-end", key)
                self._push(t + self.profile.outages.every, "outage", key + 1)
            else:
                for index in ending.pop(key).chargers:
                    self._cell_back(index)

    def _started(self, index: int) -> InProcessModem | None:
        modem = self.modems.get(index)
        return modem if modem is not None and modem.running else None

    def _pdp(self, index: int) -> None:
        modem = self._started(index)
        if modem is None:
            self.counts.skipped += 1
            return
        try:
            if self.kind == "ec200u":
                modem.faults.pdp_deactivate(1)
            else:
                modem.faults.drop_tcp(None)
        except FaultError as exc:
            log.debug("charger %d: PDP deactivation skipped: %s", index, exc)
            self.counts.skipped += 1
            return
        self.counts.pdp_deactivations += 1
        self._expose(index, "pdp")

    def _cell_lost(self, index: int) -> None:
        modem = self._started(index)
        if modem is None:
            return
        self.counts.outage_chargers += 1
        self._lost.add(index)
        self.counts.cell_lost_now = len(self._lost)
        self._expose(index, "outage")
        if self.kind == "ec200u":
            modem.faults.profile("no-signal")  # registration lost: pdpdeact, sockets dead
            return
        dialect = modem.dialect
        # The access point is out of range: joins fail with +CWJAP:3 until it is back.
        dialect.config = replace(dialect.config, wifi_ssid=NO_AP)
        with contextlib.suppress(FaultError):
            modem.faults.wifi_drop()

    def _cell_back(self, index: int) -> None:
        self._lost.discard(index)
        self.counts.cell_lost_now = len(self._lost)
        modem = self._started(index)
        if modem is None:
            return
        if self.kind == "ec200u":
            modem.faults.profile(self.profile.modem_profile)
            return
        modem.dialect.config = modem.config  # the host's next AT+CWJAP joins again

    # -- the end ----------------------------------------------------------------
    async def release(self, index: int) -> None:
        """Charger ``index`` stopped: power its modem off; the last one stops the faults."""
        modem = self.modems.pop(index, None)
        self.draws.pop(index, None)
        self._tapped.discard(index)
        self._up.discard(index)
        self._exposed.pop(index, None)
        self._lost.discard(index)
        self.counts.cell_lost_now = len(self._lost)
        if modem is not None:
            await modem.aclose()
        if not self.modems:
            await self._stop_faults()

    async def _stop_faults(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def aclose(self) -> None:
        await self._stop_faults()
        await asyncio.gather(*(m.aclose() for m in self.modems.values()), return_exceptions=True)

    def wire_bytes(self) -> tuple[int, int]:
        """Bytes (to the hosts, from the hosts) over every modem's wire so far."""
        to_host = sum(m.link.sent_to_host for m in self.modems.values())
        from_host = sum(m.link.received_from_host for m in self.modems.values())
        return to_host, from_host


@dataclass(frozen=True)
class InProcessOpener:
    """``open_port`` for a charger's settings: powers its modem on and arms its send faults."""

    fleet: CellularFleet
    index: int

    async def __call__(
        self, url: str, baudrate: int = 115200, *, rtscts: bool = False
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        modem = self.fleet.modems[self.index]
        streams = await modem.open_port(url, baudrate, rtscts=rtscts)
        self.fleet._arm_send_failures(self.index, modem)
        return streams


LINK_OPTIONS = ("profile", "baud", "connect-slots")
"""``--link-option KEY=VALUE`` keys of the cellular kinds."""


def _baud(text: str) -> int | None:
    if text in ("0", "none"):
        return None
    if not text.isdigit() or not 300 <= int(text) <= 4_000_000:
        raise FleetUsageError(
            f"--link-option baud={text[:20]!r}: a whole number from 300 to 4000000, or 0 (unpaced)"
        )
    return int(text)


def _slots(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 100_000:
        raise FleetUsageError(
            f"--link-option connect-slots={text[:20]!r}: a whole number from 1 to 100000"
        )
    return int(text)


def cellular_links(context: LinkContext) -> CellularLinks:
    """The link factory of ``--link ec200u|esp-at``: every charger its own emulated modem.

    ``context.options``: ``profile`` (:func:`parse_link_profile`, default ``lte-good``),
    ``baud`` (default 115200), ``connect-slots`` (default :data:`CONNECT_SLOTS`).
    The fleet's seed seeds the profile's draws.
    """
    unknown = sorted(set(context.options) - set(LINK_OPTIONS))
    if unknown:
        raise FleetUsageError(
            f"--link-option {unknown[0]}: unknown for --link {context.kind}; "
            f"known: {', '.join(LINK_OPTIONS)}"
        )
    if context.kind not in ("ec200u", "esp-at"):
        raise FleetUsageError(f"--link {context.kind}: not a cellular kind")
    kind: CellularKind = "ec200u" if context.kind == "ec200u" else "esp-at"
    profile = parse_link_profile(context.options.get("profile", "lte-good"))
    baud = _baud(context.options.get("baud", "115200"))
    slots = _slots(context.options.get("connect-slots", str(CONNECT_SLOTS)))
    return CellularLinks(CellularFleet(kind, profile, context.seed, baud=baud), slots)


class CellularLinks:
    """A cellular fleet's link factory: ``links(station, index, url)``; ``connect_slots``,
    ``counts()`` (``link_faults``: :meth:`FaultCounts.as_dict`) and ``aclose()`` for the
    fleet (:mod:`chargepoint.fleet.links`); ``cellular`` for a report or a test."""

    def __init__(self, cellular: CellularFleet, connect_slots: int = CONNECT_SLOTS) -> None:
        self.cellular, self.connect_slots = cellular, connect_slots

    def __call__(self, station: Station, index: int, url: str) -> Link:
        fleet = self.cellular
        with contextlib.suppress(RuntimeError):  # no running loop: faults start later
            asyncio.get_running_loop()
            fleet.start_faults()
        spec = fleet.link_spec(index, station.identity.charge_point_id, url)
        return CellularChargerLink(build_link(spec, station), fleet, index)

    def counts(self) -> dict[str, dict[str, int | float]]:
        return {"link_faults": self.cellular.counts.as_dict()}

    async def aclose(self) -> None:
        await self.cellular.aclose()


class CellularChargerLink(ReleasingLink):
    """A charger's link over its emulated modem: powers the modem off when it closes,
    and tells the fleet when it connects, so a connection's end is put on the fault
    that caused it (:attr:`FaultCounts.dropped`)."""

    def __init__(self, inner: Link, fleet: CellularFleet, index: int) -> None:
        super().__init__(inner, lambda: fleet.release(index))
        self._fleet, self._index = fleet, index

    async def connect(self) -> Connection:
        self._fleet.connecting(self._index)
        connection = await self.inner.connect()
        self._fleet.connected(self._index)
        return connection


register_link_kind("ec200u", cellular_links)
register_link_kind("esp-at", cellular_links)
