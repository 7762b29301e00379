"""Links of a fleet: one per charger, from a link factory chosen by ``--link``.

A link factory is a callable ``factory(station, index, url) -> Link`` (``index``: the
charger's number in the whole fleet, 1..N, to seed per-charger link profiles).  The
``direct`` factory is here; others (``ec200u``, ``esp-at``: emulated modems in
process) register themselves from their own module::

    from chargepoint.fleet.links import LinkContext, register_link_kind

    def ec200u_links(context: LinkContext) -> LinkFactory: ...
    register_link_kind("ec200u", ec200u_links)

and are imported on demand from :data:`LINK_MODULES`.  ``context.options`` holds the
``--link-option KEY=VALUE`` pairs of the command line (a profile name, a seed...).
A factory with resources of its own may have an ``async aclose()``: the fleet awaits
it after every charger stopped.  A factory may also say (attributes, read with
:func:`connect_slots` and :func:`factory_counts`):

* ``connect_slots``: how many of its links' ``connect()`` may run at once.  The fleet
  bounds connects so a boot storm queues in the fleet instead of overflowing the
  CSMS's accept backlog; a direct connect IS the TCP and WebSocket open, while a
  cellular one is mostly the emulated modem's bring-up at its baud rate, so its
  factory allows many more (:data:`chargepoint.fleet.cellular.CONNECT_SLOTS`).
* ``counts()``: ``{group: {name: number}}`` of what it did to the fleet so far
  (sessions generated, link faults); the fleet puts it in every sample and the summary.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from websockets.proxy import get_proxy
from websockets.uri import parse_uri

from chargepoint.assembly import LinkSpec, build_link
from chargepoint.station.shell import Station
from chargepoint.transport.base import Link
from chargepoint.transport.tlssettings import TlsSettings

from .ids import FleetUsageError


class LinkFactory(Protocol):
    def __call__(self, station: Station, index: int, url: str) -> Link: ...


@dataclass(frozen=True)
class LinkContext:
    kind: str
    count: int
    """Chargers in the whole fleet (all shards)."""
    seed: int = 0
    options: dict[str, str] = field(default_factory=dict)
    tls: TlsSettings | None = None
    """wss://: the security profile and its CA file (``cpsim fleet --ca-file``), checked."""


LinkFactoryMaker = Callable[[LinkContext], LinkFactory]

LINK_MODULES: dict[str, str] = {
    "ec200u": "chargepoint.fleet.cellular",
    "esp-at": "chargepoint.fleet.cellular",
}
"""Where the link kinds not built in here register themselves (imported on demand)."""

_MAKERS: dict[str, LinkFactoryMaker] = {}


def register_link_kind(kind: str, maker: LinkFactoryMaker) -> None:
    _MAKERS[kind] = maker


def connect_slots(factory: object, default: int) -> int:
    """The factory's ``connect_slots`` (connects at once), else ``default``."""
    slots = getattr(factory, "connect_slots", None)
    return slots if isinstance(slots, int) and slots >= 1 else default


def factory_counts(factory: object) -> dict[str, dict[str, int | float]]:
    """The factory's ``counts()`` (``{}`` for one that counts nothing)."""
    counts = getattr(factory, "counts", None)
    return dict(counts()) if callable(counts) else {}


def link_kinds() -> list[str]:
    return sorted({"direct", *LINK_MODULES, *_MAKERS})


def make_link_factory(context: LinkContext) -> LinkFactory:
    """The factory for ``context.kind``; :class:`FleetUsageError` when it is unknown or
    its module is not installed."""
    if context.kind not in _MAKERS and context.kind in LINK_MODULES:
        module = LINK_MODULES[context.kind]
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise FleetUsageError(
                f"--link {context.kind}: not available in this build ({module}: {exc})"
            ) from None
    maker = _MAKERS.get(context.kind)
    if maker is None:
        raise FleetUsageError(
            f"--link {context.kind}: unknown; known are {', '.join(link_kinds())}"
        )
    return maker(context)


def direct_links(context: LinkContext) -> LinkFactory:
    """A WebSocket per charger straight from the host.

    By default the Sans-I/O flavour: websockets' Sans-I/O protocol in an asyncio Protocol
    (:class:`~chargepoint.transport.wsprotocol.WebSocketOverTransport`, no task per
    connection, ws:// and wss:// alike: asyncio's TLS transport), where websockets' client
    negotiates permessage-deflate and keeps a zlib compressor and decompressor per
    connection (about 46 KiB).  ``--link-option
    flavour=websockets`` picks websockets' client, with the proxy looked up ONCE per
    CSMS URL (its default scans the environment at every connect).
    """
    flavour = context.options.get("flavour", "sansio")
    if flavour not in ("sansio", "websockets"):
        raise FleetUsageError(
            f"--link-option flavour={flavour[:20]!r}: expected sansio or websockets"
        )
    proxies: dict[str, str | None] = {}

    def factory(station: Station, index: int, url: str) -> Link:
        if flavour == "sansio":
            return build_link(LinkSpec("direct", url, flavour="sansio", tls=context.tls), station)
        link = build_link(LinkSpec("direct", url, tls=context.tls), station)
        if url not in proxies:
            proxies[url] = get_proxy(parse_uri(url.rstrip("/") + "/x"))
        link.proxy = proxies[url]  # type: ignore[attr-defined]
        return link

    return factory


register_link_kind("direct", direct_links)
