"""The one place a charger and its link are built, for every command and test.

``cpsim run``, ``cpsim demo``, the scenario runner, the benchmarks and the tests
all describe what they want (:class:`ChargerSpec`, :class:`LinkSpec`) and call
:func:`assemble`.  The link reads the AuthorizationKey and WebSocketPingInterval
from the station at every connect, so a ChangeConfiguration applies from the
next connection on, and a key kept in the store needs no ``--password``.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from chargepoint.clocks import Clock, real_clock
from chargepoint.core.actions import SaveConfig
from chargepoint.core.config import Configuration
from chargepoint.core.settings import Identity
from chargepoint.security.certstore import pem
from chargepoint.security.identityfiles import newest_identity
from chargepoint.security.tlsfiles import load_certificates
from chargepoint.station.shell import Station, StationOptions
from chargepoint.store import Store, StoreError
from chargepoint.transport.base import Link
from chargepoint.transport.handshake import Endpoint
from chargepoint.transport.tlssettings import TlsSettings

log = logging.getLogger("cpsim.assembly")

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
    options_checked: bool = False
    """The caller checked ``options`` already (a fleet: once for all its chargers)."""
    set_at_start: dict[str, str] = field(default_factory=dict)
    """Keys set at the charger (``cpsim run --cpo-name``, ``--security-extension``):
    checked with ``options``, in effect from the core's first step (StartupOfTheDevice is
    raised there), and kept in the store, so later runs need not repeat them."""


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
    tls: TlsSettings | None = None
    """The security profile and its files (checked: :func:`~.tlssettings.tls_settings`).
    Its profile sets SecurityProfile at start (a higher one the CSMS set and the files
    allow is kept); the link then reads SecurityProfile at every connect.  None: no
    profile configured (the URL's scheme decides, Basic auth whenever there is a key)."""


def build_station(spec: ChargerSpec) -> Station:
    """The station; :class:`~chargepoint.store.StoreError` for a state dir it cannot use."""
    options = spec.options
    if spec.set_at_start:
        overrides = {**options.config_overrides, **spec.set_at_start}
        options = dataclasses.replace(options, config_overrides=overrides)
    if not spec.options_checked or spec.set_at_start:
        check_options(options)
    store = spec.store
    owned = store is None and options.state_dir is not None
    if owned:
        assert options.state_dir is not None
        store = Store.open(options.state_dir)
    try:
        if store is not None and spec.set_at_start:  # kept as a ChangeConfiguration's are
            saves = [SaveConfig(key, value) for key, value in spec.set_at_start.items()]
            store.apply(spec.identity.charge_point_id, saves)
        station = Station(
            spec.identity, options, spec.clock or real_clock(), store, owns_store=owned
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


def check_options(options: StationOptions) -> None:
    """The caller's own configuration first: its KeyError / ValueError names the key."""
    Configuration(options.connectors, None, options.config_overrides, options.feature_profiles)


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
    tls = spec.tls
    if tls is not None:
        adopt_security_profile(station, tls)
    endpoint = Endpoint(
        spec.url,
        station.identity.charge_point_id,
        station.authorization_key,
        spec.headers,
        (lambda: current_tls(tls, station)) if tls is not None else None,
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
    # The endpoint carries the TLS settings, read at every connect as on the EC200U.
    return EspAtLink(endpoint, spec.modem, ping)


def assemble(charger: ChargerSpec, link: LinkSpec) -> tuple[Station, Link]:
    if link.tls is not None:
        charger = dataclasses.replace(charger, options=with_tls_files(charger.options, link.tls))
    station = build_station(charger)
    return station, build_link(link, station)


def with_tls_files(options: StationOptions, tls: TlsSettings) -> StationOptions:
    """What the core learns of the link's TLS files: which there are (a SecurityProfile
    raise over OCPP needs them, WP A05), the CA file's roots (a CertificateSigned chain
    may end at one, A02.FR.06) and the charger certificate's notAfter (renewed a month
    before, A03.FR.02)."""
    files = {"ca"} if tls.ca_file is not None else set()
    files |= {"cert"} if tls.identity is not None else set()
    roots = ""
    if tls.ca_file is not None:  # checked when the settings were made: read again here
        roots = "".join(pem(c) for c in load_certificates(tls.ca_file, "CA file"))
    expiry = None
    if tls.identity is not None:
        expiry = tls.identity.certificate.not_valid_after_utc.timestamp()
    return dataclasses.replace(
        options,
        tls_files=frozenset(files),
        given_csms_roots=roots,
        given_certificate_expiry=expiry,
    )


def adopt_security_profile(station: Station, tls: TlsSettings) -> None:
    """SecurityProfile at start: the one given, unless the CSMS raised it earlier (kept
    in the store) and the files for that one are here (it is never lowered over OCPP,
    A00.FR.005; lowering it is a local act: give the lower profile and clear the state)."""
    stored = station.security_profile()
    if stored > tls.security_profile and tls.missing_for(stored) is None:
        log.info(
            "SecurityProfile %d (raised by the CSMS, kept in the state dir) instead of %d",
            stored,
            tls.security_profile,
        )
        return
    if stored != tls.security_profile:
        station.set_security_profile(tls.security_profile)


def current_tls(tls: TlsSettings, station: Station) -> TlsSettings:
    """``tls`` with the station's SecurityProfile of the moment, the charger certificate
    a CertificateSigned installed when it is newer than the given one (WP A02.FR.08/09:
    the next connection presents it), and the CSMS roots InstallCertificate installed
    when no CA file was given."""
    profile = station.security_profile()
    current = tls if profile == tls.security_profile else tls.with_profile(profile)
    identity = newest_identity(current.identity, station.installed_identity())
    if identity is not current.identity:
        current = dataclasses.replace(current, identity=identity)
    if current.ca_file is None:  # no --ca-file: the roots installed over OCPP (WP M05)
        roots = station.installed_roots()
        if roots is not None:
            current = dataclasses.replace(current, ca_file=roots)
    return current
