"""What happens to the charger: the core's only input.

Each event is fed with the charger clock's ``now`` (``ChargerCore.handle(event,
now)``); the core answers with actions.  Events from the CSMS side arrive as
whole OCPP-J frames; the link's own events say when it comes and goes; the rest
is what a person, an EV or a scenario does at the charger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class Event:
    """Base of everything the core is fed."""


# --- the link ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkUp(Event):
    """A WebSocket to the CSMS is open; the SIM's identity, when the link has a modem."""

    iccid: str | None = None
    imsi: str | None = None


@dataclass(frozen=True)
class LinkDown(Event):
    reason: str = ""


@dataclass(frozen=True)
class TlsFailed(Event):
    """A connect failed in the TLS handshake for a reason the Security Whitepaper names:
    ``kind`` is that security event's spelling (``InvalidCentralSystemCertificate``,
    ``InvalidTLSVersion``, ``InvalidTLSCipherSuite``,
    ``FailedToAuthenticationAtCentralSystem``), ``tech_info`` what was wrong."""

    kind: str
    tech_info: str = ""


@dataclass(frozen=True)
class FrameReceived(Event):
    """One text message from the CSMS (a CALL, CALLRESULT or CALLERROR, or garbage)."""

    text: str


@dataclass(frozen=True)
class FrameTooLarge(Event):
    """A frame we sent could not be carried by the link (nothing was sent, the link is up)."""

    unique_id: str
    detail: str = ""


@dataclass(frozen=True)
class AnswerTimedOut(Event):
    unique_id: str


@dataclass(frozen=True)
class TimerFired(Event):
    name: str


# --- files over the link -----------------------------------------------------------------


@dataclass(frozen=True)
class TransferFinished(Event):
    """A ``StartTransfer`` ended: the whole file moved (``ok``), or why not (``detail``,
    one line, no password)."""

    transfer_id: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class InstallFinished(Event):
    """An ``InstallFirmware`` ended: the image checked out as ``version``, or why not."""

    transfer_id: str
    ok: bool
    version: str = ""
    detail: str = ""


@dataclass(frozen=True)
class SignatureChecked(Event):
    """A ``VerifyFirmwareSignature`` ended: the signature is good (``ok``), or why not."""

    transfer_id: str
    ok: bool
    detail: str = ""


# --- at the charger ---------------------------------------------------------------------


@dataclass(frozen=True)
class PlugIn(Event):
    connector: int


@dataclass(frozen=True)
class Unplug(Event):
    connector: int


@dataclass(frozen=True)
class PresentIdTag(Event):
    """A card at the reader; the decision comes back as ``Outcome(token, status)``."""

    connector: int
    id_tag: str
    token: str = ""


@dataclass(frozen=True)
class StopCharging(Event):
    """Someone ends the transaction at the charger (a button, or a scenario step)."""

    connector: int
    reason: str = "Local"


@dataclass(frozen=True)
class StartCharging(Event):
    """Start a transaction without asking anyone (a scenario's forced start)."""

    connector: int
    id_tag: str


@dataclass(frozen=True)
class EvSuspend(Event):
    """The charger suspends charging (SuspendedEVSE), or charging resumes (the EV's own
    pause ends too); ``power_w`` makes the connector's EV a fixed-power one drawing that."""

    connector: int
    suspended: bool
    power_w: float | None = None


@dataclass(frozen=True)
class SetEv(Event):
    """The EV at a connector changes (:mod:`.ev`): ``power_w`` makes it a fixed-power EV;
    a battery field (capacity, SoC in percent, max current per phase, phases) makes it a
    battery EV, the fields left out kept; ``paused`` is the EV's own pause (SuspendedEV)."""

    connector: int
    capacity_wh: float | None = None
    soc: float | None = None
    max_current_a: float | None = None
    phases: int | None = None
    power_w: float | None = None
    paused: bool | None = None


@dataclass(frozen=True)
class Fault(Event):
    connector: int
    error_code: str = "OtherError"


@dataclass(frozen=True)
class ClearFault(Event):
    connector: int


@dataclass(frozen=True)
class SetKey(Event):
    """A configuration value given at the charger (``--password``): kept like a
    ChangeConfiguration, but taken as given (the CSMS decides what it accepts)."""

    key: str
    value: str


@dataclass(frozen=True)
class UserCall(Event):
    """Send any CALL now (a scenario's ``send`` step); answered with ``Outcome(token, ...)``."""

    action: str
    payload: dict[str, Any]
    token: str
    unique_id: str | None = None
