"""The charger core: OCPP 1.6 charge-point behaviour as a sans-I/O state machine.

``ChargerCore.handle(event, now)`` takes one event (:mod:`.events`) at the charger
clock's ``now`` and returns what the shell must do (:mod:`.actions`), in order.
There is no asyncio, socket or wall clock in here: time is what the events say,
waiting is an ``ArmTimer``, a message is a ``Send``, and what must survive a
power loss is a ``Persist`` that the shell commits before any later send.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar

from ocpp.routing import create_route_map

from . import ocppj
from .actions import Action, Outcome, OutcomeError, SaveConfig
from .boot import SessionState
from .events import (
    AnswerTimedOut,
    ClearFault,
    Event,
    EvSuspend,
    Fault,
    FrameReceived,
    FrameTooLarge,
    InstallFinished,
    LinkDown,
    LinkUp,
    PlugIn,
    PresentIdTag,
    SetEv,
    SetKey,
    SignatureChecked,
    StartCharging,
    StopCharging,
    TimerFired,
    TlsFailed,
    TransferFinished,
    Unplug,
    UserCall,
)
from .local_auth import LocalAuthCalls
from .outbox import Outgoing
from .records import StoredState
from .reservations import ReservationCalls
from .security_calls import SecurityCalls
from .settings import CoreSettings, Identity
from .smart_charging import SmartChargingCalls

log = logging.getLogger("cpsim.core")


_CLASS_ROUTES: dict[type, dict[str, dict[str, Any]]] = {}


def class_routes(cls: type) -> dict[str, dict[str, Any]]:
    """ocpp's route map of a core class, built once per class: its ``@on``/``@after``
    functions, unbound.  Built per instance it cost every charger of a fleet ~8 KiB of
    bound methods and a ``dir()`` scan of the whole class at boot."""
    routes = _CLASS_ROUTES.get(cls)
    if routes is None:
        routes = _CLASS_ROUTES[cls] = create_route_map(cls)
    return routes


class ChargerCore(SecurityCalls, ReservationCalls, LocalAuthCalls, SmartChargingCalls):
    _dispatch: ClassVar[dict[type[Event], Callable[[ChargerCore, Any], object]]] = {
        # one table per class, of functions taking the core: built per instance, its
        # bound methods and closures cost every charger of a fleet ~3 KiB
        LinkUp: lambda core, e: core.link_up(e),
        LinkDown: lambda core, e: core.link_down(e),
        FrameReceived: lambda core, e: core._frame(e),
        FrameTooLarge: lambda core, e: core._too_large(e),
        AnswerTimedOut: lambda core, e: core.failed(e.unique_id, "timeout"),
        TimerFired: lambda core, e: core._timer(e),
        PlugIn: lambda core, e: core.plug_in(e.connector),
        Unplug: lambda core, e: core.unplug(e.connector),
        PresentIdTag: lambda core, e: core.present_id_tag(e.connector, e.id_tag, e.token),
        StopCharging: lambda core, e: core.stop_transaction(e.connector, e.reason),
        StartCharging: lambda core, e: core.start_transaction(e.connector, e.id_tag),
        EvSuspend: lambda core, e: core.suspend(e.connector, e.suspended, e.power_w),
        SetEv: lambda core, e: core.set_ev(
            e.connector, e.capacity_wh, e.soc, e.max_current_a, e.phases, e.power_w, e.paused
        ),
        Fault: lambda core, e: core.fault(e.connector, e.error_code),
        ClearFault: lambda core, e: core.clear_fault(e.connector),
        UserCall: lambda core, e: core._user_call(e),
        SetKey: lambda core, e: core.config.set_internal(e.key, e.value),
        TransferFinished: lambda core, e: core.transfer_finished(e),
        InstallFinished: lambda core, e: core.install_finished(e),
        SignatureChecked: lambda core, e: core.signature_checked(e),
        TlsFailed: lambda core, e: core.tls_failed(e),
    }

    def __init__(
        self, identity: Identity, settings: CoreSettings, stored: StoredState, now: float
    ) -> None:
        super().__init__(identity, settings, stored, now)
        self._routes = class_routes(type(self))
        for line in self.config.ignored:
            log.warning("%s: stored value ignored: %s", identity.charge_point_id, line)
        self.timeline(
            "started",
            transactionsOpen=len(stored.transactions),
            queued=len(stored.queue),
        )
        self._persist_config()

    def handle(self, event: Event, now: float) -> list[Action]:
        """Feed one event at charger time ``now``; returns the actions it causes, in order."""
        self.now = max(self.now, now)
        handler = self._dispatch.get(type(event))
        if handler is None:
            raise TypeError(f"the charger core takes no {type(event).__name__} event")
        handler(self, event)
        self._persist_config()
        self.pump()
        return self.take_actions()

    def _persist_config(self) -> None:
        changes, self.config.changes = self.config.changes, []
        for key, value in changes:
            self.emit(SaveConfig(key, value))
            self.timeline("config", key=key)  # never the value: it may be a secret
            self.config_changed(key)

    def _too_large(self, event: FrameTooLarge) -> None:
        flight = self.in_flight
        if flight is not None and flight.entry.unique_id == event.unique_id:
            self.failed(event.unique_id, "too large")
        else:  # our answer: tell the CSMS instead of leaving it waiting
            self._answer_error(
                event.unique_id, "InternalError", f"answer too large for the link: {event.detail}"
            )

    def _timer(self, event: TimerFired) -> None:
        if not self.session_timer(event.name) and not self.layer_timer(event.name):
            self.station_timer(event.name)

    def _frame(self, event: FrameReceived) -> None:
        try:
            frame = ocppj.parse(event.text)
        except ocppj.FrameError as exc:
            log.warning("not a valid OCPP-J frame from the CSMS: %s", exc)
            self.timeline("bad_frame", reason=str(exc))
            if exc.unique_id is not None:
                self._answer_error(exc.unique_id, exc.code, str(exc))
            return
        if frame.kind != ocppj.CALL:
            self.answered(frame)
        elif self.state is SessionState.REJECTED:
            # §4.2: while Rejected the charger answers nothing until the interval has passed
            log.info("boot Rejected: %s ignored until the boot interval has passed", frame.action)
            self.timeline("ignored", action=frame.action, uniqueId=frame.unique_id)
        else:
            self.timeline("received", action=frame.action, uniqueId=frame.unique_id)
            self.route_call(frame)

    def _user_call(self, event: UserCall) -> None:
        token = event.token
        if self.state in (SessionState.OFFLINE, SessionState.REJECTED):
            self.emit(Outcome(token, OutcomeError("link down", f"session {self.state.value}")))
            return
        entry = Outgoing(
            event.action,
            event.payload,
            when_pending=True,
            on_result=lambda payload: self.emit(Outcome(token, payload)),
            on_failure=lambda reason: self.emit(Outcome(token, OutcomeError(reason))),
        )
        if event.unique_id:
            entry.unique_id = event.unique_id
        self.outbox.urgent.append(entry)
