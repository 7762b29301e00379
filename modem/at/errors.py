"""Exceptions of the AT layer, worded for the person holding the modem.

Every message names the command (or port) and what went wrong, so a log line
alone tells a field technician where to look.
"""

from __future__ import annotations

from collections.abc import Mapping

from .events import Error, Final, SendResult

# 3GPP TS 27.007 §9.2 codes a charger is likely to meet.
CME_TEXTS: Mapping[int, str] = {
    0: "phone failure",
    3: "operation not allowed",
    4: "operation not supported",
    10: "SIM not inserted",
    11: "SIM PIN required",
    12: "SIM PUK required",
    13: "SIM failure",
    14: "SIM busy",
    15: "SIM wrong",
    16: "incorrect password",
    17: "SIM PIN2 required",
    18: "SIM PUK2 required",
    20: "memory full",
    21: "invalid index",
    22: "not found",
    23: "memory failure",
    30: "No network service",
    31: "network timeout",
    32: "network not allowed - emergency calls only",
    50: "incorrect parameters",
    100: "unknown",
}


def describe(final: Final, extra: Mapping[int, str] | None = None) -> str:
    """``+CME ERROR: 30`` -> ``+CME ERROR: 30 (No network service)``."""
    if not isinstance(final, Error) or final.detail is None:
        return final.text
    try:
        code = int(final.detail)
    except ValueError:
        return final.text  # AT+CMEE=2 already gives the sentence
    text = (extra or {}).get(code) or CME_TEXTS.get(code)
    return f"{final.text} ({text})" if text else final.text


class ATError(Exception):
    """Base of everything the AT layer raises."""


class ATPortError(ATError):
    """The port cannot be used: it does not open, nothing answers, or it went away."""

    def __init__(self, port: str, reason: str) -> None:
        super().__init__(f"{port}: {reason}")
        self.port = port
        self.reason = reason


class ATTimeout(ATError):
    """No final result within the command's time budget."""

    def __init__(self, command: str, seconds: float, port: str) -> None:
        super().__init__(f"{command} -> no final result within {seconds:g} s on {port}")
        self.command = command
        self.seconds = seconds
        self.port = port


class ATCommandError(ATError):
    """The modem answered with a failing final result.

    ``reason`` is the readable form (``+CME ERROR: 30 (No network service)``),
    possibly completed by the caller with ``AT+QIGETERROR``'s answer.
    ``lines`` are the information lines that came before the failing final:
    some modems put the reason there (ESP-AT ``+CWJAP:2`` before ``ERROR``).
    ``prompted``: the command had asked for a payload and its ``>`` prompt came
    (so the payload went out) before the failure; False when it was refused
    before any prompt (ESP-AT firmware without the command, a bad parameter).
    """

    def __init__(
        self,
        command: str,
        final: Final,
        reason: str | None = None,
        lines: list[str] | None = None,
        *,
        prompted: bool = False,
    ) -> None:
        self.command = command
        self.final = final
        self.reason = reason or final.text
        self.lines = list(lines or [])
        self.prompted = prompted
        super().__init__(f"{command} -> {self.reason}")

    @property
    def cme_code(self) -> int | None:
        """The numeric ``+CME ERROR`` code, if there is one."""
        if isinstance(self.final, Error) and self.final.kind == "+CME ERROR":
            try:
                return int(self.final.detail or "")
            except ValueError:
                return None
        return None

    @property
    def send_failed(self) -> bool:
        """``SEND FAIL``: the modem's send buffer is full; worth a retry."""
        return isinstance(self.final, SendResult) and not self.final.ok


class ATRestarted(ATError):
    """The modem restarted (``RDY``) while a command was waiting: it will never be answered."""

    def __init__(self, command: str, urc: str, port: str) -> None:
        super().__init__(
            f"{command} -> modem restarted ({urc}) on {port} before answering; "
            "everything it had set up (echo off, PDP context, sockets) is gone"
        )
        self.command = command
        self.urc = urc
        self.port = port
