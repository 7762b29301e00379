"""Drive the sans-I/O charger core by hand: feed events, read actions, move its clock.

No asyncio, no socket, no store on disk: ``MemoryStore`` keeps what the Persist
actions say (as the SQLite store does), so a test can "lose power" by building a
new core from it.  Time moves only when a test says so, timers firing in order.

The harness plays the CSMS's side of the wire: it records every frame the charger
sends with the harness time it was sent at, and it checks OCPP-J §4.1.1 on every
event: the charger never sends a CALL while one it sent is still unanswered (not
answered, not timed out, not lost with the link).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from chargepoint.core import ChargerCore, CoreSettings, Identity, StoredState
from chargepoint.core import actions as act
from chargepoint.core import events as ev
from chargepoint.core.records import (
    AuthEntry,
    MeterReading,
    QueuedMessage,
    ReservationRecord,
    StoredProfile,
    TransactionRecord,
)
from chargepoint.timefmt import format_epoch

T0 = 1_893_456_000.0  # 2030-01-01T00:00:00Z
TX_ACTIONS = ("StartTransaction", "MeterValues", "StopTransaction")
"""The transaction messages of §3.7 (periodic MeterValues: the only kind the core makes)."""


def iso(t: float) -> str:
    """The OCPP timestamp of harness time ``t`` (what the charger stamps with no offset)."""
    return format_epoch(t)


@dataclass
class MemoryStore:
    config: dict[str, str] = field(default_factory=dict)
    transactions: dict[int, TransactionRecord] = field(default_factory=dict)
    queue: dict[int, QueuedMessage] = field(default_factory=dict)
    registers: dict[int, MeterReading] = field(default_factory=dict)
    auth_entries: dict[str, AuthEntry] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    availability: dict[int, bool] = field(default_factory=dict)
    local_list: dict[str, AuthEntry] = field(default_factory=dict)
    local_list_version: int = 0
    profiles: dict[int, StoredProfile] = field(default_factory=dict)
    reservations: dict[int, ReservationRecord] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    security: dict[str, str] = field(default_factory=dict)

    @classmethod
    def with_cache(cls, statuses: dict[str, str]) -> MemoryStore:
        """A store whose Authorization Cache holds these idTag -> status entries."""
        return cls(auth_entries={tag: AuthEntry(status) for tag, status in statuses.items()})

    @property
    def auth(self) -> dict[str, str]:
        """The Authorization Cache as idTag -> status."""
        return {tag: entry.status for tag, entry in self.auth_entries.items()}

    def apply(self, action: act.Persist) -> None:
        match action:
            case act.SaveConfig(key, value):
                self.config[key] = value
            case act.SaveTransaction(record):
                self.transactions[record.local_id] = _copy(record)
            case act.DeleteTransaction(local_id):
                self.transactions.pop(local_id, None)
            case act.SaveRegister(cid, wh, ts):
                self.registers[cid] = MeterReading(wh, ts)
            case act.SaveQueued(message):
                self.queue[message.seq] = _copy(message)
            case act.DeleteQueued(seq):
                self.queue.pop(seq, None)
            case act.SaveAuth(tag, entry):
                self.auth_entries[tag] = _copy(entry)
            case act.DeleteAuth(tag):
                self.auth_entries.pop(tag, None)
            case act.ClearAuth():
                self.auth_entries.clear()
            case act.ReplaceLocalList(version, entries):
                self.local_list = {tag: _copy(e) for tag, e in entries.items()}
                self.local_list_version = version
            case act.UpdateLocalList(version, upserts, deletes):
                for tag in deletes:
                    self.local_list.pop(tag, None)
                self.local_list.update({tag: _copy(e) for tag, e in upserts.items()})
                self.local_list_version = version
            case act.SaveProfile(cid, profile):
                pid = int(profile["chargingProfileId"])
                self.profiles[pid] = StoredProfile(pid, cid, json.loads(json.dumps(profile)))
            case act.DeleteProfile(pid):
                self.profiles.pop(pid, None)
            case act.SaveReservation(record):
                self.reservations[record.reservation_id] = _copy(record)
            case act.DeleteReservation(rid):
                self.reservations.pop(rid, None)
            case act.SaveValue(name, value):
                self.values[name] = value
            case act.DeleteValue(name):
                self.values.pop(name, None)
            case act.SaveSecurityObject(name, value):
                self.security[name] = value
            case act.DeleteSecurityObject(name):
                self.security.pop(name, None)
            case act.SaveCounter(name, value):
                self.counters[name] = value
            case act.SaveAvailability(cid, operative):
                self.availability[cid] = operative
            case _:
                raise AssertionError(f"the store does not know {action!r}")

    def load(self) -> StoredState:
        return StoredState(
            config=dict(self.config),
            transactions=[_copy(t) for t in self.transactions.values()],
            queue=[_copy(self.queue[k]) for k in sorted(self.queue)],
            registers=dict(self.registers),
            auth_cache={tag: _copy(e) for tag, e in self.auth_entries.items()},
            counters=dict(self.counters),
            availability=dict(self.availability),
            local_list={tag: _copy(e) for tag, e in self.local_list.items()},
            local_list_version=self.local_list_version,
            charging_profiles=[
                StoredProfile(p.profile_id, p.connector_id, json.loads(json.dumps(p.profile)))
                for _, p in sorted(self.profiles.items())
            ],
            reservations=[_copy(r) for _, r in sorted(self.reservations.items())],
            values=dict(self.values),
            security=dict(self.security),
        )

    def queued(self) -> list[tuple[str, dict[str, Any]]]:
        """(action, payload) of every kept message, in queue order."""
        return [(self.queue[k].action, self.queue[k].payload) for k in sorted(self.queue)]


def _copy(record: Any) -> Any:
    """What the store gives back is a fresh object (as SQLite would), never the core's."""
    cls = type(record)
    data = dict(record.__dict__)
    if "payload" in data:
        data["payload"] = json.loads(json.dumps(data["payload"]))
    return cls(**data)


class Harness:
    def __init__(
        self,
        connectors: int = 1,
        config: dict[str, str] | None = None,
        store: MemoryStore | None = None,
        now: float = T0,
        **settings: Any,
    ) -> None:
        self.store = store or MemoryStore()
        self.now = now
        self.timers: dict[str, float] = {}
        self.sent: list[list[Any]] = []
        """Every frame the charger sent, parsed, in order."""
        self.sent_at: list[float] = []
        """The harness time each frame of ``sent`` was sent at."""
        self.log: list[act.Action] = []
        """Every action, in the order the core emitted them."""
        self.timeline: list[dict[str, Any]] = []
        self.outcomes: dict[str, Any] = {}
        self.closed: list[act.CloseLink] = []
        self.outstanding: str | None = None
        """The id of our CALL the CSMS has not answered (nor has it timed out)."""
        self.next_transaction_id = 101
        self._args = dict(connectors=connectors, config=config, **settings)
        settings.setdefault("auto_unplug_s", -1)
        self.core = ChargerCore(
            Identity("CP1", serial="SN-1"),
            CoreSettings(connectors=connectors, config_overrides=config or {}, **settings),
            self.store.load(),
            now,
        )
        self.absorb(self.core.take_actions())

    def power_loss(self, after: float = 0, **overrides: Any) -> Harness:
        """The charger loses power: a new core on the same store, ``after`` seconds later."""
        args = {**self._args, **overrides}
        return Harness(store=self.store, now=self.now + after, **args)

    # --- driving ----------------------------------------------------------------------

    def feed(self, event: ev.Event) -> None:
        self._settle(event)
        self.absorb(self.core.handle(event, self.now))

    def _settle(self, event: ev.Event) -> None:
        """What the event tells the CSMS's side: the call in flight is over."""
        if isinstance(event, ev.LinkDown):
            self.outstanding = None
        elif isinstance(event, ev.AnswerTimedOut | ev.FrameTooLarge):
            if event.unique_id == self.outstanding:
                self.outstanding = None
        elif isinstance(event, ev.FrameReceived):
            try:
                frame = json.loads(event.text)
            except (ValueError, RecursionError):
                return
            answer = isinstance(frame, list) and frame[:1] in ([3], [4]) and len(frame) > 1
            if answer and frame[1] == self.outstanding:
                self.outstanding = None

    def absorb(self, actions: list[act.Action]) -> None:
        for action in actions:
            self.log.append(action)
            if isinstance(action, act.Persist):
                self.store.apply(action)
            elif isinstance(action, act.Send):
                frame = json.loads(action.frame)
                if frame[0] == 2:
                    assert self.outstanding is None, (
                        f"{frame[2]} sent while {self.outstanding} is unanswered (OCPP-J §4.1.1)"
                    )
                    self.outstanding = frame[1]
                self.sent.append(frame)
                self.sent_at.append(self.now)
            elif isinstance(action, act.ArmTimer):
                self.timers[action.name] = action.at
            elif isinstance(action, act.CancelTimer):
                self.timers.pop(action.name, None)
            elif isinstance(action, act.Emit):
                self.timeline.append(action.as_dict())
            elif isinstance(action, act.Outcome):
                self.outcomes[action.token] = action.value
            elif isinstance(action, act.CloseLink):
                self.closed.append(action)

    def advance(self, seconds: float) -> None:
        """Move the clock, firing every timer due on the way at its own deadline."""
        end = self.now + seconds
        while True:
            due = [(at, name) for name, at in self.timers.items() if at <= end]
            if not due:
                break
            at, name = min(due)
            del self.timers[name]
            self.now = max(self.now, at)
            self.feed(ev.TimerFired(name))
        self.now = end

    # --- what the CSMS saw --------------------------------------------------------------

    def calls(self, *actions: str) -> list[list[Any]]:
        """The CALLs sent (of these actions, when given), in order."""
        return [f for f in self.sent if f[0] == 2 and (not actions or f[2] in actions)]

    def actions(self) -> list[str]:
        """The action of every CALL sent, in order."""
        return [f[2] for f in self.calls()]

    def sent_times(self, action: str) -> list[float]:
        return [
            t
            for f, t in zip(self.sent, self.sent_at, strict=True)
            if f[:1] == [2] and f[2] == action
        ]

    def last_call(self) -> list[Any]:
        return self.calls()[-1]

    def in_flight(self) -> list[Any] | None:
        """The CALL the CSMS has not answered yet, if any."""
        if self.outstanding is None:
            return None
        return next(f for f in reversed(self.calls()) if f[1] == self.outstanding)

    def _flight_id(self) -> str:
        assert self.outstanding is not None, "no CALL in flight"
        return self.outstanding

    def answer(self, payload: dict[str, Any]) -> None:
        """Answer the call in flight."""
        self.feed(ev.FrameReceived(json.dumps([3, self._flight_id(), payload])))

    def error(self, code: str = "InternalError") -> None:
        """Answer the call in flight with a CALLERROR."""
        self.feed(ev.FrameReceived(json.dumps([4, self._flight_id(), code, "", {}])))

    def time_out(self) -> None:
        """The call in flight got no answer within the response timeout."""
        self.feed(ev.AnswerTimedOut(self._flight_id()))

    def csms_call(self, action: str, payload: dict[str, Any], uid: str = "c1") -> list[Any]:
        """A CALL from the CSMS; returns the charger's answer frame."""
        before = len(self.sent)
        self.feed(ev.FrameReceived(json.dumps([2, uid, action, payload])))
        answers = [f for f in self.sent[before:] if f[0] in (3, 4) and f[1] == uid]
        assert answers, f"no answer to {action}"
        return answers[0]

    def boot(self, interval: int = 60, settle: bool = True) -> None:
        """Link up, BootNotification Accepted; with ``settle``, everything then answered."""
        self.feed(ev.LinkUp())
        flight = self.in_flight()
        assert flight is not None and flight[2] == "BootNotification"
        self.answer({"status": "Accepted", "currentTime": iso(self.now), "interval": interval})
        if settle:
            self.answer_all()

    def answer_all(self) -> None:
        """Answer whatever is in flight, and what follows, until nothing is."""
        for _ in range(1000):
            flight = self.in_flight()
            if flight is None:
                return
            self.answer(self.default_answer(flight[2]))
        raise AssertionError("the charger keeps sending")

    def answer_until(self, action: str) -> list[Any]:
        """Answer every call until one ``action`` is in flight; returns that CALL."""
        for _ in range(1000):
            flight = self.in_flight()
            assert flight is not None, f"nothing in flight, no {action} came"
            if flight[2] == action:
                return flight
            self.answer(self.default_answer(flight[2]))
        raise AssertionError("the charger keeps sending")

    def default_answer(self, action: str) -> dict[str, Any]:
        if action == "StartTransaction":
            self.next_transaction_id += 1
            return {
                "transactionId": self.next_transaction_id - 1,
                "idTagInfo": {"status": "Accepted"},
            }
        if action in ("Authorize", "StopTransaction"):
            return {"idTagInfo": {"status": "Accepted"}}
        if action == "Heartbeat":
            return {"currentTime": iso(self.now)}
        if action == "BootNotification":
            return {"status": "Accepted", "currentTime": iso(self.now), "interval": 60}
        if action == "DataTransfer":
            return {"status": "Accepted"}
        return {}

    def iso(self) -> str:
        return iso(self.now)

    def index(self, kind: type[act.Action], where: Any = None) -> int:
        """Position in ``log`` of the first action of ``kind`` for which ``where`` holds."""
        for i, action in enumerate(self.log):
            if isinstance(action, kind) and (where is None or where(action)):
                return i
        raise AssertionError(f"no such {kind.__name__} in the actions")
