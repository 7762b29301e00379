"""The steps of a scenario: in YAML, a mapping with one key, the step kind.

``- send: ...`` reads like a sentence and lets editors complete the kind.  In
Python each kind is a wrapper model (:class:`SendStep`) whose single field
holds the spec (:class:`~.messages.Send`): ``step.kind`` is the key,
``step.spec`` the spec, and the runner dispatches on the spec's type.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BeforeValidator, Discriminator, PrivateAttr, Tag

from chargepoint.logmask import mask_data

from .connection import ExpectConnection
from .errors import Position, brief, flow, problem, suggest
from .events import (
    ClearFault,
    ConnectorEvent,
    EvChange,
    Fault,
    IdTag,
    LinkFault,
    LinkFaultKind,
    PresentTag,
    StartCharging,
    StopCharging,
    Suspend,
    Wait,
)
from .fields import (
    ConnectorId,
    ConnectorOrCharger,
    CPAction,
    CsmsAction,
    Duration,
    Model,
    Shorthand,
)
from .files import OfferFirmware
from .messages import (
    Actions,
    CsmsSpec,
    ExpectCall,
    ExpectNever,
    ExpectReceived,
    ExpectUnordered,
    Send,
)


class StepBase(Model):
    kind: ClassVar[str]
    _where: Position | None = PrivateAttr(None)

    @property
    def spec(self) -> Model:
        value: Model = getattr(self, self.kind)
        return value

    @property
    def where(self) -> Position | None:
        """Where the step is in its file (set by the loader), for reports."""
        return self._where

    def describe(self) -> str:
        """One line for a report: ``expect_received StatusNotification {status: Charging}``."""
        data = mask_data(self.spec.model_dump(mode="json", exclude_unset=True))
        short = next(
            (
                m.key
                for m in type(self).model_fields[self.kind].metadata
                if isinstance(m, Shorthand)
            ),
            None,
        )
        head = [self.kind]
        if short in data:
            head.append(flow(data.pop(short)))
        if data:
            head.append(flow(data))
        return " ".join(head)


class SendStep(StepBase):
    """The charger sends a call: `- send: Heartbeat` or `- send: {action: ..., payload: ...}`."""

    kind = "send"
    send: Annotated[Send, Shorthand("action", CPAction)]


class ExpectCallStep(StepBase):
    """Wait for a CSMS call at the charger, and answer it."""

    kind = "expect_call"
    expect_call: Annotated[ExpectCall, Shorthand("action", CsmsAction)]


class CsmsStep(StepBase):
    """Steer the local CSMS: make it send a call, or change how it answers."""

    kind = "csms"
    csms: CsmsSpec


class ExpectReceivedStep(StepBase):
    """The CSMS receives this message next (other messages in between are fine)."""

    kind = "expect_received"
    expect_received: Annotated[ExpectReceived, Shorthand("action", CPAction)]


class ExpectUnorderedStep(StepBase):
    """The CSMS receives all these messages, in any order."""

    kind = "expect_unordered"
    expect_unordered: Annotated[ExpectUnordered, Shorthand("messages", {"type": "array"})]


class ExpectNeverStep(StepBase):
    """The CSMS receives no such message."""

    kind = "expect_never"
    expect_never: Annotated[ExpectNever, Shorthand("action", Actions)]


class PlugInStep(StepBase):
    """An EV cable is plugged into the connector."""

    kind = "plug_in"
    plug_in: Annotated[ConnectorEvent, Shorthand("connector", ConnectorId)]


class UnplugStep(StepBase):
    """The EV cable is pulled out of the connector."""

    kind = "unplug"
    unplug: Annotated[ConnectorEvent, Shorthand("connector", ConnectorId)]


class PresentTagStep(StepBase):
    """An RFID card is presented: `- present_tag: TAG-1`."""

    kind = "present_tag"
    present_tag: Annotated[PresentTag, Shorthand("id_tag", IdTag)]


class StartChargingStep(StepBase):
    """The EV starts or resumes drawing power."""

    kind = "start_charging"
    start_charging: Annotated[StartCharging, Shorthand("connector", ConnectorId)]


class StopChargingStep(StepBase):
    """The transaction on the connector is stopped at the charger."""

    kind = "stop_charging"
    stop_charging: Annotated[StopCharging, Shorthand("connector", ConnectorId)]


class SuspendStep(StepBase):
    """Charging pauses (the EV or the charger suspends it)."""

    kind = "suspend"
    suspend: Annotated[Suspend, Shorthand("connector", ConnectorId)]


class SetEvStep(StepBase):
    """The EV at a connector: `- set_ev: {capacity_wh: 60000, soc: 20, phases: 3}`."""

    kind = "set_ev"
    set_ev: EvChange


class FaultStep(StepBase):
    """The connector (0: the whole charger) develops a fault."""

    kind = "fault"
    fault: Annotated[Fault, Shorthand("connector", ConnectorOrCharger)]


class ClearFaultStep(StepBase):
    """The fault on the connector clears."""

    kind = "clear_fault"
    clear_fault: Annotated[ClearFault, Shorthand("connector", ConnectorOrCharger)]


class WaitStep(StepBase):
    """Let time pass (`- wait: 5m`), or wait until something happens."""

    kind = "wait"
    wait: Annotated[Wait, Shorthand("seconds", Duration)]


class LinkFaultStep(StepBase):
    """Break the link: `- link_fault: drop_tcp`."""

    kind = "link_fault"
    link_fault: Annotated[LinkFault, Shorthand("kind", LinkFaultKind)]


class ExpectConnectionStep(StepBase):
    """What the local CSMS sees of the charger's connection: TLS, the client certificate."""

    kind = "expect_connection"
    expect_connection: ExpectConnection


class OfferFirmwareStep(StepBase):
    """The local CSMS offers a firmware image at ``local:firmware/<name>``."""

    kind = "offer_firmware"
    offer_firmware: OfferFirmware


STEP_TYPES: tuple[type[StepBase], ...] = (
    SendStep,
    ExpectCallStep,
    CsmsStep,
    ExpectReceivedStep,
    ExpectUnorderedStep,
    ExpectNeverStep,
    PlugInStep,
    UnplugStep,
    PresentTagStep,
    StartChargingStep,
    StopChargingStep,
    SuspendStep,
    SetEvStep,
    FaultStep,
    ClearFaultStep,
    WaitStep,
    LinkFaultStep,
    OfferFirmwareStep,
    ExpectConnectionStep,
)
STEP_KINDS: dict[str, type[StepBase]] = {t.kind: t for t in STEP_TYPES}


def _step_tag(value: Any) -> str | None:
    if isinstance(value, StepBase):
        return f"step:{value.kind}"
    if isinstance(value, dict) and len(value) == 1:
        return f"step:{next(iter(value))}"
    return None


def _step_shape(value: Any) -> Any:
    """Say what is wrong with a step before the union does; its errors name no step kind."""
    if isinstance(value, StepBase):
        return value
    kinds = ", ".join(STEP_KINDS)
    if isinstance(value, str) and value in STEP_KINDS:
        raise problem(f"{value} needs a value after a colon, like `- {value}: ...`")
    if not isinstance(value, dict) or not value:
        raise problem(
            f"expected a step: a mapping with one key, the step kind ({kinds}), "
            f"like `- wait: 5`; got {brief(value)}"
        )
    first, *rest = value
    if first not in STEP_KINDS:
        raise problem(
            f"unknown step {brief(first)}{suggest(first, STEP_KINDS)} (expected one of {kinds})",
            (first,),
            at_key=True,
        )
    if rest:
        raise problem(
            f"a step has one key, the step kind; {brief(rest[0])} is a second one "
            f"(indent it under {first}, or start a new step with '- ')",
            (rest[0],),
            at_key=True,
        )
    return value


Step = Annotated[
    Annotated[
        Annotated[SendStep, Tag("step:send")]
        | Annotated[ExpectCallStep, Tag("step:expect_call")]
        | Annotated[CsmsStep, Tag("step:csms")]
        | Annotated[ExpectReceivedStep, Tag("step:expect_received")]
        | Annotated[ExpectUnorderedStep, Tag("step:expect_unordered")]
        | Annotated[ExpectNeverStep, Tag("step:expect_never")]
        | Annotated[PlugInStep, Tag("step:plug_in")]
        | Annotated[UnplugStep, Tag("step:unplug")]
        | Annotated[PresentTagStep, Tag("step:present_tag")]
        | Annotated[StartChargingStep, Tag("step:start_charging")]
        | Annotated[StopChargingStep, Tag("step:stop_charging")]
        | Annotated[SuspendStep, Tag("step:suspend")]
        | Annotated[SetEvStep, Tag("step:set_ev")]
        | Annotated[FaultStep, Tag("step:fault")]
        | Annotated[ClearFaultStep, Tag("step:clear_fault")]
        | Annotated[WaitStep, Tag("step:wait")]
        | Annotated[LinkFaultStep, Tag("step:link_fault")]
        | Annotated[OfferFirmwareStep, Tag("step:offer_firmware")]
        | Annotated[ExpectConnectionStep, Tag("step:expect_connection")],
        Discriminator(_step_tag),
    ],
    BeforeValidator(_step_shape),
]
"""One step; the ``step:<kind>`` tags never match a YAML key, so the loader skips them."""
