"""The local CSMS's control API, on the WebSocket port itself.

websockets parses only GET requests, so every endpoint is a GET:

* ``/api/chargers``: ids of the connected chargers;
* ``/api/call/<chargePointId>/<Action>?payload=<JSON>&timeout=<s>``: send a CSMS-initiated
  1.6 call and return its result (200), CALLERROR (502), timeout (504), not connected (404),
  a call the CSMS will not send (unknown action, payload off the 1.6 schema: 400);
* ``/api/log?since=<seq>&charge_point=<id>``: the frame log;
* ``/api/policy?boot_status=Pending&charge_point=<id>&heartbeat_interval=<s>``: change
  how the CSMS answers BootNotification (for one charger or all).
"""

from __future__ import annotations

import decimal
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from jsonschema.exceptions import best_match
from ocpp.exceptions import OCPPError
from ocpp.messages import MessageType, get_validator
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from chargepoint.payloads import CP_ACTIONS, CSMS_ACTIONS

if TYPE_CHECKING:
    from .server import LocalCsms

BOOT_STATUSES = ("Accepted", "Pending", "Rejected")
log = logging.getLogger("cpsim.csms")


def _json(connection: ServerConnection, status: HTTPStatus, body: Any) -> Response:
    response = connection.respond(status, json.dumps(body) + "\n")
    response.headers["Content-Type"] = "application/json"
    return response


async def handle(csms: LocalCsms, connection: ServerConnection, request: Request) -> Response:
    """Every answer is JSON with an ``error`` naming the problem, never a bare HTTP 500."""
    try:
        return await _route(csms, connection, request)
    except ValueError as exc:  # a query value that is not a number
        return _json(connection, HTTPStatus.BAD_REQUEST, {"error": str(exc)})
    except Exception as exc:  # a bug here must still tell the client what happened
        log.exception("control API: %s failed", request.path)
        return _json(
            connection,
            HTTPStatus.INTERNAL_SERVER_ERROR,
            {"error": f"{request.path}: {type(exc).__name__}: {exc}"},
        )


async def _route(csms: LocalCsms, connection: ServerConnection, request: Request) -> Response:
    url = urllib.parse.urlsplit(request.path)
    query = dict(urllib.parse.parse_qsl(url.query))
    parts = [urllib.parse.unquote(p) for p in url.path.strip("/").split("/")]
    if parts == ["api", "chargers"]:
        return _json(connection, HTTPStatus.OK, {"chargers": sorted(csms.sessions)})
    if parts[:2] == ["api", "log"]:
        since = int(query.get("since", "0"))
        frames = [
            f.as_dict()
            for f in csms.frames.frames[since:]
            if query.get("charge_point") in (None, f.charge_point)
        ]
        return _json(connection, HTTPStatus.OK, {"frames": frames})
    if parts[:2] == ["api", "policy"]:
        return _policy(csms, connection, query)
    if len(parts) == 4 and parts[:2] == ["api", "call"]:
        return await _call(csms, connection, parts[2], parts[3], query)
    return _json(connection, HTTPStatus.NOT_FOUND, {"error": f"no endpoint {url.path}"})


def _policy(csms: LocalCsms, connection: ServerConnection, query: dict[str, str]) -> Response:
    status = query.get("boot_status")
    if status is not None:
        if status not in BOOT_STATUSES:
            return _json(
                connection,
                HTTPStatus.BAD_REQUEST,
                {"error": f"boot_status must be one of {', '.join(BOOT_STATUSES)}"},
            )
        if "charge_point" in query:
            csms.policy.boot_status_per_charger[query["charge_point"]] = status
        else:
            csms.policy.boot_status = status
    if "heartbeat_interval" in query:
        csms.policy.heartbeat_interval = int(query["heartbeat_interval"])
    return _json(
        connection,
        HTTPStatus.OK,
        {
            "boot_status": csms.policy.boot_status,
            "per_charger": csms.policy.boot_status_per_charger,
            "heartbeat_interval": csms.policy.heartbeat_interval,
        },
    )


async def _call(
    csms: LocalCsms,
    connection: ServerConnection,
    charge_point_id: str,
    action: str,
    query: dict[str, str],
) -> Response:
    from .server import NotConnected

    try:
        payload = json.loads(query.get("payload", "{}"))
        timeout = float(query.get("timeout", "30"))
    except ValueError as exc:
        return _json(connection, HTTPStatus.BAD_REQUEST, {"error": f"bad payload: {exc}"})
    if not isinstance(payload, dict):
        return _json(connection, HTTPStatus.BAD_REQUEST, {"error": "payload must be a JSON object"})
    problem = invalid_call(action, payload)
    if problem is not None:
        return _json(connection, HTTPStatus.BAD_REQUEST, {"error": problem})
    try:
        answer = await csms.call(charge_point_id, action, payload, timeout)
    except NotConnected as exc:
        return _json(connection, HTTPStatus.NOT_FOUND, {"error": str(exc)})
    except OCPPError as exc:  # the charger's CALLERROR, or an answer that breaks the schema
        details = {
            key: value if _serialisable(value) else str(value)
            for key, value in (exc.details or {}).items()
            if key != "ocpp_message"  # ocpp's own copy of the frame: in the log already
        }
        code = getattr(exc, "code", type(exc).__name__)
        return _json(
            connection,
            HTTPStatus.BAD_GATEWAY,
            {"error": {"code": code, "description": exc.description, "details": details}},
        )
    except TimeoutError:
        return _json(
            connection,
            HTTPStatus.GATEWAY_TIMEOUT,
            {"error": f"{charge_point_id} did not answer {action} within {timeout}s"},
        )
    except (TypeError, AttributeError) as exc:
        return _json(connection, HTTPStatus.BAD_REQUEST, {"error": f"{action}: {exc}"})
    return _json(connection, HTTPStatus.OK, {"result": answer})


def invalid_call(action: str, payload: dict[str, Any]) -> str | None:
    """Why the CSMS must not send this call: an unknown action, a payload off the 1.6 schema."""
    if action not in CSMS_ACTIONS:
        if action in CP_ACTIONS:
            return f"{action} is sent by the charge point, not by the CSMS"
        return f"{action!r} is not an OCPP 1.6 action a CSMS sends"
    try:
        # Decimal, as ocpp does for the schemas with multipleOf on floats.
        validator = get_validator(MessageType.Call, action, "1.6", parse_float=decimal.Decimal)
    except OSError:
        return f"{action!r}: no OCPP 1.6 schema for it"
    instance = json.loads(json.dumps(payload), parse_float=decimal.Decimal)
    error = best_match(validator.iter_errors(instance))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path)
    return f"payload not valid for OCPP 1.6: {where + ': ' if where else ''}{error.message}"


def _serialisable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def remote_call(
    api_url: str, charge_point_id: str, action: str, payload: dict[str, Any], timeout: float = 30
) -> tuple[int, dict[str, Any]]:
    """Client side of ``/api/call`` for ``cpsim csms call``: (HTTP status, body)."""
    query = urllib.parse.urlencode({"payload": json.dumps(payload), "timeout": timeout})
    path = f"/api/call/{urllib.parse.quote(charge_point_id)}/{urllib.parse.quote(action)}"
    url = api_url.rstrip("/") + path + "?" + query
    try:
        with urllib.request.urlopen(url, timeout=timeout + 5) as response:
            return response.status, _body(response.status, response.reason, response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, _body(exc.code, exc.reason, exc.read())


def _body(status: int, reason: str, raw: bytes) -> dict[str, Any]:
    """The JSON answer; something else (not this CSMS?) becomes an ``error`` naming it."""
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    text = raw.decode("utf-8", "replace").strip()[:200]
    return {"error": f"HTTP {status} {reason}: not a JSON answer: {text!r}"}


def describe_error(error: Any) -> str:
    """One line for the ``error`` of a control API answer (a string, or a CALLERROR dict)."""
    if isinstance(error, dict) and "code" in error:
        line = f"CALLERROR {error['code']}: {error.get('description') or ''}".rstrip(": ")
        details = error.get("details")
        return f"{line} {json.dumps(details)}" if details else line
    return str(error)
