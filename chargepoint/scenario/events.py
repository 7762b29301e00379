"""Steps that happen to the charger: a cable, a card, the EV, a fault, time, the link."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from pydantic import model_validator as validates

from .errors import problem
from .fields import ConnectorId, ConnectorOrCharger, Duration, Model, OneOf
from .ocpp_schema import CALL, enum_of

ErrorCode = Annotated[
    str,
    OneOf(
        tuple(c for c in enum_of(CALL, "StatusNotification", "errorCode") if c != "NoError"),
        "connector error code",
    ),
]
StopReason = Annotated[str, OneOf(enum_of(CALL, "StopTransaction", "reason"), "stop reason")]
IdTag = Annotated[str, Field(min_length=1, max_length=20)]
"""An OCPP IdToken: CiString20."""


class ConnectorEvent(Model):
    connector: ConnectorId = 1


class PresentTag(Model):
    """An RFID card at the reader: authorise, then start (or stop) a transaction."""

    id_tag: IdTag
    connector: ConnectorId = 1


class StartCharging(Model):
    """The EV starts (or resumes) drawing power."""

    connector: ConnectorId = 1
    power_w: float | None = Field(default=None, gt=0)
    """Left out: the charger's default power."""


class StopCharging(Model):
    """The transaction on the connector ends at the charger (StopTransaction)."""

    connector: ConnectorId = 1
    reason: StopReason = "Local"


SuspendedBy = Annotated[
    str,
    OneOf(
        ("evse",),
        "suspension",
        (
            (
                "ev",
                "(SuspendedEV) needs the EV to stop drawing power, which the station does not "
                "model yet; use by: evse (SuspendedEVSE)",
            ),
        ),
    ),
]
"""Who suspends charging: only the charger (``evse``) for now; ``ev`` is refused when the file
is loaded, since a run could not do it."""


class Suspend(Model):
    """Charging pauses: the charger stops offering power (SuspendedEVSE)."""

    connector: ConnectorId = 1
    by: SuspendedBy = "evse"


class Fault(Model):
    connector: ConnectorOrCharger = 1
    """0 faults the whole charger."""
    error_code: ErrorCode = "OtherError"
    info: str | None = Field(default=None, max_length=50)
    vendor_error_code: str | None = Field(default=None, max_length=50)


class ClearFault(Model):
    connector: ConnectorOrCharger = 1


# --- time and the link ---------------------------------------------------------------------

WaitEvent = Literal[
    "connected",
    "disconnected",
    "boot_accepted",
    "transaction_started",
    "transaction_stopped",
    "queue_empty",
]


class Wait(Model):
    """Let time pass, or wait for something to happen to the charger."""

    seconds: Duration | None = None
    until: WaitEvent | None = None
    connector: ConnectorId | None = None
    """With a transaction event: on this connector."""
    within: Duration | None = None
    """With ``until``: fail after this long."""

    @validates(mode="after")
    def _one(self) -> Wait:
        if (self.seconds is None) == (self.until is None):
            raise problem("give either seconds or until", ())
        if self.seconds is not None:
            for name in ("connector", "within"):
                if getattr(self, name) is not None:
                    raise problem(f"{name} goes with until, not seconds", (name,), at_key=True)
        return self


LinkFaultKind = Literal["drop_tcp", "pdp_deactivate", "wifi_disconnect", "modem_reboot"]


class LinkFault(Model):
    """Break the link under the charger (the modem emulator does it, or the direct link)."""

    kind: LinkFaultKind
    duration: Duration = 0
    """How long the network stays unusable afterwards (reconnects fail meanwhile)."""
