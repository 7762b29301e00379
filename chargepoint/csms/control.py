"""The local CSMS's control API (``/api``, on its HTTP port; see :mod:`.httpside`).

Reading is GET, every state change is POST with a JSON body; every answer is JSON,
errors as ``{"error": <what to do>, "problem": <rule>, "field": <input>}``:

* ``GET /api/chargers``: the connected chargers (and those seen before);
* ``POST /api/call/<chargePointId>/<Action>`` ``{"payload": {...}, "timeout": 30}``: send a
  CSMS-initiated 1.6 call; 200 ``{"result": ...}``, 502 the charger's CALLERROR, 504 no
  answer in time, 409 the charger is not connected, 404 never seen, 400 a call the CSMS
  will not send (unknown action, payload off the 1.6 schema);
* ``GET /api/log?since=<seq>&charge_point=<id>``: the frame log (AuthorizationKey masked);
* ``GET /api/policy``, ``POST /api/policy`` ``{"boot_status": "Pending", "charge_point": id,
  "heartbeat_interval": s}``: how the CSMS answers BootNotification;
* ``GET /api/files``: the firmware on offer, the faults, the transfers served;
* ``POST /api/files/fault`` ``{"fault": "cut"|"slow"|"fail-once"|"none", "name": file,
  "rate": bytes/s}``: a fault for one firmware file, or for all.
"""

from __future__ import annotations

import decimal
import json
import logging
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from aiohttp import web
from jsonschema.exceptions import best_match
from ocpp.exceptions import OCPPError
from ocpp.messages import MessageType, get_validator

from chargepoint.logmask import mask_data
from chargepoint.payloads import CP_ACTIONS, CSMS_ACTIONS

from .apierror import ApiError, bad_input

if TYPE_CHECKING:
    from .server import LocalCsms

BOOT_STATUSES = ("Accepted", "Pending", "Rejected")
MAX_CALL_TIMEOUT = 600.0
MAX_BODY = 1024 * 1024
"""A control request's JSON body: far more than any 1.6 call needs."""
log = logging.getLogger("cpsim.csms")


class ControlApi:
    """The ``/api`` routes over one :class:`~.server.LocalCsms`."""

    def __init__(self, csms: LocalCsms) -> None:
        self.csms = csms

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api", self.index),
            web.get("/api/chargers", self.chargers),
            web.get("/api/log", self.frame_log),
            web.get("/api/policy", self.get_policy),
            web.post("/api/policy", self.set_policy),
            web.post("/api/call/{charge_point}/{action}", self.call),
            web.get("/api/files", self.files),
            web.post("/api/files/fault", self.file_fault),
        ]

    async def index(self, request: web.Request) -> web.Response:
        return _ok({"endpoints": [str(r.method) + " " + r.path for r in self.routes()]})

    async def chargers(self, request: web.Request) -> web.Response:
        csms = self.csms
        return _ok({"chargers": sorted(csms.sessions), "known": sorted(csms.answered)})

    async def frame_log(self, request: web.Request) -> web.Response:
        since = _int(request.query.get("since", "0"), "since", minimum=0)
        charge_point = request.query.get("charge_point")
        frames = [
            f.public_dict()
            for f in self.csms.frames.since(since)
            if charge_point in (None, f.charge_point)
        ]
        return _ok({"frames": frames})

    async def get_policy(self, request: web.Request) -> web.Response:
        return _ok(self._policy())

    async def set_policy(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        _only(body, {"boot_status", "charge_point", "heartbeat_interval"})
        policy = self.csms.policy
        status = body.get("boot_status")
        charge_point = body.get("charge_point")
        if charge_point is not None and not isinstance(charge_point, str):
            raise bad_input("charge_point", "must be a charge-point id (a string)")
        if status is not None and status not in BOOT_STATUSES:
            raise bad_input("boot_status", f"must be one of {', '.join(BOOT_STATUSES)}")
        interval = body.get("heartbeat_interval")
        if interval is not None and (
            not isinstance(interval, int) or isinstance(interval, bool) or interval < 0
        ):
            raise bad_input("heartbeat_interval", f"{interval!r} is not a whole number >= 0")
        if status is not None:
            if charge_point is not None:
                policy.boot_status_per_charger[charge_point] = status
            else:
                policy.boot_status = status
        if interval is not None:
            policy.heartbeat_interval = interval
        return _ok(self._policy())

    def _policy(self) -> dict[str, Any]:
        policy = self.csms.policy
        return {
            "boot_status": policy.boot_status,
            "per_charger": policy.boot_status_per_charger,
            "heartbeat_interval": policy.heartbeat_interval,
        }

    async def call(self, request: web.Request) -> web.Response:
        from .server import NotConnected

        charge_point = request.match_info["charge_point"]
        action = request.match_info["action"]
        body = await _json_body(request)
        _only(body, {"payload", "timeout"})
        payload = body.get("payload", {})
        if not isinstance(payload, dict):
            raise bad_input("payload", "must be a JSON object")
        timeout = body.get("timeout", 30)
        if (
            not isinstance(timeout, int | float)
            or isinstance(timeout, bool)
            or not 0 < timeout <= MAX_CALL_TIMEOUT
        ):
            raise bad_input("timeout", f"{timeout!r}: seconds, more than 0, at most 600")
        problem = invalid_call(action, payload)
        if problem is not None:
            field, message = problem
            raise bad_input(field, message)
        try:
            answer = await self.csms.call(charge_point, action, payload, float(timeout))
        except NotConnected:
            raise self._not_connected(charge_point) from None
        except OCPPError as exc:  # the charger's CALLERROR, or an answer off the schema
            return _callerror(exc)
        except TimeoutError:
            raise ApiError(
                HTTPStatus.GATEWAY_TIMEOUT,
                "no_answer",
                f"{charge_point} did not answer {action} within {timeout}s",
            ) from None
        except (TypeError, AttributeError) as exc:
            raise bad_input("payload", f"{action}: {exc}") from None
        return _ok({"result": mask_data(answer)})  # a GetConfiguration may list the key

    def _not_connected(self, charge_point: str) -> ApiError:
        if charge_point in self.csms.answered:
            return ApiError(
                HTTPStatus.CONFLICT,
                "not_connected",
                f"{charge_point} is not connected (it was; wait for it to reconnect)",
            )
        return ApiError(
            HTTPStatus.NOT_FOUND,
            "unknown_charger",
            f"{charge_point} is not connected: no charger of that id has connected to this CSMS",
        )

    async def files(self, request: web.Request) -> web.Response:
        csms = self.csms
        listing = csms.firmware.describe()
        for name, entry in listing["firmware"].items():
            entry["url"] = csms.firmware_url(name)
        listing["diagnostics_url"] = csms.diagnostics_url
        listing["uploads_dir"] = str(csms.uploads.directory) if csms.uploads.directory else None
        listing["transfers"] = [t.as_dict() for t in csms.transfers]
        return _ok(listing)

    async def file_fault(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        _only(body, {"fault", "name", "rate"})
        fault, name, rate = body.get("fault"), body.get("name"), body.get("rate")
        if not isinstance(fault, str):
            raise bad_input("fault", "give one of none, cut, slow, fail-once")
        if name is not None and name not in self.csms.firmware.files:
            raise bad_input("name", f"no firmware file {name!r} on offer")
        if rate is not None and (not isinstance(rate, int) or isinstance(rate, bool)):
            raise bad_input("rate", "bytes per second, a whole number")
        self.csms.firmware.set_fault(fault, name, rate)
        return await self.files(request)


def _number(value: object) -> float | int:
    """ocpp parses the decimals of some answers (GetCompositeSchedule's limits) as Decimal:
    back to a JSON number, exactly as the charger sent it when it is whole."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _dumps(body: object) -> str:
    return json.dumps(body, default=_number)


def _ok(body: dict[str, Any]) -> web.Response:
    return web.json_response(body, dumps=_dumps)


def _callerror(exc: OCPPError) -> web.Response:
    details = {
        key: value if _serialisable(value) else str(value)
        for key, value in (exc.details or {}).items()
        if key != "ocpp_message"  # ocpp's own copy of the frame: in the log already
    }
    code = getattr(exc, "code", type(exc).__name__)
    body = {
        "error": {"code": code, "description": exc.description, "details": mask_data(details)},
        "problem": "callerror",
    }
    return web.json_response(body, status=HTTPStatus.BAD_GATEWAY, dumps=_dumps)


async def _json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; 400 naming ``body`` for anything else (no body: ``{}``)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "too_large", f"body over {MAX_BODY} bytes"
        )
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise ApiError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "too_large", f"body over {MAX_BODY} bytes"
        )
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_input("body", f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise bad_input("body", "must be a JSON object")
    return body


def _only(body: dict[str, Any], known: set[str]) -> None:
    unknown = sorted(set(body) - known)
    if unknown:
        raise bad_input(unknown[0], f"unknown field (known: {', '.join(sorted(known))})")


def _int(text: str, field: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise bad_input(field, f"{text[:40]!r} is not a whole number") from None
    if value < minimum:
        raise bad_input(field, f"must be at least {minimum}")
    return value


def invalid_call(action: str, payload: dict[str, Any]) -> tuple[str, str] | None:
    """Why the CSMS must not send this call, as (field, reason): an unknown action, a
    payload off the 1.6 schema."""
    if action not in CSMS_ACTIONS:
        if action in CP_ACTIONS:
            return "action", f"{action} is sent by the charge point, not by the CSMS"
        return "action", f"{action!r} is not an OCPP 1.6 action a CSMS sends"
    try:
        # Decimal, as ocpp does for the schemas with multipleOf on floats.
        validator = get_validator(MessageType.Call, action, "1.6", parse_float=decimal.Decimal)
    except OSError:
        return "action", f"{action!r}: no OCPP 1.6 schema for it"
    instance = json.loads(json.dumps(payload), parse_float=decimal.Decimal)
    error = best_match(validator.iter_errors(instance))
    if error is None:
        return None
    where = "/".join(["payload", *(str(part) for part in error.absolute_path)])
    return where, f"not valid for OCPP 1.6: {error.message}"


def _serialisable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def describe_error(error: Any) -> str:
    """One line for the ``error`` of a control API answer (a string, or a CALLERROR dict)."""
    if isinstance(error, dict) and "code" in error:
        line = f"CALLERROR {error['code']}: {error.get('description') or ''}".rstrip(": ")
        details = error.get("details")
        return f"{line} {json.dumps(details)}" if details else line
    return str(error)
