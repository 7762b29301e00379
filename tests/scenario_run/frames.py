"""Reading a ScenarioResult's frame log: what the CSMS received and what it answered."""

from __future__ import annotations

from typing import Any

from chargepoint.scenario.report import ScenarioResult


def received(result: ScenarioResult, action: str) -> list[dict[str, Any]]:
    """The frames of CALLs ``action`` the CSMS received, in order."""
    return [
        f
        for f in result.frames
        if f["direction"] == "received" and f["message"][0] == 2 and f["message"][2] == action
    ]


def answer_to(result: ScenarioResult, call: dict[str, Any]) -> dict[str, Any]:
    unique_id = call["message"][1]
    return next(
        f
        for f in result.frames
        if f["message"][0] in (3, 4)
        and f["message"][1] == unique_id
        and f["direction"] != call["direction"]
    )
