"""The one interface ocpp's ChargePoint talks to, whatever carries the bytes.

ocpp only needs ``send(str)`` and ``recv() -> str``; it never closes the link and
has no error handling, so a dead link must surface as :class:`LinkClosed` from
both calls.  That exception is what ends a session and starts the reconnect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from chargepoint.security.tlsfailure import TlsFailure, tls_failure_in
from modem.stream import MessageTooLarge

from .transfer import FileTransfer

__all__ = [
    "Connection",
    "Link",
    "LinkClosed",
    "LinkError",
    "MessageTooLarge",
    "PONG_TIMEOUT_MAX",
    "PONG_TIMEOUT_MIN",
    "Seconds",
    "pong_timeout",
    "seconds",
]

Seconds = float | Callable[[], float]
"""A link setting in seconds (WebSocketPingInterval): fixed, or read at every connect
so a ChangeConfiguration applies from the next connection on."""


def seconds(setting: Seconds) -> float:
    return float(setting() if callable(setting) else setting)


PONG_TIMEOUT_MIN = 5.0
PONG_TIMEOUT_MAX = 30.0


def pong_timeout(interval: float) -> float:
    """How long after a keepalive ping a silent link is declared dead (``interval`` > 0).

    The ping interval itself (as websockets' own client does by default), kept
    within [5 s, 30 s]: at least 5 s because a cellular round trip can take
    seconds (radio wake-up, TCP retransmissions of 1 + 2 s) and a link that flaps
    on a slow pong brings the rapid reconnects that wedge a modem's data stack;
    at most 30 s so that with a long interval a dead link is still noticed at most
    ``interval + 30 s`` after the last byte heard (90 s with OCPP's usual 60 s).
    A pong is never lost on TCP, only late, so the bound is on latency alone.
    """
    return min(max(interval, PONG_TIMEOUT_MIN), PONG_TIMEOUT_MAX)


class LinkClosed(Exception):
    """The WebSocket to the CSMS is gone; ``code`` follows RFC 6455 (1006: no close frame)."""

    def __init__(self, reason: str, code: int = 1006) -> None:
        super().__init__(f"{reason} (code {code})")
        self.reason = reason
        self.code = code


class LinkError(Exception):
    """The link could not be opened.  The message names the URL (or modem) and the reason."""

    @property
    def tls_failure(self) -> TlsFailure | None:
        """The failed TLS handshake behind it, as the Security Whitepaper's event names it
        (A00.FR.309/315/322), when that is why: found on the exceptions it was raised from."""
        return tls_failure_in(self.__cause__ or self.__context__)


class Connection(Protocol):
    async def send(self, message: str) -> None:
        """Raises :class:`LinkClosed`, or :class:`MessageTooLarge` (nothing sent, link up)."""
        ...

    async def recv(self) -> str: ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


class Link(Protocol):
    """Opens connections to one CSMS; the station calls it again after every drop."""

    @property
    def description(self) -> str:
        """Where it connects, for log lines: the URL, and the modem if there is one."""
        ...

    async def connect(self) -> Connection:
        """Open a WebSocket (subprotocol ocpp1.6 checked) or raise :class:`LinkError`."""
        ...

    def file_transfer(self) -> FileTransfer:
        """Firmware downloads and diagnostics uploads over this same link (OCPP 1.6 §5.9,
        §5.19: a charger has no other network)."""
        ...

    async def aclose(self) -> None:
        """Release what outlives a single connection (the modem port, a PDP context)."""
        ...
