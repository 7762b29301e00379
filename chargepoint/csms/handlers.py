"""The local CSMS's answer to every charge-point-initiated OCPP 1.6 message.

Valid, boring answers by default (Accepted, incrementing transaction ids);
the boot status and the idTags to refuse can be changed while it runs so
tests and scenarios can exercise the charger's Pending / Rejected / Invalid paths.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action


@dataclass
class CsmsPolicy:
    boot_status: str = "Accepted"
    heartbeat_interval: int = 300
    boot_status_per_charger: dict[str, str] = field(default_factory=dict)
    invalid_id_tags: set[str] = field(default_factory=lambda: {"INVALID", "BLOCKED"})
    transaction_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class CsmsSession(ChargePoint):
    def __init__(self, charge_point_id: str, connection: Any, policy: CsmsPolicy) -> None:
        super().__init__(charge_point_id, connection, response_timeout=30)
        self.policy = policy

    def _id_tag_info(self, id_tag: str) -> dict[str, str]:
        status = "Invalid" if id_tag.upper() in self.policy.invalid_id_tags else "Accepted"
        return {"status": status}

    @on(Action.boot_notification)
    def on_boot_notification(self, **_: Any) -> Any:
        status = self.policy.boot_status_per_charger.get(self.id, self.policy.boot_status)
        return call_result.BootNotification(current_time=_now(),
                                            interval=self.policy.heartbeat_interval, status=status)

    @on(Action.heartbeat)
    def on_heartbeat(self, **_: Any) -> Any:
        return call_result.Heartbeat(current_time=_now())

    @on(Action.authorize)
    def on_authorize(self, id_tag: str, **_: Any) -> Any:
        return call_result.Authorize(id_tag_info=self._id_tag_info(id_tag))

    @on(Action.start_transaction)
    def on_start_transaction(self, id_tag: str, **_: Any) -> Any:
        return call_result.StartTransaction(transaction_id=next(self.policy.transaction_ids),
                                            id_tag_info=self._id_tag_info(id_tag))

    @on(Action.stop_transaction)
    def on_stop_transaction(self, id_tag: str | None = None, **_: Any) -> Any:
        info = self._id_tag_info(id_tag) if id_tag else None
        return call_result.StopTransaction(id_tag_info=info)

    @on(Action.status_notification)
    def on_status_notification(self, **_: Any) -> Any:
        return call_result.StatusNotification()

    @on(Action.meter_values)
    def on_meter_values(self, **_: Any) -> Any:
        return call_result.MeterValues()

    @on(Action.data_transfer)
    def on_data_transfer(self, **_: Any) -> Any:
        return call_result.DataTransfer(status="UnknownVendorId")

    @on(Action.diagnostics_status_notification)
    def on_diagnostics_status_notification(self, **_: Any) -> Any:
        return call_result.DiagnosticsStatusNotification()

    @on(Action.firmware_status_notification)
    def on_firmware_status_notification(self, **_: Any) -> Any:
        return call_result.FirmwareStatusNotification()
