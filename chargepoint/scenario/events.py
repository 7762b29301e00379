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


SuspendedBy = Annotated[str, OneOf(("evse", "ev"), "suspension")]
"""Who suspends charging: the charger (``evse``: SuspendedEVSE) or the EV itself (``ev``:
it stops drawing power, SuspendedEV, until a ``start_charging``)."""


class Suspend(Model):
    """Charging pauses: the charger stops offering power (SuspendedEVSE), or the EV stops
    drawing it (SuspendedEV)."""

    connector: ConnectorId = 1
    by: SuspendedBy = "evse"


class EvChange(Model):
    """The EV at a connector: a battery EV (capacity, state of charge, max current per phase,
    phases; the fields left out are kept, or defaulted: 60 kWh, 20 %, 16 A, 3 phases) or a
    fixed-power one (``power_w``).  Its demand tapers from 80 % SoC; full, it stops drawing."""

    connector: ConnectorId = 1
    capacity_wh: float | None = Field(default=None, gt=0, le=1_000_000)
    soc: float | None = Field(default=None, ge=0, le=100)
    """State of charge, percent."""
    max_current_a: float | None = Field(default=None, gt=0, le=1000)
    """Per phase: the EV's on-board charger."""
    phases: Literal[1, 2, 3] | None = None
    power_w: float | None = Field(default=None, gt=0, le=1_000_000)
    """A fixed-power EV drawing this whenever it may (no battery)."""
    paused: bool | None = None
    """The EV pauses by itself (SuspendedEV) or resumes."""

    @validates(mode="after")
    def _one_kind(self) -> EvChange:
        battery = [
            name
            for name in ("capacity_wh", "soc", "max_current_a", "phases")
            if getattr(self, name) is not None
        ]
        if self.power_w is not None and battery:
            raise problem(
                f"an EV has a fixed power_w or a battery, not both ({battery[0]} given too)",
                (battery[0],),
                at_key=True,
            )
        if self.power_w is None and not battery and self.paused is None:
            raise problem(
                "say what the EV is: capacity_wh, soc, max_current_a, phases, power_w or paused", ()
            )
        return self


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
