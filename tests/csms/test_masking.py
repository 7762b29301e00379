"""A new AuthorizationKey sent with ChangeConfiguration never shows in clear: not in
``/api/log``, the printed frame lines or the JSONL log (OCPP 1.6 security whitepaper:
the key is a secret)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chargepoint.csms.framelog import format_frame
from chargepoint.csms.server import LocalCsms

from .conftest import Api

KEY = "5ecret5ecret5ecret5ecret"


async def test_the_authorization_key_is_masked_everywhere_shown(
    api: Api, csms: LocalCsms, raw_charger: Any, tmp_path: Path
) -> None:
    def answer(action: str, payload: dict[str, Any]) -> list[Any]:
        if action == "GetConfiguration":
            entry = {"key": "AuthorizationKey", "readonly": False, "value": KEY}
            return [{"configurationKey": [entry]}]
        return [{"status": "Accepted"}]

    await raw_charger("CPK", answer)
    change = {"key": "AuthorizationKey", "value": KEY}
    status, body = await api.post("/api/call/CPK/ChangeConfiguration", {"payload": change})
    assert status == 200
    # GetConfiguration's answer carries it too (a charger that reports it, against the rules).
    status, body = await api.post("/api/call/CPK/GetConfiguration", {"payload": {}})
    assert status == 200 and KEY not in str(body)  # the API's answer masks it too
    status, body = await api.get("/api/log")
    shown = str(body)
    assert KEY not in shown and "'value': '***'" in shown
    assert all(KEY not in format_frame(f, width=1000) for f in csms.frames.frames)
    jsonl = (tmp_path / "csms.jsonl").read_text()
    assert KEY not in jsonl and '"value":"***"' in jsonl
    # In memory the frame is as sent: tests and scenarios check what was really sent.
    [sent] = csms.frames.calls("CPK", "ChangeConfiguration", direction="sent")
    assert sent.payload == change


async def test_other_configuration_values_are_shown(api: Api, raw_charger: Any) -> None:
    await raw_charger("CPK")
    change = {"key": "HeartbeatInterval", "value": "60"}
    await api.post("/api/call/CPK/ChangeConfiguration", {"payload": change})
    assert "'value': '60'" in str((await api.get("/api/log"))[1])
