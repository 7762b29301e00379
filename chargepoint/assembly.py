"""The one place a charger and its link are built, for every command and test.

``cpsim run``, ``cpsim demo``, the scenario runner, the benchmarks and the tests
all describe what they want (:class:`ChargerSpec`, :class:`LinkSpec`) and call
:func:`assemble`.  The link reads the AuthorizationKey and WebSocketPingInterval
from the station at every connect, so a ChangeConfiguration applies from the
next connection on, and a key kept in the store needs no ``--password``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from chargepoint.clocks import Clock, real_clock
from chargepoint.core.config import Configuration
from chargepoint.core.settings import Identity
from chargepoint.station.shell import Station, StationOptions
from chargepoint.store import Store, StoreError
from chargepoint.transport.base import Link
from chargepoint.transport.handshake import Endpoint

LinkKind = Literal["direct", "ec200u", "esp-at"]


@dataclass
class ChargerSpec:
    identity: Identity
    options: StationOptions = field(default_factory=StationOptions)
    clock: Clock | None = None
    """Default: real time (scaled when ``time_scale`` says so is the caller's choice)."""
    password: str | None = None
    """Sets AuthorizationKey (kept in the store, so later runs need not repeat it)."""
    store: Store | None = None
    """A store shared by many chargers (a fleet); default: one opened in the state dir."""


@dataclass
class LinkSpec:
    kind: LinkKind
    url: str
    """The CSMS's base URL; the charge-point id is appended."""
    headers: tuple[tuple[str, str], ...] = ()
    flavour: Literal["websockets", "sansio"] = "websockets"
    """Direct link: websockets' client, or the Sans-I/O adapter the modems use."""
    modem: object | None = None
    """``ModemSettings`` (ec200u) or ``EspAtSettings`` (esp-at)."""


def build_station(spec: ChargerSpec) -> Station:
    """The station; :class:`~chargepoint.store.StoreError` for a state dir it cannot use."""
    # The caller's own configuration first: its KeyError / ValueError names the key.
    Configuration(
        spec.options.connectors,
        None,
        spec.options.config_overrides,
        spec.options.feature_profiles,
    )
    store = spec.store
    owned = store is None and spec.options.state_dir is not None
    if owned:
        assert spec.options.state_dir is not None
        store = Store.open(spec.options.state_dir)
    try:
        station = Station(
            spec.identity, spec.options, spec.clock or real_clock(), store, owns_store=owned
        )
        if spec.password is not None:
            station.set_authorization_key(spec.password)
    except BaseException as exc:
        if owned and store is not None:
            store.close()  # and with it the state dir's lock
        if isinstance(exc, (TypeError, ValueError)) and store is not None:
            raise StoreError(
                f"{store.path}: what it holds does not fit this charger "
                f"({type(exc).__name__}); inspect it with "
                f"`cpsim state show --state-dir {store.path.parent}`"
            ) from None
        raise  # StoreError, or an unknown configuration key (KeyError) the caller gave
    return station


def build_link(spec: LinkSpec, station: Station) -> Link:
    """The link for ``spec``; ValueError when it is misconfigured (e.g. a URL too long
    for the module's command line).  The station transfers its files (firmware,
    diagnostics) over it, and puts the modem's AT trace in its diagnostics."""
    link = _make_link(spec, station)
    station.use_link(link)
    at_log = getattr(spec.modem, "at_log", None)
    if isinstance(at_log, Path):
        secrets = tuple(getattr(spec.modem, key, "") for key in ("apn_password", "wifi_password"))
        station.add_diagnostics_log(at_log, secrets)
    return link


def _make_link(spec: LinkSpec, station: Station) -> Link:
    endpoint = Endpoint(
        spec.url, station.identity.charge_point_id, station.authorization_key, spec.headers
    )
    ping = station.ping_interval
    if spec.kind == "direct":
        from chargepoint.transport.direct import DirectLink

        return DirectLink(endpoint, flavour=spec.flavour, ping_interval=ping)
    if spec.kind == "ec200u":
        from chargepoint.transport.ec200u import Ec200uLink, ModemSettings

        if not isinstance(spec.modem, ModemSettings):
            raise ValueError("an ec200u link needs ModemSettings")
        return Ec200uLink(endpoint, spec.modem, ping_interval=ping)
    from chargepoint.transport.espat import EspAtLink, EspAtSettings

    if not isinstance(spec.modem, EspAtSettings):
        raise ValueError("an esp-at link needs EspAtSettings")
    return EspAtLink(endpoint, spec.modem, ping)


def assemble(charger: ChargerSpec, link: LinkSpec) -> tuple[Station, Link]:
    station = build_station(charger)
    return station, build_link(link, station)
