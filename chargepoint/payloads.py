"""Between camelCase dicts (as on the wire and in scenarios) and ocpp's dataclasses."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from ocpp.charge_point import remove_nones, snake_to_camel_case
from ocpp.v16 import call


def to_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def call_for(action: str, payload: dict[str, Any]) -> Any:
    """ocpp wants a dataclass; nested camelCase dicts pass through its conversion unchanged."""
    cls = getattr(call, action)
    return cls(**{to_snake(key): value for key, value in payload.items()})


def result(response: Any) -> dict[str, Any]:
    data: dict[str, Any] = snake_to_camel_case(remove_nones(dataclasses.asdict(response)))
    return data
