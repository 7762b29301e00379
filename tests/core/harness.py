"""Drive the sans-I/O charger core by hand: feed events, read actions, move its clock.

No asyncio, no socket, no store on disk: ``MemoryStore`` keeps what the Persist
actions say (as the SQLite store does), so a test can "lose power" by building a
new core from it.  Time moves only when a test says so, timers firing in order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from chargepoint.core import ChargerCore, CoreSettings, Identity, StoredState
from chargepoint.core import actions as act
from chargepoint.core import events as ev
from chargepoint.core.records import MeterReading, QueuedMessage, TransactionRecord

T0 = 1_893_456_000.0  # 2030-01-01T00:00:00Z


@dataclass
class MemoryStore:
    config: dict[str, str] = field(default_factory=dict)
    transactions: dict[int, TransactionRecord] = field(default_factory=dict)
    queue: dict[int, QueuedMessage] = field(default_factory=dict)
    registers: dict[int, MeterReading] = field(default_factory=dict)
    auth: dict[str, str] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)

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
            case act.SaveAuth(tag, status):
                self.auth[tag] = status
            case act.ClearAuth():
                self.auth.clear()
            case act.SaveCounter(name, value):
                self.counters[name] = value

    def load(self) -> StoredState:
        return StoredState(
            config=dict(self.config),
            transactions=[_copy(t) for t in self.transactions.values()],
            queue=[_copy(self.queue[k]) for k in sorted(self.queue)],
            registers=dict(self.registers),
            auth_cache=dict(self.auth),
            counters=dict(self.counters),
        )


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
        self.timeline: list[dict[str, Any]] = []
        self.outcomes: dict[str, Any] = {}
        self.closed: list[act.CloseLink] = []
        settings.setdefault("auto_unplug_s", -1)
        self.core = ChargerCore(
            Identity("CP1", serial="SN-1"),
            CoreSettings(connectors=connectors, config_overrides=config or {}, **settings),
            self.store.load(),
            now,
        )
        self.absorb(self.core.take_actions())

    # --- driving ----------------------------------------------------------------------

    def feed(self, event: ev.Event) -> None:
        self.absorb(self.core.handle(event, self.now))

    def absorb(self, actions: list[act.Action]) -> None:
        for action in actions:
            if isinstance(action, act.Persist):
                self.store.apply(action)
            elif isinstance(action, act.Send):
                self.sent.append(json.loads(action.frame))
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

    # --- the CSMS side ----------------------------------------------------------------

    def calls(self, action: str | None = None) -> list[list[Any]]:
        return [f for f in self.sent if f[0] == 2 and (action is None or f[2] == action)]

    def last_call(self) -> list[Any]:
        return self.calls()[-1]

    def answer(self, payload: dict[str, Any]) -> None:
        """Answer the call in flight (the last CALL sent)."""
        self.feed(ev.FrameReceived(json.dumps([3, self.last_call()[1], payload])))

    def error(self, code: str = "InternalError") -> None:
        self.feed(ev.FrameReceived(json.dumps([4, self.last_call()[1], code, "", {}])))

    def csms_call(self, action: str, payload: dict[str, Any], uid: str = "c1") -> list[Any]:
        """A CALL from the CSMS; returns the charger's answer frame."""
        before = len(self.sent)
        self.feed(ev.FrameReceived(json.dumps([2, uid, action, payload])))
        answers = [f for f in self.sent[before:] if f[0] in (3, 4) and f[1] == uid]
        assert answers, f"no answer to {action}"
        return answers[0]

    def boot(self, interval: int = 60) -> None:
        """Link up, BootNotification Accepted, every status answered."""
        self.feed(ev.LinkUp())
        assert self.last_call()[2] == "BootNotification"
        self.answer({"status": "Accepted", "currentTime": self.iso(), "interval": interval})
        self.answer_all()

    def answer_all(self) -> None:
        """Answer whatever is in flight, and what follows, until nothing is."""
        while self.core.in_flight is not None:
            action = self.last_call()[2]
            self.answer(default_answer(action, self))

    def iso(self) -> str:
        from chargepoint.timefmt import format_epoch

        return format_epoch(self.now)


_next_tx = [100]


def default_answer(action: str, h: Harness) -> dict[str, Any]:
    if action == "StartTransaction":
        _next_tx[0] += 1
        return {"transactionId": _next_tx[0], "idTagInfo": {"status": "Accepted"}}
    if action in ("Authorize", "StopTransaction"):
        return {"idTagInfo": {"status": "Accepted"}}
    if action == "Heartbeat":
        return {"currentTime": h.iso()}
    if action == "BootNotification":
        return {"status": "Accepted", "currentTime": h.iso(), "interval": 60}
    if action == "DataTransfer":
        return {"status": "Accepted"}
    return {}
