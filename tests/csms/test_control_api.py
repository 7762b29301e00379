"""The control API over real HTTP: the token, Host and Origin, POST for state changes, and
JSON errors with the status that says what went wrong."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from chargepoint.csms.server import LocalCsms

from .conftest import Api

RESET = {"payload": {"type": "Soft"}}


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/api"),
        ("GET", "/api/chargers"),
        ("GET", "/api/log"),
        ("GET", "/api/policy"),
        ("POST", "/api/policy"),
        ("POST", "/api/call/CPX/Reset"),
        ("GET", "/api/files"),
        ("POST", "/api/files/fault"),
        ("GET", "/api/no-such-endpoint"),
    ],
)
async def test_every_control_request_needs_the_token(api: Api, method: str, path: str) -> None:
    status, body = await api.request(method, path, token=None)
    assert (status, body["problem"]) == (401, "no_token"), body
    status, body = await api.request(method, path, token="guessed")
    assert (status, body["problem"]) == (401, "bad_token"), body
    assert api.csms.api_token not in json.dumps(body)


async def test_a_rebound_host_or_a_cross_site_origin_is_refused(
    api: Api, csms: LocalCsms, raw_charger: Any
) -> None:
    await raw_charger("CPX")
    for headers, problem in [
        ({"Host": f"attacker.example:{csms.http_port}"}, "bad_host"),
        ({"Origin": "http://attacker.example"}, "bad_origin"),
        ({"Origin": "null"}, "bad_origin"),
    ]:
        status, body = await api.post("/api/call/CPX/Reset", RESET, headers=headers)
        assert (status, body["problem"]) == (403, problem), body
    assert csms.frames.calls("CPX", "Reset", direction="sent") == []  # nothing was sent
    # The page's own origin (same scheme, host and port) and localhost pass.
    same = {"Origin": f"http://localhost:{csms.http_port}", "Host": f"localhost:{csms.http_port}"}
    status, body = await api.post("/api/call/CPX/Reset", RESET, headers=same)
    assert (status, body) == (200, {"result": {"status": "Accepted"}})


async def test_state_changes_are_post_only(api: Api, csms: LocalCsms, raw_charger: Any) -> None:
    await raw_charger("CPX")
    status, body = await api.get("/api/call/CPX/Reset")
    assert status == 405 and body["problem"] == "method_not_allowed"
    assert "use POST" in body["error"] and "state changes are POST" in body["error"]
    status, body = await api.request("PUT", "/api/policy", {"boot_status": "Pending"})
    assert status == 405
    assert csms.frames.calls("CPX", "Reset", direction="sent") == []
    assert csms.policy.boot_status == "Accepted"


async def test_call_answers_200_with_the_chargers_result(
    api: Api, csms: LocalCsms, raw_charger: Any
) -> None:
    await raw_charger("CPX")
    status, body = await api.post("/api/call/CPX/Reset", RESET)
    assert (status, body) == (200, {"result": {"status": "Accepted"}})
    sent = csms.frames.calls("CPX", "Reset", direction="sent")
    assert [f.payload for f in sent] == [{"type": "Soft"}]
    assert (await api.get("/api/chargers")) == (200, {"chargers": ["CPX"], "known": ["CPX"]})


async def test_an_answer_with_decimals_comes_back_as_json_numbers(
    api: Api, raw_charger: Any
) -> None:
    """ocpp parses GetCompositeSchedule's limits as Decimal (its schema has multipleOf 0.1):
    the API still answers them as the numbers the charger sent."""
    schedule = {
        "status": "Accepted",
        "connectorId": 1,
        "scheduleStart": "2030-01-01T00:00:00Z",
        "chargingSchedule": {
            "duration": 60,
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.5}],
        },
    }
    await raw_charger("CPX", lambda action, payload: [schedule])
    status, body = await api.post(
        "/api/call/CPX/GetCompositeSchedule", {"payload": {"connectorId": 1, "duration": 60}}
    )
    assert (status, body) == (200, {"result": schedule})


@pytest.mark.parametrize(
    "path,body,field,expected",
    [
        ("/api/call/CPX/Reset", {"payload": {"type": "Sideways"}}, "payload/type", "Sideways"),
        ("/api/call/CPX/Reset", {"payload": [1]}, "payload", "must be a JSON object"),
        ("/api/call/CPX/Reset", {"payload": {}, "timeout": -1}, "timeout", "more than 0"),
        ("/api/call/CPX/Reset", {"payload": {}, "timeout": "soon"}, "timeout", "soon"),
        ("/api/call/CPX/Reset", {"payload": {}, "extra": 1}, "extra", "unknown field"),
        ("/api/call/CPX/NoSuchAction", {}, "action", "not an OCPP 1.6 action a CSMS sends"),
        ("/api/call/CPX/BootNotification", {}, "action", "sent by the charge point"),
        ("/api/policy", {"boot_status": "Maybe"}, "boot_status", "Accepted, Pending, Rejected"),
        ("/api/policy", {"heartbeat_interval": "soon"}, "heartbeat_interval", "soon"),
        ("/api/files/fault", {"fault": "melt"}, "fault", "'melt' is not one of"),
        ("/api/files/fault", {"fault": "cut", "name": "nope.bin"}, "name", "nope.bin"),
        ("/api/files/fault", {"fault": "slow", "rate": 0}, "rate", "positive"),
    ],
)
async def test_bad_input_is_400_naming_the_field(
    api: Api, csms: LocalCsms, raw_charger: Any, path: str, body: Any, field: str, expected: str
) -> None:
    await raw_charger("CPX")
    status, answer = await api.post(path, body)
    assert (status, answer["problem"], answer["field"]) == (400, "bad_input", field), answer
    assert expected in answer["error"] and answer["error"].startswith(field)
    assert csms.frames.calls("CPX", direction="sent") == []  # the CSMS sent nothing


async def test_a_body_that_is_not_json_is_400(api: Api) -> None:
    for raw in (b"{not json", b"[1, 2]"):
        status, body = await api.request(
            "POST", "/api/policy", data=raw, headers={"Content-Type": "application/json"}
        )
        assert (status, body["field"]) == (400, "body"), body


async def test_log_since_must_be_a_number(api: Api) -> None:
    status, body = await api.get("/api/log?since=abc")
    assert (status, body["field"]) == (400, "since") and "abc" in body["error"]


async def test_unknown_charger_404_disconnected_409(
    api: Api, csms: LocalCsms, raw_charger: Any
) -> None:
    status, body = await api.post("/api/call/NOPE/Reset", RESET)
    assert (status, body["problem"]) == (404, "unknown_charger")
    assert "NOPE is not connected" in body["error"]
    ws = await raw_charger("CPGONE")
    await ws.close()
    async with asyncio.timeout(5):
        while "CPGONE" in csms.sessions:  # until the CSMS has seen the close
            await asyncio.sleep(0.01)
    status, body = await api.post("/api/call/CPGONE/Reset", RESET)
    assert (status, body["problem"]) == (409, "not_connected")
    assert "wait for it to reconnect" in body["error"]


async def test_unknown_route_is_a_json_404(api: Api) -> None:
    status, body = await api.get("/api/nope")
    assert (status, body["problem"]) == (404, "unknown_route")
    status, body = await api.get("/elsewhere", token=None)
    assert (status, body["problem"]) == (404, "unknown_route")


async def test_callerror_is_502_and_silence_is_504(
    api: Api, csms: LocalCsms, raw_charger: Any
) -> None:
    await raw_charger("CPERR", lambda action, payload: ["NotSupported", "no resets here", {}])
    status, body = await api.post("/api/call/CPERR/Reset", RESET)
    assert (status, body["problem"]) == (502, "callerror")
    assert body["error"]["code"] == "NotSupported"
    assert body["error"]["description"] == "no resets here"
    await raw_charger("CPMUTE", lambda action, payload: None)
    status, body = await api.post("/api/call/CPMUTE/Reset", {**RESET, "timeout": 0.2})
    assert (status, body["problem"]) == (504, "no_answer")
    assert "CPMUTE did not answer Reset within 0.2s" in body["error"]


async def test_policy_is_read_by_get_and_changed_by_post(api: Api, csms: LocalCsms) -> None:
    status, body = await api.post(
        "/api/policy", {"boot_status": "Pending", "charge_point": "CP9", "heartbeat_interval": 7}
    )
    assert status == 200 and body["per_charger"] == {"CP9": "Pending"}
    assert csms.policy.boot_status_per_charger == {"CP9": "Pending"}
    assert csms.policy.heartbeat_interval == 7
    assert (await api.get("/api/policy"))[1]["heartbeat_interval"] == 7


async def test_the_ocpp_port_points_to_the_http_side(csms: LocalCsms) -> None:
    async with aiohttp.ClientSession() as session, session.get(csms.url[:-5] + "/api/x") as r:
        assert r.status == 404
        assert f"the control API is at {csms.api_url}/api" in await r.text()


async def test_a_given_token_is_the_one_required(tmp_path: Path) -> None:
    async with (
        LocalCsms(port=0, api_token="my-token") as csms,
        aiohttp.ClientSession() as session,
    ):
        assert csms.api_token == "my-token"
        for token, status in (("my-token", 200), ("other", 401)):
            headers = {"Authorization": f"Bearer {token}"}
            async with session.get(csms.api_url + "/api/chargers", headers=headers) as r:
                assert r.status == status
