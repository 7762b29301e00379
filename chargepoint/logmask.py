"""Secrets out of log lines: what the charger logs of OCPP frames and URLs.

The AuthorizationKey (set by ChangeConfiguration) and Basic-auth passwords in
URLs never reach a log, a trace or a report (the AT trace in ``modem.at.trace``
masks the same on the serial line, where it sees the raw bytes).
"""

from __future__ import annotations

import re
from typing import Any, TypeVar, cast

T = TypeVar("T")

MASK = "***"

_VALUE = r"(?:[^\"\\]|\\.)*"
# ChangeConfiguration of AuthorizationKey, in either key order; the closing quote is
# optional so a cut payload cannot show the start of the value either.
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r'("key"\s*:\s*"AuthorizationKey"\s*,\s*"value"\s*:\s*")' + _VALUE),
        rf"\g<1>{MASK}",
    ),
    (
        re.compile(r'("value"\s*:\s*")' + _VALUE + r'("\s*,\s*"key"\s*:\s*"AuthorizationKey")'),
        rf"\g<1>{MASK}\g<2>",
    ),
    (re.compile(r'(\b[a-z][a-z0-9+.-]*://[^:/@"\s]*:)[^@/"\s]*(@)', re.I), rf"\g<1>{MASK}\g<2>"),
    (re.compile(r"(?i)(Authorization:[ \t]*)[^\r\n\"]*"), rf"\g<1>{MASK}"),
]


_SUSPECT = re.compile(r"authorization|://", re.IGNORECASE)
"""What every pattern above needs: one search instead of four substitutions per string."""


def mask_text(text: str) -> str:
    """``text`` with every AuthorizationKey value and URL password replaced by ``***``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


SECRET_KEYS = frozenset({"authorizationkey"})
"""Configuration keys whose value is a secret (compared case-insensitively, as OCPP does)."""


def is_secret_entry(data: object) -> bool:
    """Whether ``data`` is a ``{key: AuthorizationKey, value: ...}`` mapping (a
    ChangeConfiguration payload, or a GetConfiguration ``configurationKey`` entry)."""
    if not isinstance(data, dict) or "value" not in data:
        return False
    key = data.get("key")
    return isinstance(key, str) and key.lower() in SECRET_KEYS


def mask_data(data: T) -> T:
    """``data`` (parsed JSON: a frame, a payload, a step) with every secret value replaced by
    ``***``, at any depth; strings are masked as text.  The input is left as it was."""
    return cast(T, _masked(data))


def _masked(data: Any) -> Any:
    if isinstance(data, dict):
        secret = is_secret_entry(data)
        return {k: MASK if secret and k == "value" else _masked(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_masked(item) for item in data]
    if isinstance(data, str):
        return mask_text(data) if _SUSPECT.search(data) else data
    return data


def secret_values(data: object) -> set[str]:
    """The secret values :func:`mask_data` would hide in ``data``, as strings."""
    found: set[str] = set()
    if isinstance(data, dict):
        if is_secret_entry(data) and data["value"] not in (None, ""):
            found.add(str(data["value"]))
        for value in data.values():
            found |= secret_values(value)
    elif isinstance(data, list):
        for item in data:
            found |= secret_values(item)
    return found


class Scrubber:
    """The secret values met so far (in a scenario, its frames, a password), replaced by
    ``***`` wherever they show up in free text: a line that quotes a value without its key
    (a matcher's "expected X, got Y", an exception) escapes :func:`mask_data`."""

    MIN_LENGTH = 4
    """Shorter values are not replaced as text (they would blot out ordinary words); the
    structured masking still hides them."""

    def __init__(self) -> None:
        self.values: set[str] = set()

    def add(self, value: str | None) -> None:
        if value and len(value) >= self.MIN_LENGTH and value != MASK:
            self.values.add(value)

    def learn(self, data: object) -> None:
        """Remember the secret values in ``data`` (parsed JSON)."""
        for value in secret_values(data):
            self.add(value)

    def text(self, text: str) -> str:
        text = mask_text(text)
        for value in sorted(self.values, key=len, reverse=True):
            text = text.replace(value, MASK)
        return text
