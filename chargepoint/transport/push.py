"""Connections that push what they receive, for chargers that must cost little.

A :class:`~chargepoint.transport.base.Connection` is pulled: someone awaits
``recv()`` and ``send()``, which takes a task per direction and per charger.  A
:class:`PushConnection` is the same connection driven the other way round, as an
asyncio ``Protocol`` is: it calls its :class:`MessageSink` for every message and
for its end, and :meth:`PushConnection.send_now` hands a frame to the transport
without waiting.  The station's session runs on either kind (the pull kind with
its reader and writer tasks), so ``cpsim run``, scenarios and a fleet share one
session logic.
"""

from __future__ import annotations

from typing import Protocol, TypeGuard, runtime_checkable

from .base import Connection, LinkClosed


class MessageSink(Protocol):
    """Who a :class:`PushConnection` delivers to (the station's session)."""

    def message_received(self, text: str) -> None:
        """One whole OCPP-J text message, in the order received."""
        ...

    def link_closed(self, closed: LinkClosed) -> None:
        """The connection ended (called once, after the last message)."""
        ...


@runtime_checkable
class PushConnection(Connection, Protocol):
    def deliver_to(self, sink: MessageSink) -> None:
        """From now on, every message goes to ``sink`` (those already received first, at
        once); ``recv()`` is not used again.  A connection already closed calls
        :meth:`MessageSink.link_closed` at once."""
        ...

    def send_now(self, message: str) -> None:
        """Queue one text message on the transport; raises :class:`LinkClosed` (or
        :class:`~chargepoint.transport.base.MessageTooLarge`, nothing sent)."""
        ...


def pushes(connection: Connection) -> TypeGuard[PushConnection]:
    """Whether ``connection`` is a :class:`PushConnection`: an attribute look-up, where
    ``isinstance`` on a runtime-checkable Protocol walks every member (~40 us, per
    frame on a fleet's hot path)."""
    return callable(getattr(connection, "deliver_to", None))
