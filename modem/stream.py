"""What a modem dialect hands to the layer above it.

A Quectel QI socket is a byte pipe (the host must speak WebSocket itself); an
ESP-AT WebSocket link carries whole messages.  Both are expressed as small
protocols so the charger's transports depend on the shape, not on a modem.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable


class StreamClosed(Exception):
    """The link under a stream is gone (peer close, PDP loss, modem reset).

    ``reason`` is meant for a person in the field, e.g. ``'+QIURC: "pdpdeact",1'``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MessageTooLarge(ValueError):
    """A message stream cannot carry this message in one piece (e.g. one AT+WSSEND).

    Nothing was sent and the link is still up: the caller decides what to say instead.
    """


class ByteStream(Protocol):
    """An ordered, reliable byte pipe: a TCP socket, or one opened through a modem."""

    async def read(self) -> bytes:
        """Return the next bytes available; ``b""`` once the peer has closed."""
        ...

    async def write(self, data: bytes) -> None:
        """Send all of ``data``; raise :class:`StreamClosed` if the link is gone."""
        ...

    async def close(self) -> None:
        """Release the link; safe to call twice."""
        ...


class MessageStream(Protocol):
    """A WebSocket whose framing is done by the modem (ESP-AT)."""

    async def send(self, message: str) -> None:
        """Send one text message; may raise :class:`MessageTooLarge` (link still up)."""
        ...

    async def recv(self) -> str:
        """Return the next whole text message; raise :class:`StreamClosed` when the link ends."""
        ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


WriteDescriber = Callable[[bytes], "str | None"]
"""Says what one written chunk is (``ws text 249: [2,...]``), or ``None`` if it cannot."""


@runtime_checkable
class DescribesWrites(Protocol):
    """A byte stream whose writes are traced (a modem socket and its ``--at-log``).

    The layer above knows what it writes (a masked WebSocket frame is unreadable
    as bytes) and hands a describer down, so the trace stays readable without the
    modem layer knowing WebSocket.
    """

    def describe_writes(self, describer: WriteDescriber) -> None: ...
