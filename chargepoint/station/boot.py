"""BootNotification and what its answer allows (OCPP 1.6 §4.2).

Accepted: adopt interval and time, report every connector, start heartbeats and
the transaction queue.  Pending: wait, send only what a TriggerMessage asks for.
Rejected: send nothing and answer nothing until the interval has passed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

from ocpp.exceptions import OCPPError

from chargepoint.aio import wait_event

from .clock import parse_time

if TYPE_CHECKING:
    from .session import ChargerSession

log = logging.getLogger("cpsim.boot")

DEFAULT_RETRY_S = 30  # "interval 0 means the charger chooses"
NO_ANSWER_RETRY_S = 10


class BootMachine:
    def __init__(self, session: ChargerSession) -> None:
        self.session = session
        self.state = "Unknown"  # Unknown | Pending | Rejected | Accepted
        self.silent = False
        self.retry_after = float(DEFAULT_RETRY_S)
        self._changed = asyncio.Event()
        self._pending_id: str | None = None

    def boot_payload(self) -> dict[str, Any]:
        ident = self.session.station.identity
        payload: dict[str, Any] = {
            "chargePointVendor": ident.vendor,
            "chargePointModel": ident.model,
            "firmwareVersion": ident.firmware,
        }
        optional = {
            "chargePointSerialNumber": ident.serial,
            "iccid": ident.iccid,
            "imsi": ident.imsi,
        }
        payload.update({key: value for key, value in optional.items() if value})
        return payload

    def observe(self, message: str) -> None:
        """Go silent the moment a Rejected answer arrives, before the next frame is read.

        The boot task would see the answer only after the receive loop had already
        read (and answered) a CALL that the CSMS sent right behind it.
        """
        if self._pending_id is None or self._pending_id not in message:
            return
        try:
            frame = json.loads(message)
        except ValueError:
            return
        if (
            isinstance(frame, list)
            and len(frame) == 3
            and frame[0] == 3
            and frame[1] == self._pending_id
            and isinstance(frame[2], dict)
            and frame[2].get("status") == "Rejected"
        ):
            self.silent = True

    async def send_boot(self) -> None:
        self._pending_id = str(uuid.uuid4())
        try:
            response = await self.session.request(
                "BootNotification", self.boot_payload(), unique_id=self._pending_id
            )
        finally:
            self._pending_id = None
        status = response["status"]
        interval = int(response.get("interval", 0))
        station = self.session.station
        when = parse_time(str(response.get("currentTime", "")))
        if when is not None:
            station.clock.set(when)
        was_accepted = self.state == "Accepted"
        self.state = status
        log.info("BootNotification %s (interval %ss)", status, interval)
        if status == "Accepted":
            if interval > 0:
                station.config.set_internal("HeartbeatInterval", str(interval))
        else:
            self.retry_after = float(interval or DEFAULT_RETRY_S)
            self.silent = status == "Rejected"
        if not was_accepted:
            self._changed.set()

    async def run(self) -> None:
        """Boot until Accepted, then run the Accepted-only tasks for the rest of the session."""
        clock = self.session.station.clock
        while self.state != "Accepted":
            try:
                await self.send_boot()
            except (OCPPError, TimeoutError) as exc:
                log.warning("BootNotification failed (%s); retrying in %ss", exc, NO_ANSWER_RETRY_S)
                await clock.sleep(NO_ANSWER_RETRY_S)
                continue
            if self.state == "Accepted":
                break
            self._changed.clear()
            # A TriggerMessage(BootNotification) may get us Accepted earlier.
            await wait_event(self._changed, clock.real(self.retry_after))
            self.silent = False
        await self._accepted()

    async def _accepted(self) -> None:
        session = self.session
        await session.send_all_statuses()
        async with asyncio.TaskGroup() as group:
            group.create_task(session.heartbeat_loop(), name="heartbeat")
            group.create_task(session.transaction_sender(), name="tx-queue")
