"""Links that wrap a charger's link: each passes everything on and changes one thing.

:class:`DelegatingLink` passes everything to the link it wraps; the fleet's wrappers
(the connect limit, the statistics, the per-charger extras) override what they add.

The fleet's extras that live per charger (its in-process modem, its place in the
transaction generator) end with the charger, and the charger ends by closing its
link (:func:`~chargepoint.station.runner.run_station` always does), so a
:class:`ReleasingLink` calls ``release`` after the close.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from chargepoint.transport.base import Connection, Link
from chargepoint.transport.transfer import FileTransfer


class DelegatingLink:
    """A link that is ``inner`` in all but what a subclass overrides."""

    def __init__(self, inner: Link) -> None:
        self.inner = inner

    @property
    def description(self) -> str:
        return self.inner.description

    async def connect(self) -> Connection:
        return await self.inner.connect()

    def file_transfer(self) -> FileTransfer:
        return self.inner.file_transfer()

    @property
    def sim_identity(self) -> dict[str, str]:
        """The modem's SIM (ICCID, IMSI) for BootNotification, when there is one."""
        identity: dict[str, str] = getattr(self.inner, "sim_identity", None) or {}
        return identity

    async def aclose(self) -> None:
        await self.inner.aclose()


class ReleasingLink(DelegatingLink):
    def __init__(self, inner: Link, release: Callable[[], Awaitable[None]]) -> None:
        super().__init__(inner)
        self._release = release

    async def aclose(self) -> None:
        try:
            await self.inner.aclose()
        finally:
            await self._release()
