"""Between camelCase dicts (as on the wire and in scenarios) and ocpp's dataclasses."""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Final

from ocpp.charge_point import remove_nones, snake_to_camel_case
from ocpp.v16 import call

CP_ACTIONS: Final = (
    "Authorize",
    "BootNotification",
    "DataTransfer",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StartTransaction",
    "StatusNotification",
    "StopTransaction",
    # Security whitepaper (edition 3)
    "LogStatusNotification",
    "SecurityEventNotification",
    "SignCertificate",
    "SignedFirmwareStatusNotification",
)
"""Calls a charge point sends (and the CSMS answers)."""

CSMS_ACTIONS: Final = (
    "CancelReservation",
    "ChangeAvailability",
    "ChangeConfiguration",
    "ClearCache",
    "ClearChargingProfile",
    "DataTransfer",
    "GetCompositeSchedule",
    "GetConfiguration",
    "GetDiagnostics",
    "GetLocalListVersion",
    "RemoteStartTransaction",
    "RemoteStopTransaction",
    "ReserveNow",
    "Reset",
    "SendLocalList",
    "SetChargingProfile",
    "TriggerMessage",
    "UnlockConnector",
    "UpdateFirmware",
    # Security whitepaper (edition 3)
    "CertificateSigned",
    "DeleteCertificate",
    "ExtendedTriggerMessage",
    "GetInstalledCertificateIds",
    "GetLog",
    "InstallCertificate",
    "SignedUpdateFirmware",
)
"""Calls a CSMS sends (and the charge point answers)."""


def to_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def call_for(action: str, payload: dict[str, Any]) -> Any:
    """ocpp wants a dataclass; nested camelCase dicts pass through its conversion unchanged."""
    cls = getattr(call, action)
    return cls(**{to_snake(key): value for key, value in payload.items()})


def result(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = snake_to_camel_case(remove_nones(dataclasses.asdict(response)))
    return data
