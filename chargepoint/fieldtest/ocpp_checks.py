"""The last two checks: the WebSocket upgrade (ocpp1.6, Basic auth) and one
BootNotification round trip, over whatever byte stream the modem opened.

They reuse the charger's own :class:`WebSocketOverStream`, so a pass here means
the charger's code gets through, not just some other client.  The CSMS's
answer is validated against the OCPP 1.6 schema, because a CSMS that answers
wrongly stops a charger as surely as one that does not answer.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Sequence
from typing import Any

from ocpp.exceptions import OCPPError
from ocpp.messages import CallResult, validate_payload

from chargepoint.transport.base import Connection, LinkClosed, LinkError
from chargepoint.transport.websocket import WebSocketOverStream
from modem.diagnostics import CheckResult, Fix, Status
from modem.stream import ByteStream, StreamClosed

from .target import CsmsTarget

MAX_CI_STRING = 20  # CiString20Type: vendor, model, ICCID, IMSI


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def link_reason(message: str) -> tuple[str, dict[str, Any]]:
    """The reason code of a failed upgrade (``http-401``, ``http``, ``subprotocol``, ``ws``)
    and its figures, from the link's message."""
    status = re.search(r"HTTP (\d{3})", message)
    if status:
        code = int(status.group(1))
        return ("http-401" if code == 401 else "http"), {"http_status": code}
    if "subprotocol" in message:
        return "subprotocol", {}
    return "ws", {}


async def websocket_check(
    stream: ByteStream, target: CsmsTarget, timeout: float = 20.0
) -> tuple[CheckResult, Connection | None]:
    """The upgrade to ``target.url`` with subprotocol ocpp1.6 (and Basic auth when a
    password is set).  On failure the stream is closed."""
    auth = target.auth_note
    data: dict[str, Any] = {"url": target.url, "basic_auth": bool(auth)}
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        conn = await WebSocketOverStream.open(
            stream, target.url, target.endpoint.request_headers(), timeout=timeout
        )
    except (LinkError, StreamClosed) as exc:
        reason, extra = link_reason(str(exc))
        data.update(extra)
        return CheckResult(
            "WebSocket", Status.FAIL, "upgrade refused", str(exc), reason=reason, data=data
        ), None
    ms = _ms(loop.time() - start)
    data["ms"] = ms
    figure = f"101 Switching Protocols, ocpp1.6{auth}, in {ms} ms"
    return CheckResult("WebSocket", Status.PASS, figure, data=data), conn


def boot_payload(vendor: str, model: str, iccid: str | None, imsi: str | None) -> dict[str, str]:
    payload = {
        "chargePointVendor": vendor[:MAX_CI_STRING],
        "chargePointModel": model[:MAX_CI_STRING],
    }
    for key, value in (("iccid", iccid), ("imsi", imsi)):
        if value and len(value) <= MAX_CI_STRING:
            payload[key] = value
    return payload


async def _answer(conn: Connection, unique_id: str) -> list[Any]:
    """The CALLRESULT/CALLERROR for ``unique_id``; CSMS calls before it are ignored."""
    while True:
        text = await conn.recv()
        try:
            frame = json.loads(text)
        except ValueError:
            continue
        if isinstance(frame, list) and len(frame) >= 3 and frame[1] == unique_id:
            return frame


async def boot_check(
    conn: Connection, payload: dict[str, str], timeout: float = 30.0
) -> CheckResult:
    """One BootNotification and its answer: Accepted passes, Pending warns, Rejected fails."""
    unique_id = str(uuid.uuid4())
    data: dict[str, Any] = {"request": payload}
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        await conn.send(json.dumps([2, unique_id, "BootNotification", payload]))
        async with asyncio.timeout(timeout):
            frame = await _answer(conn, unique_id)
    except TimeoutError:
        return CheckResult(
            "BootNotification",
            Status.FAIL,
            f"no answer within {timeout:g} s",
            "the CSMS accepted the WebSocket but never answered",
            reason="boot-timeout",
            data=data,
        )
    except LinkClosed as exc:
        return CheckResult(
            "BootNotification",
            Status.FAIL,
            "connection closed",
            str(exc),
            reason="boot-closed",
            data=data,
        )
    ms = _ms(loop.time() - start)
    data["ms"] = ms
    if frame[0] == 4:
        code, text = (frame[2:4] + ["", ""])[:2]
        data.update(error_code=code, error_description=text)
        return CheckResult(
            "BootNotification",
            Status.FAIL,
            f"CALLERROR {code}",
            str(text),
            reason="boot-error",
            data=data,
        )
    answer = frame[2] if frame[0] == 3 else None
    data["response"] = answer
    try:
        if not isinstance(answer, dict):
            raise TypeError(f"expected a CALLRESULT [3, id, {{...}}], got {json.dumps(frame)}")
        await validate_payload(CallResult(unique_id, answer, "BootNotification"), "1.6")
    except (OCPPError, TypeError) as exc:
        details = getattr(exc, "details", None) or {}
        cause = str(details.get("cause", exc)).splitlines()[0]
        return CheckResult(
            "BootNotification",
            Status.FAIL,
            "invalid answer",
            cause,
            reason="boot-invalid",
            data=data,
        )
    status, interval = answer["status"], answer["interval"]
    figure = f"{status}, interval {interval} s, in {ms} ms"
    if status == "Accepted":
        return CheckResult("BootNotification", Status.PASS, figure, data=data)
    if status == "Pending":
        return CheckResult(
            "BootNotification",
            Status.WARN,
            figure,
            "the CSMS knows the charger but has not accepted it yet",
            reason="boot-pending",
            data=data,
        )
    return CheckResult(
        "BootNotification",
        Status.FAIL,
        figure,
        "the CSMS does not accept this charge point",
        reason="boot-rejected",
        data=data,
    )


def _cp(result: CheckResult, results: Sequence[CheckResult]) -> str:
    ws = next((r for r in results if r.name == "WebSocket"), result)
    url = str(ws.data.get("url", ""))
    return url.rstrip("/").rpartition("/")[2] or "?"


FIXES: dict[str, Fix] = {
    "http-401": lambda r, rs: (
        f"the CSMS refused the credentials (HTTP 401): check the charge-point id '{_cp(r, rs)}' "
        "and the password (AuthorizationKey)"
    ),
    "http": lambda r, rs: (
        f"the CSMS refused the WebSocket upgrade (HTTP {r.data.get('http_status')}): check the "
        "URL path and the charge-point id"
    ),
    "subprotocol": lambda r, _: (
        "the server at this URL does not speak OCPP 1.6 (no ocpp1.6 subprotocol): check the URL"
    ),
    "ws": lambda r, _: f"WebSocket upgrade failed: {r.detail}",
    "boot-rejected": lambda r, rs: (
        f"the CSMS rejected BootNotification: register charge point '{_cp(r, rs)}' in the CSMS"
    ),
    "boot-error": lambda r, _: f"the CSMS answered BootNotification with {r.figure}: {r.detail}",
    "boot-invalid": lambda r, _: f"the CSMS's BootNotification answer is not OCPP 1.6: {r.detail}",
    "boot-timeout": lambda r, _: (
        "the CSMS never answered BootNotification: check the CSMS's OCPP version and logs"
    ),
    "ws-esp": lambda r, _: f"the CSMS was not reached over Wi-Fi: {r.detail}",
    "no-ws-support": lambda r, _: r.detail,
    "url-too-long": lambda r, _: r.detail,
    "boot-closed": lambda r, _: (
        f"the CSMS closed the connection after BootNotification: {r.detail}"
    ),
}

WARNINGS: dict[str, Fix] = {
    "boot-pending": lambda r, rs: (
        f"the CSMS answered Pending: accept charge point '{_cp(r, rs)}' in the CSMS"
    ),
}
