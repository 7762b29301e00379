"""Driving a running charger: the commands of ``cpsim run --control`` and
``--interactive``, checked with the scenario steps' own models.

A request is a JSON object: ``cmd`` (a scenario step's name: ``plug_in``,
``present_tag``, ``stop_charging``, ``set_ev``, ...; or ``send``, ``status``), the
step's own fields, and optionally an ``id`` (any JSON scalar) echoed in the answer::

    {"cmd": "plug_in", "connector": 1}             -> {"ok": true}
    {"cmd": "present_tag", "id_tag": "A", "id": 7}  -> {"id": 7, "ok": true, "status": "Accepted"}
    {"cmd": "send", "action": "DataTransfer", "payload": {"vendorId": "x"}}
                                                     -> {"ok": true, "result": {...}}
    anything wrong                                  -> {"ok": false, "error": "..."}

The commands are the station's own methods (what a person does at the charger, the
ones scenario steps call).  Parsing is pure (:func:`parse_request`: a line in, a
:class:`DriveRequest` or a :class:`DriveError` out); :mod:`.driveport` serves it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from chargepoint.scenario.events import (
    ClearFault,
    ConnectorEvent,
    EvChange,
    Fault,
    IdTag,
    PresentTag,
    StartCharging,
    StopCharging,
    Suspend,
)
from chargepoint.scenario.fields import ConnectorId, Model
from chargepoint.scenario.messages import CPAction, Payload

from .shell import CallFailed, Offline, Station

log = logging.getLogger("cpsim.drive")

MAX_LINE = 64 * 1024
"""Bytes in one request line (a ``send`` payload included)."""
ANSWER_WAIT = 60.0
"""Seconds a ``present_tag`` or ``send`` waits for the CSMS before it answers with an error."""


class DriveError(Exception):
    """A request that cannot be carried out; the text names the field and the rule."""


class SendNow(Model):
    """``send``: a charge-point CALL now (the scenario's ``send`` without its checks)."""

    action: CPAction
    payload: Payload = {}


class StartTransaction(Model):
    """``start_transaction``: a transaction without a card (a free-charging charger)."""

    id_tag: IdTag
    connector: ConnectorId = 1


class NoFields(Model):
    pass


COMMANDS: dict[str, type[Model]] = {
    "plug_in": ConnectorEvent,
    "unplug": ConnectorEvent,
    "present_tag": PresentTag,
    "start_transaction": StartTransaction,
    "start_charging": StartCharging,
    "stop_charging": StopCharging,
    "suspend": Suspend,
    "set_ev": EvChange,
    "fault": Fault,
    "clear_fault": ClearFault,
    "send": SendNow,
    "status": NoFields,
    "help": NoFields,
}
"""Each command and the model its fields are checked with: the scenario steps' own
(``present_tag: {connector: 1, id_tag: X}`` in a scenario is
``{"cmd": "present_tag", "connector": 1, "id_tag": "X"}`` here), so the two share one
vocabulary and one set of rules."""

ALIASES = {
    "plug": "plug_in",
    "tag": "present_tag",
    "start": "start_transaction",
    "stop": "stop_charging",
    "resume": "start_charging",
    "ev": "set_ev",
    "clear": "clear_fault",
}
"""Short names for typing."""


@dataclass(frozen=True)
class DriveRequest:
    cmd: str
    spec: Model
    request_id: Any = None


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


def parse_request(line: bytes) -> DriveRequest:
    """One request line; :class:`DriveError` naming what is wrong with it."""
    if len(line) > MAX_LINE:
        raise DriveError(f"a request line is at most {MAX_LINE} bytes")
    try:
        fields = json.loads(line)
    except (ValueError, RecursionError):
        raise DriveError('not a JSON object: send one per line, e.g. {"cmd": "status"}') from None
    if not isinstance(fields, dict):
        raise DriveError('not a JSON object: send one per line, e.g. {"cmd": "status"}')
    request_id = fields.pop("id", None)
    if isinstance(request_id, dict | list):
        raise DriveError("id: a string, a number or null")
    cmd = fields.pop("cmd", None)
    cmd = ALIASES.get(cmd, cmd) if isinstance(cmd, str) else cmd
    if cmd not in COMMANDS:
        raise DriveError(f"cmd: one of {', '.join(COMMANDS)}")
    try:
        spec = COMMANDS[cmd].model_validate(fields)
    except ValidationError as exc:
        raise DriveError(_first_problem(exc)) from None
    return DriveRequest(cmd, spec, request_id)


def status(station: Station) -> dict[str, Any]:
    """What the charger is doing (the ``status`` answer)."""
    connectors = {}
    for connector_id, connector in station.connectors.items():
        transaction = connector.transaction
        connectors[str(connector_id)] = {
            "status": connector.derived_status(),
            "transaction": None
            if transaction is None
            else {"id": transaction.transaction_id, "id_tag": transaction.id_tag},
        }
    return {
        "connected": station.connected,
        "online": station.online,
        "session": station.session_state,
        "queued": station.queued,
        "connectors": connectors,
    }


async def carry_out(station: Station, request: DriveRequest) -> dict[str, Any]:
    """Do what ``request`` asks; the answer's fields (``ok`` added by the caller)."""
    spec: Any = request.spec
    match request.cmd:
        case "plug_in":
            station.plug_in(spec.connector)
        case "unplug":
            station.unplug(spec.connector)
        case "present_tag":  # waits for the decision, so the answer can say it
            async with asyncio.timeout(ANSWER_WAIT):
                return {"status": await station.present_id_tag(spec.connector, spec.id_tag)}
        case "start_transaction":
            busy = station.connectors.get(spec.connector)
            if busy is not None and busy.transaction is not None:  # the core would ignore it
                raise DriveError(f"connector {spec.connector} already has a transaction")
            station.start_transaction(spec.connector, spec.id_tag)
        case "start_charging":
            _transaction(station, spec.connector)
            station.suspend(spec.connector, False, spec.power_w)
        case "stop_charging":
            _transaction(station, spec.connector)
            station.stop_transaction(spec.connector, spec.reason)
        case "suspend":
            _transaction(station, spec.connector)
            if spec.by == "ev":
                station.set_ev(spec.connector, paused=True)
            else:
                station.suspend(spec.connector, True)
        case "set_ev":
            fields = spec.model_dump(exclude={"connector"})
            station.set_ev(spec.connector, **fields)
        case "fault":
            station.fault(spec.connector, spec.error_code)
        case "clear_fault":
            station.clear_fault(spec.connector)
        case "send":
            async with asyncio.timeout(ANSWER_WAIT):
                return {"result": await station.request(spec.action, dict(spec.payload))}
        case "status":
            return status(station)
        case "help":
            return {"commands": list(COMMANDS), "aliases": ALIASES}
    return {}


def _transaction(station: Station, connector_id: int) -> None:
    """A usage error when the connector has no transaction to act on (as a step fails)."""
    connector = station.connectors.get(connector_id)
    if connector is not None and connector.transaction is None:
        raise DriveError(f"no transaction on connector {connector_id}")


async def answer(station: Station, line: bytes) -> dict[str, Any]:
    """The answer to one request line; never raises for what a client sends."""
    request_id = None
    try:
        request = parse_request(line)
        request_id = request.request_id
        reply = {"ok": True, **await carry_out(station, request)}
    except (DriveError, ValueError, Offline) as exc:  # ValueError: no such connector
        reply = {"ok": False, "error": str(exc)}
    except CallFailed as exc:
        reply = {"ok": False, "error": f"the CSMS answered with a CALLERROR: {exc}"}
    except TimeoutError:
        reply = {"ok": False, "error": f"no answer from the CSMS within {ANSWER_WAIT:.0f} s"}
    except Exception as exc:  # a bug must not take the control port (or the charger) down
        log.exception("control request failed")
        reply = {"ok": False, "error": f"internal error ({type(exc).__name__}); see the log"}
    return reply if request_id is None else {"id": request_id, **reply}
