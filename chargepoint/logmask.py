"""Secrets out of log lines: what the charger logs of OCPP frames and URLs.

The AuthorizationKey (set by ChangeConfiguration) and Basic-auth passwords in
URLs never reach a log, a trace or a report (the AT trace in ``modem.at.trace``
masks the same on the serial line, where it sees the raw bytes).
"""

from __future__ import annotations

import re

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


def mask_text(text: str) -> str:
    """``text`` with every AuthorizationKey value and URL password replaced by ``***``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text
