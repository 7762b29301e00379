"""What a report shows of one charger, parsed from its logs (see :mod:`.parse`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

MessageKind = Literal["CALL", "RESULT", "ERROR"]


@dataclass(slots=True)
class SequenceMessage:
    """One OCPP-J message between the charger and the CSMS (one arrow of the diagram)."""

    time: datetime
    from_charger: bool
    kind: MessageKind
    action: str
    """The CALL's action; for a RESULT or ERROR, the action of the CALL it answers."""
    unique_id: str
    body: str = ""
    """The payload as compact JSON, secrets masked, cut to a readable length."""
    latency_s: float | None = None
    """For a RESULT or ERROR: seconds since its CALL on the same clock."""
    at_lines: list[AtTraceLine] = field(default_factory=list)
    """The AT trace lines that carried it (and those since the message before)."""
    at_more: int = 0
    """AT lines beyond the bound shown beneath one message (counted, not shown)."""


@dataclass(frozen=True, slots=True)
class AtTraceLine:
    """One line of an ``--at-log`` trace: ``>>`` host to modem, ``<<`` modem to host."""

    time: datetime
    direction: str
    text: str


@dataclass(frozen=True, slots=True)
class StatusChange:
    time: datetime
    connector: int
    status: str
    error_code: str = ""


@dataclass(frozen=True, slots=True)
class MeterSample:
    """A connector's meter at one time; a value the source does not have is None."""

    time: datetime
    connector: int
    power_w: float | None = None
    energy_wh: float | None = None
    soc: float | None = None
    current_a: float | None = None
    power_offered_w: float | None = None
    """Power.Offered: the limit the charger applies (OCPP 1.6 §7.31)."""
    current_offered_a: float | None = None
    """Current.Offered: the limit the charger signals to the EV (§7.31)."""


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """A CALL and its answer, timed on one clock: the sender's."""

    action: str
    from_charger: bool
    """Who sent the CALL (and timed it)."""
    seconds: float
    error: bool = False
    unique_id: str = ""


@dataclass
class ChargerRun:
    """Everything a report shows of one charger."""

    title: str
    charge_point: str = ""
    status: str = ""
    """A scenario's outcome (passed, failed, ...), when the run was a scenario."""
    reason: str = ""
    messages: list[SequenceMessage] = field(default_factory=list)
    diagram_clock: str = ""
    """Whose clock times the diagram: the CSMS's (frame log) or the charger's (timeline)."""
    messages_total: int = 0
    """How many messages there were (the diagram shows the first :data:`DIAGRAM_MAX`)."""
    statuses: list[StatusChange] = field(default_factory=list)
    meters: list[MeterSample] = field(default_factory=list)
    round_trips: list[RoundTrip] = field(default_factory=list)
    at_total: int = 0
    setup_at_lines: list[AtTraceLine] = field(default_factory=list)
    """AT lines before the first message: the modem's set-up (attach, PDP, socket)."""
    end: datetime | None = None
    """The last time any source has, so a connector's last state has an end."""
    link_up: datetime | None = None
    """When the timeline first says the link is up (AT lines before it are the set-up)."""
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What was left out, and why."""
