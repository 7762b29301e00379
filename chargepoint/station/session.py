"""One WebSocket session of the charger: boot, heartbeat, the transaction queue, and
the answer to every CSMS call, declared per action with ocpp's ``@on`` / ``@after``.

Follow-up requests (the triggered message, StartTransaction after a remote start)
run in ``@after`` handlers: ocpp handles CALLs inline in its receive loop, so a
handler awaiting a call of its own would block the very loop that reads the answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from ocpp.exceptions import OCPPError
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint
from ocpp.v16.enums import Action

from chargepoint.aio import wait_event
from chargepoint.payloads import call_for, result
from chargepoint.transport.base import Connection, LinkClosed, MessageTooLarge
from modem.at.trace import mask_text

from .boot import BootMachine
from .clock import parse_time
from .station import Offline, Station

log = logging.getLogger("cpsim.session")
ocpp_log = logging.getLogger("cpsim.ocpp")

# ocpp 2.1 sends the OCPP 2.0 spellings; OCPP-J 1.6 §4.2.3 spells these two differently.
_V16_ERROR_CODES = {
    "FormatViolation": "FormationViolation",
    "OccurrenceConstraintViolation": "OccurenceConstraintViolation",
}
TRIGGERABLE = {
    "BootNotification",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StatusNotification",
}


class ChargerSession(ChargePoint):
    def __init__(self, station: Station, connection: Connection, response_timeout: float = 30):
        super().__init__(station.identity.charge_point_id, connection, response_timeout)
        self.station = station
        self.boot = BootMachine(self)
        self.logger = logging.getLogger("ocpp.session")
        self.closing: str | None = None  # why the charger itself ends the session (Reset)

    @property
    def accepted(self) -> bool:
        return self.boot.state == "Accepted"

    # --- wire --------------------------------------------------------------------------

    async def _send(self, message: str) -> None:
        frame = self._fix_error_code(message)
        if ocpp_log.isEnabledFor(logging.INFO):  # masking costs time per message
            ocpp_log.info("%s -> %s", self.id, mask_text(frame))
        try:
            await self._connection.send(frame)
        except MessageTooLarge as exc:
            if not frame.startswith("[3,"):
                raise  # our own CALL: the caller's request fails, the link stays up
            # An answer the link cannot carry: tell the CSMS instead of leaving it waiting.
            unique_id = json.loads(frame)[1]
            log.error("answer to %s too large for the link: %s", unique_id, exc)
            error = [4, unique_id, "InternalError", f"answer too large for the link: {exc}", {}]
            await self._send(json.dumps(error))

    @staticmethod
    def _fix_error_code(message: str) -> str:
        if not message.startswith("[4,"):
            return message
        frame = json.loads(message)
        frame[2] = _V16_ERROR_CODES.get(frame[2], frame[2])
        return json.dumps(frame, separators=(",", ":"))

    async def start(self) -> None:
        while True:
            message = await self._connection.recv()
            if ocpp_log.isEnabledFor(logging.INFO):
                ocpp_log.info("%s <- %s", self.id, mask_text(message))
            self.boot.observe(message)
            if self.boot.silent and message.lstrip().startswith("[2"):
                log.info("boot Rejected: CALL ignored until the boot interval has passed")
                continue
            await self._route(message)

    async def _route(self, message: str) -> None:
        """ocpp drops frames that are not OCPP-J silently; answer them when the id is known."""
        try:
            frame = json.loads(message)
            valid = (
                isinstance(frame, list)
                and len(frame) >= 3
                and frame[0] in (2, 3, 4)
                and isinstance(frame[1], str)
            )
        except ValueError:
            frame, valid = None, False
        if not valid:
            log.warning("not an OCPP-J message from the CSMS: %.200s", message)
            if isinstance(frame, list) and len(frame) > 1 and isinstance(frame[1], str):
                await self._send(
                    json.dumps([4, frame[1], "ProtocolError", "not a valid OCPP-J message", {}])
                )
            elif frame is None and message.lstrip().startswith("["):
                log.warning("unparseable JSON; no message id to answer")
            return
        if frame[0] == 2 and (len(frame) != 4 or not isinstance(frame[3], dict)):
            await self._send(
                json.dumps(
                    [
                        4,
                        frame[1],
                        "FormationViolation",
                        "CALL must be [2, id, action, {payload}]",
                        {},
                    ]
                )
            )
            return
        await self.route_message(message)

    async def request(
        self, action: str, payload: dict[str, Any], unique_id: str | None = None
    ) -> dict[str, Any]:
        """A CALL with CALLERRORs raised (ocpp's default would return None for them)."""
        response = await self.call(call_for(action, payload), suppress=False, unique_id=unique_id)
        return result(response)

    # --- the session's own tasks ---------------------------------------------------------

    async def run(self) -> None:
        """Run until the link drops (LinkClosed) or the charger closes it (Reset, Ctrl+C)."""
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self.start(), name="ocpp-recv")
                group.create_task(self.boot.run(), name="boot")
        except* LinkClosed as eg:
            raise eg.exceptions[0] from None

    async def request_once(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """A non-transaction request: a CALLERROR or no answer is one log line, not a retry.

        OCPP 1.6 retries only transaction messages (§4.10); Heartbeat and
        StatusNotification are simply sent again at their next occasion.
        """
        try:
            return await self.request(action, payload)
        except (OCPPError, TimeoutError) as exc:
            log.warning("%s failed (%s); not retried", action, _one_line(exc))
            return None

    async def send_all_statuses(self) -> None:
        """After boot: every connector's status, as one snapshot taken before any is sent.

        A change while these go out is queued and delivered after them (the queue's
        sender starts only once they are done); a change queued between the Accepted
        and the snapshot is dropped, the snapshot reports it with a later timestamp.
        """
        station = self.station
        station.queue.drop_statuses()
        payloads = []
        for connector in station.connectors.values():
            station.reported[connector.id] = connector.status
            payloads.append(station.status_payload(connector))
        for payload in payloads:
            await self.request_once("StatusNotification", payload)

    async def heartbeat_loop(self) -> None:
        config = self.station.config
        changed = asyncio.Event()
        unsubscribe = config.on_change(
            lambda name: changed.set() if name == "HeartbeatInterval" else None
        )
        try:
            while True:
                changed.clear()
                interval = config.get_int("HeartbeatInterval")
                if await wait_event(changed, self.station.clock.real(interval)):
                    continue  # new interval: restart the wait
                try:
                    await self.send_heartbeat()
                except (OCPPError, TimeoutError) as exc:
                    log.warning("Heartbeat failed (%s); next one in %ss", _one_line(exc), interval)
        finally:
            unsubscribe()

    async def send_heartbeat(self) -> None:
        response = await self.request("Heartbeat", {})
        when = parse_time(str(response.get("currentTime", "")))
        if when is not None:
            self.station.clock.set(when)

    async def transaction_sender(self) -> None:
        """Deliver queued transaction messages in order; retry on CALLERROR or no answer (§4.10)."""
        queue, config = self.station.queue, self.station.config
        while True:
            await queue.wait()
            item = queue.head()
            if item is None:
                continue
            try:
                response = await self.request(item.action, item.payload)
            except (OCPPError, TimeoutError, MessageTooLarge) as exc:
                if item.volatile:
                    queue.done(item)
                    continue
                item.attempts += 1
                limit = config.get_int("TransactionMessageAttempts")
                if item.attempts >= limit:
                    log.error(
                        "%s dropped after %d attempts: %s",
                        item.action,
                        item.attempts,
                        _one_line(exc),
                    )
                    queue.done(item)
                    continue
                delay = config.get_int("TransactionMessageRetryInterval") * item.attempts
                log.warning(
                    "%s failed (%s); retry %d/%d in %ss",
                    item.action,
                    _one_line(exc),
                    item.attempts + 1,
                    limit,
                    delay,
                )
                await self.station.clock.sleep(delay)
                continue
            queue.done(item)
            if item.action == "StartTransaction":
                self._on_transaction_started(item.local_tx, response)

    def _on_transaction_started(self, local_tx: int, response: dict[str, Any]) -> None:
        transaction_id = int(response["transactionId"])
        self.station.queue.resolve(local_tx, transaction_id)
        status = response.get("idTagInfo", {}).get("status", "Accepted")
        for connector in self.station.connectors.values():
            tx = connector.transaction
            if tx is not None and tx.local_id == local_tx:
                tx.transaction_id = transaction_id
                if status != "Accepted" and self.station.config.get_bool(
                    "StopTransactionOnInvalidId"
                ):
                    self.station.stop_transaction(connector.id, "DeAuthorized")

    async def triggered(self, requested: str, connector_id: int | None) -> None:
        station = self.station
        if requested == "BootNotification":
            await self.boot.send_boot()
        elif requested == "Heartbeat":
            await self.send_heartbeat()
        elif requested == "StatusNotification":
            ids = [connector_id] if connector_id is not None else list(station.connectors)
            for cid in ids:
                status = station.status_payload(station.connectors[cid])
                if self.accepted:  # behind any change still queued: the CSMS sees them in order
                    station.queue.put("StatusNotification", status, volatile=True)
                else:  # Pending: nothing is queued, and the queue is not sent
                    await self.request("StatusNotification", status)
        elif requested == "MeterValues":
            ids = [connector_id] if connector_id else [c for c in station.connectors if c]
            for cid in ids:
                payload = station.meter_values_payload(station.connectors[cid], "Trigger")
                await self.request("MeterValues", payload)
        elif requested == "DiagnosticsStatusNotification":
            await self.request("DiagnosticsStatusNotification", {"status": "Idle"})
        elif requested == "FirmwareStatusNotification":
            await self.request("FirmwareStatusNotification", {"status": "Idle"})

    def _after(self, coro: Any, name: str) -> None:
        self.station.spawn(self._guard(coro), name)

    async def _guard(self, coro: Any) -> None:
        try:
            await coro
        except (Offline, LinkClosed, TimeoutError, OCPPError) as exc:
            log.warning("follow-up request failed: %s", exc)

    # --- CSMS-initiated calls ------------------------------------------------------------

    @on(Action.get_configuration)
    def on_get_configuration(self, key: list[str] | None = None, **_: Any) -> Any:
        known, unknown = self.station.config.report(key)
        return result_payload(
            "GetConfiguration", configurationKey=known, unknownKey=unknown or None
        )

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str, **_: Any) -> Any:
        status = self.station.config.set(key, value)
        return result_payload("ChangeConfiguration", status=status)

    @on(Action.trigger_message)
    def on_trigger_message(
        self, requested_message: str, connector_id: int | None = None, **_: Any
    ) -> Any:
        if requested_message not in TRIGGERABLE:
            return result_payload("TriggerMessage", status="NotImplemented")
        if connector_id is not None and connector_id not in self.station.connectors:
            return result_payload("TriggerMessage", status="Rejected")
        return result_payload("TriggerMessage", status="Accepted")

    @after(Action.trigger_message)
    def after_trigger_message(
        self, requested_message: str, connector_id: int | None = None, **_: Any
    ) -> None:
        if requested_message in TRIGGERABLE and (
            connector_id is None or connector_id in self.station.connectors
        ):
            self._after(self.triggered(requested_message, connector_id), "trigger")

    @on(Action.reset)
    def on_reset(self, type: str, **_: Any) -> Any:  # noqa: A002 - OCPP's field name
        return result_payload("Reset", status="Accepted")

    @after(Action.reset)
    def after_reset(self, type: str, **_: Any) -> None:  # noqa: A002
        reason = "HardReset" if type == "Hard" else "SoftReset"
        for connector in self.station.connectors.values():
            if connector.transaction is not None:
                self.station.stop_transaction(connector.id, reason)
        self._after(self.reboot(type), "reset")

    async def reboot(self, kind: str) -> None:
        # Give the queued StopTransactions a moment to go out before the link closes.
        for _ in range(50):
            if not len(self.station.queue):
                break
            await asyncio.sleep(0.1)
        self.closing = f"{kind} reset"
        await self._connection.close(1000, f"{kind} reset")

    @on(Action.change_availability)
    def on_change_availability(self, connector_id: int, type: str, **_: Any) -> Any:  # noqa: A002
        if connector_id not in self.station.connectors:
            return result_payload("ChangeAvailability", status="Rejected")
        status = self.station.change_availability(connector_id, type == "Operative")
        return result_payload("ChangeAvailability", status=status)

    @on(Action.unlock_connector)
    def on_unlock_connector(self, connector_id: int, **_: Any) -> Any:
        if connector_id == 0 or connector_id not in self.station.connectors:
            return result_payload("UnlockConnector", status="NotSupported")
        if self.station.connectors[connector_id].transaction is not None:
            self.station.stop_transaction(connector_id, "UnlockCommand")
        return result_payload("UnlockConnector", status="Unlocked")

    @on(Action.clear_cache)
    def on_clear_cache(self, **_: Any) -> Any:
        self.station.auth_cache.clear()
        return result_payload("ClearCache", status="Accepted")

    @on(Action.data_transfer)
    def on_data_transfer(
        self, vendor_id: str, message_id: str | None = None, data: str | None = None, **_: Any
    ) -> Any:
        if vendor_id in self.station.options.data_transfer_vendors:
            return result_payload("DataTransfer", status="Accepted", data=data)
        return result_payload("DataTransfer", status="UnknownVendorId")

    @on(Action.remote_start_transaction)
    def on_remote_start_transaction(
        self, id_tag: str, connector_id: int | None = None, **_: Any
    ) -> Any:
        target = self._remote_start_target(connector_id)
        return result_payload(
            "RemoteStartTransaction", status="Accepted" if target is not None else "Rejected"
        )

    def _remote_start_target(self, connector_id: int | None) -> int | None:
        if not self.accepted:
            return None  # Pending: the CSMS may not start transactions (§4.2)
        candidates = [connector_id] if connector_id else [c for c in self.station.connectors if c]
        for cid in candidates:
            connector = self.station.connectors.get(cid)
            if (
                connector is not None
                and cid != 0
                and connector.transaction is None
                and connector.operative
                and connector.error_code == "NoError"
                and self.station.connectors[0].operative
            ):
                return cid
        return None

    @after(Action.remote_start_transaction)
    def after_remote_start_transaction(
        self, id_tag: str, connector_id: int | None = None, **_: Any
    ) -> None:
        target = self._remote_start_target(connector_id)
        if target is not None:
            self._after(self._remote_start(target, id_tag), "remote-start")

    async def _remote_start(self, connector_id: int, id_tag: str) -> None:
        if self.station.config.get_bool("AuthorizeRemoteTxRequests"):
            status = await self.station.authorize(id_tag)
            if status != "Accepted":
                log.info("remote start for %s refused: Authorize %s", id_tag, status)
                return
        self.station.start_transaction(connector_id, id_tag)

    @on(Action.remote_stop_transaction)
    def on_remote_stop_transaction(self, transaction_id: int, **_: Any) -> Any:
        known = self.station.transaction_by_id(transaction_id) is not None
        return result_payload("RemoteStopTransaction", status="Accepted" if known else "Rejected")

    @after(Action.remote_stop_transaction)
    def after_remote_stop_transaction(self, transaction_id: int, **_: Any) -> None:
        tx = self.station.transaction_by_id(transaction_id)
        if tx is not None:
            self.station.stop_transaction(tx.connector_id, "Remote")


def _one_line(exc: BaseException) -> str:
    """ocpp's errors carry the whole frame; a log line wants the gist."""
    if isinstance(exc, OCPPError):
        return f"CALLERROR {getattr(exc, 'code', type(exc).__name__)}: {exc.description}"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return str(exc) or type(exc).__name__


def result_payload(action: str, **fields: Any) -> Any:
    from ocpp.v16 import call_result

    from chargepoint.payloads import to_snake

    cls = getattr(call_result, action)
    return cls(**{to_snake(k): v for k, v in fields.items() if v is not None})
