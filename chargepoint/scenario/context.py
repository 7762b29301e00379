"""What every kind of step works with: the run's context, and how a step fails.

A step that is not met raises :class:`StepFailed` with lines saying what was
expected and what came instead; :class:`ScenarioSkipped` means the setup
cannot check the scenario at all (not a failure).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from chargepoint.csms.framelog import Frame
from chargepoint.csms.server import LocalCsms
from chargepoint.logmask import Scrubber
from chargepoint.station import Station

from .errors import flow
from .linkfactory import LinkFaults
from .matchers import Fields
from .messages import ExpectNever
from .model import Scenario
from .observe import Observer
from .report import offset, span, written
from .security import RunSecurity
from .tap import Tap
from .timebase import TimeBase, judged


class StepFailed(Exception):
    """The step's expectation was not met; ``lines`` say what was expected and what came."""

    def __init__(self, *lines: str) -> None:
        super().__init__(lines[0] if lines else "failed")
        self.lines = list(lines)


class ScenarioSkipped(Exception):
    """The scenario cannot be checked in this setup (the reason says why); not a failure."""


def message_text(action: str, payload: Fields | None) -> str:
    return f"{action} {flow(payload.to_data())}" if payload and payload.fields else action


@dataclass
class Watch:
    """An ``expect_never`` without ``during``: checked again when the scenario ends."""

    index: int
    since: int
    spec: ExpectNever


@dataclass
class Context:
    scenario: Scenario
    station: Station
    time: TimeBase
    observer: Observer
    tap: Tap
    faults: LinkFaults
    csms: LocalCsms | None
    cursor: int = 0
    watches: list[Watch] = field(default_factory=list)
    began: datetime = field(default_factory=lambda: datetime.now(UTC))
    """The running step's start on the scenario's clock (the runner sets it)."""
    sent_after: float | None = None
    """Charger seconds from the step's start to when the charger sent what it matched."""
    scrub: Scrubber = field(default_factory=Scrubber)
    """The secrets met in the run, kept out of every line a step result shows."""
    security: RunSecurity = field(default_factory=RunSecurity)
    """The run's PKI and signing CA (``local:pki/`` payloads, ``expect_connection``)."""

    @property
    def charge_point(self) -> str:
        return self.station.identity.charge_point_id


class StepRunner:
    """Base of the step implementations: the context, and what their failures say."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def within(self, timeout: float) -> str:
        """``within 30s`` in charger time, and the real wait when the clock is scaled."""
        time = self.ctx.time
        real = f" (waited {time.window(timeout):.2f}s real)" if time.scale != 1 else ""
        return f"within {written(timeout)}{real}"

    def since_began(self, when: datetime) -> float:
        """Charger seconds from the step's start to ``when``, as timing checks judge them
        (to the millisecond: :func:`~.timebase.judged`)."""
        return judged((when - self.ctx.began).total_seconds())

    def span(self, charger_seconds: float) -> str:
        return span(charger_seconds, self.ctx.time.digits)

    def offset(self, charger_seconds: float) -> str:
        return offset(charger_seconds, self.ctx.time.digits)

    def timed(self, frames: list[Frame], within: float | None, what: str) -> None:
        """Note when the charger sent ``frames`` (the last of them), and fail the step when
        that is later than ``within`` (plus the time base's tolerance) after the step began.

        Judged at the charger's end of the link, so the link's latency does not count;
        a message sent at exactly ``within`` is in time.
        """
        sent = max(self.ctx.observer.at_charger(f) for f in frames)
        after = self.since_began(sent)
        self.ctx.sent_after = after
        tolerance = self.ctx.time.tolerance
        if within is not None and after > within + tolerance:
            allowed = f"; tolerance {self.span(tolerance)}" if tolerance else ""
            raise StepFailed(
                f"{what} arrived, but not within {written(within)}: the charger sent it "
                f"{self.span(after)} after this step began (charger time{allowed})"
            )

    def link_state(self) -> list[str]:
        """A line on the connection when it explains a failure (not connected, boot not done)."""
        station, tap = self.ctx.station, self.ctx.tap
        last = f" (last attempt: {tap.last_error})" if tap.last_error else ""
        if not station.connected:
            if tap.connections == 0:
                return [f"the charger never connected{last}"]
            return [f"the charger is not connected at the moment{last}"]
        state = station.session_state
        return [] if state == "Accepted" else [f"the charger's boot is {state}"]
