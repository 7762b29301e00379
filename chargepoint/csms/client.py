"""The client side of the control API, for ``cpsim csms call`` (aiohttp's client).

:func:`call_charger` POSTs ``/api/call/<id>/<Action>`` with the token and turns
every way it can go wrong into one line that says what to do, with the exit code
of the table every command shares:

* 0: the charger answered with a CALLRESULT;
* 1: the request reached the CSMS but the call failed: the charger answered a
  CALLERROR, is not connected, never connected, or did not answer in time;
* 2: the request could not be made as given: bad input (the CSMS names the field),
  no or wrong token, refused Host/Origin, a URL that is not the control API, or
  nothing listening there.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from .control import describe_error

DEFAULT_API_URL = "http://127.0.0.1:9001"
TOKEN_ENV = "CPSIM_API_TOKEN"


class ApiUrlError(ValueError):
    """The control API's URL given can never work (a ws:// URL, no host...)."""


def check_api_url(url: str) -> str:
    """``url`` without a trailing slash, or ApiUrlError saying what to give instead."""
    parts = urlsplit(url)
    if parts.scheme in ("ws", "wss"):
        raise ApiUrlError(
            f"{parts.scheme}:// is the charger's URL; give the CSMS's http:// control address "
            f"(cpsim csms prints it at start, e.g. {DEFAULT_API_URL})"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiUrlError(f"{url!r}: give the CSMS's http://HOST:PORT control address")
    try:
        parts.port  # noqa: B018 - a bad port raises here
    except ValueError as exc:
        raise ApiUrlError(f"{url!r}: {exc}") from None
    if parts.query or parts.fragment:
        raise ApiUrlError(f"{url!r}: no ?query or #fragment in the control address")
    return url.rstrip("/")


@dataclass(frozen=True)
class CallOutcome:
    """What ``cpsim csms call`` reports: the result (exit 0) or one line and its exit code."""

    exit_code: int
    result: Any = None
    message: str = ""


# The CSMS's problem words whose failure is the call's (exit 1), not the request's (exit 2).
_CALL_FAILED = {"callerror", "not_connected", "unknown_charger", "no_answer", "internal"}
_TOKEN_HINT = f"give --api-token or set {TOKEN_ENV} (cpsim csms printed the token at start)"


async def call_charger(
    api_url: str,
    token: str,
    charge_point_id: str,
    action: str,
    payload: dict[str, Any],
    timeout: float = 30,
) -> CallOutcome:
    base = check_api_url(api_url)
    where = urlsplit(base).netloc
    url = f"{base}/api/call/{quote(charge_point_id, safe='')}/{quote(action, safe='')}"
    headers = {"Authorization": f"Bearer {token}"}
    limit = aiohttp.ClientTimeout(total=timeout + 5, connect=5)
    try:
        async with (
            aiohttp.ClientSession(timeout=limit) as session,
            session.post(url, json={"payload": payload, "timeout": timeout}, headers=headers) as r,
        ):
            raw = await r.read()
            status, reason = r.status, r.reason or ""
    except aiohttp.ClientConnectorError as exc:
        errno = exc.os_error.errno
        why = os.strerror(errno).lower() if errno else exc.os_error.strerror or str(exc)
        return CallOutcome(
            2, message=f"cannot reach {base} ({why}): is cpsim csms running on {where}?"
        )
    except (aiohttp.ServerDisconnectedError, aiohttp.ClientResponseError) as exc:
        return CallOutcome(2, message=_not_the_api(base, f"{type(exc).__name__}: {exc}"))
    except aiohttp.ClientError as exc:
        return CallOutcome(2, message=f"{base}: {type(exc).__name__}: {exc}")
    except TimeoutError:
        return CallOutcome(1, message=f"{base} did not answer within {timeout + 5:g}s")
    return _outcome(base, status, reason, raw, f"{charge_point_id} {action}")


def _outcome(base: str, status: int, reason: str, raw: bytes, what: str) -> CallOutcome:
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict) or ("result" not in body and "error" not in body):
        text = raw.decode("utf-8", "replace").strip()[:120]
        return CallOutcome(2, message=_not_the_api(base, f"HTTP {status} {reason}: {text!r}"))
    if status == 200 and "result" in body:
        return CallOutcome(0, result=body["result"])
    problem = body.get("problem", "")
    line = f"{what}: {describe_error(body.get('error'))}"
    if problem in ("no_token", "bad_token"):
        refused = "no token given" if problem == "no_token" else "a wrong token"
        return CallOutcome(2, message=f"{what}: the CSMS refused {refused}; {_TOKEN_HINT}")
    if problem == "unknown_route":
        return CallOutcome(2, message=_not_the_api(base, f"HTTP {status}"))
    return CallOutcome(1 if problem in _CALL_FAILED else 2, message=line)


def _not_the_api(base: str, seen: str) -> str:
    return (
        f"{base} is not the control API of cpsim csms ({seen}); give its http://HOST:PORT "
        "control address (announced at start: the OCPP port + 1 by default)"
    )


def run_call(*args: Any, **kwargs: Any) -> CallOutcome:
    """:func:`call_charger` from synchronous code (the CLI)."""
    return asyncio.run(call_charger(*args, **kwargs))
