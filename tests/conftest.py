"""Fixtures shared by every test: a real local CSMS on a loopback port, and chargers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from chargepoint.assembly import ChargerSpec, LinkSpec, build_link, build_station
from chargepoint.core.settings import Identity
from chargepoint.csms.framelog import Frame
from chargepoint.csms.server import LocalCsms
from chargepoint.station import Station, StationOptions
from chargepoint.station.runner import Backoff, run_station
from chargepoint.transport.base import Link


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Any:
    """A command run in process (click's CliRunner) sets up logging for the whole process
    (``chargepoint.logs.setup``: the root's level and handlers): put it back after each
    test, so a later test's ``caplog`` sees what its code logs whatever ran before."""
    names = ("", "ocpp", "websockets", "cpsim.ocpp", "cpsim.runner")
    saved = {}
    for name in names:
        logger = logging.getLogger(name)
        saved[name] = (logger.level, logger.handlers[:], logger.propagate)
    yield
    for name, (level, handlers, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate = propagate


@pytest.fixture
async def csms(tmp_path: Path) -> AsyncIterator[LocalCsms]:
    async with LocalCsms(port=0, log_path=tmp_path / "csms.jsonl") as server:
        yield server


@dataclass
class RunningCharger:
    station: Station
    stop: asyncio.Event
    task: asyncio.Task[None]
    csms: LocalCsms
    link: Link
    """What ``build_link`` made of the test's LinkSpec (tests may look at its modem)."""

    @property
    def id(self) -> str:
        return self.station.identity.charge_point_id

    async def received(
        self,
        action: str,
        timeout: float = 10,
        where: Callable[[dict[str, Any]], bool] | None = None,
        after: int = 0,
    ) -> Frame:
        """The first CALL ``action`` the CSMS received (after seq ``after``) matching ``where``."""
        return await self.csms.frames.wait_for(
            lambda f: (
                f.direction == "received"
                and f.action == action
                and f.seq > after
                and f.charge_point == self.id
                and (where is None or where(f.payload))
            ),
            timeout,
        )

    async def answer_to(self, request: Frame, timeout: float = 10) -> Frame:
        """The CSMS's CALLRESULT/CALLERROR to a CALL the charger sent."""
        return await self.csms.frames.wait_for(
            lambda f: (
                f.direction == "sent"
                and f.message_type in (3, 4)
                and f.message[1] == request.message[1]
            ),
            timeout,
        )

    async def booted(self, timeout: float = 10) -> None:
        """Wait until boot is Accepted and every connector's status has reached the CSMS."""
        last = len(self.station.connectors) - 1
        await self.received("StatusNotification", timeout, lambda p: p["connectorId"] == last)

    async def call(self, action: str, payload: dict[str, Any], timeout: float = 10) -> Any:
        return await self.csms.call(self.id, action, payload, timeout)

    async def shutdown(self) -> None:
        self.stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self.task, 10)


@pytest.fixture
async def start_charger(csms: LocalCsms, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    running: list[RunningCharger] = []

    async def start(
        cp_id: str = "CP001",
        connectors: int = 1,
        flavour: Literal["websockets", "sansio"] = "websockets",
        link_spec: LinkSpec | None = None,
        password: str | None = None,
        state_dir: Path | None = None,
        **options: Any,
    ) -> RunningCharger:
        """A charger and its link built as ``cpsim run`` builds them (chargepoint.assembly).

        ``link_spec``: default a direct link of ``flavour`` to the local CSMS.
        ``password``: the charger's AuthorizationKey, like ``cpsim run --password``.
        """
        options.setdefault("auto_unplug_s", 0.2)
        station = build_station(
            ChargerSpec(
                Identity(cp_id, serial="SN-1"),
                StationOptions(
                    connectors=connectors, state_dir=state_dir or tmp_path / cp_id, **options
                ),
                password=password,
            )
        )
        # As cpsim run does: the key and the ping interval come from the station's configuration.
        link = build_link(link_spec or LinkSpec("direct", csms.url, flavour=flavour), station)
        stop = asyncio.Event()
        task = asyncio.create_task(run_station(station, link, stop, Backoff(0.2, 1.0)))
        charger = RunningCharger(station, stop, task, csms, link)
        running.append(charger)
        return charger

    yield start
    for charger in running:
        await charger.shutdown()
