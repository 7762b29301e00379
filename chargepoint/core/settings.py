"""Who the charger is and how it is built: fixed for its life, given by the assembly."""

from __future__ import annotations

from dataclasses import dataclass, field

from .profiles import FEATURE_PROFILES

EV_POWER_W = 7360.0  # 32 A single phase


@dataclass
class Identity:
    charge_point_id: str
    vendor: str = "cpsim"
    model: str = "cpsim-ac"
    serial: str | None = None
    firmware: str = "cpsim-0.1"
    iccid: str | None = None
    imsi: str | None = None


@dataclass
class CoreSettings:
    connectors: int = 1
    config_overrides: dict[str, str] = field(default_factory=dict)
    data_transfer_vendors: frozenset[str] = frozenset()
    ev_power_w: float = EV_POWER_W
    """The power of the EV a connector has until told otherwise (a fixed-power EV)."""
    max_current_a: float = 32.0
    """The charger's own rating per connector: amperes per phase, whatever any profile says."""
    phases: int = 3
    """The phases of the charger's supply (1 or 3)."""
    voltage: float = 230.0
    """Nominal volts per phase: the A <-> W conversion of §7.12 uses it."""
    auto_unplug_s: float = 2.0
    """Charger seconds after its stop that a remotely started EV leaves (negative: never)."""
    feature_profiles: frozenset[str] = frozenset(FEATURE_PROFILES)
    """The OCPP 1.6 feature profiles this charger has (Core always)."""
    response_timeout: float = 30.0
    """Link seconds to wait for the CSMS's answer to a CALL (OCPP-J: then it has failed)."""
    diagnostics_available: bool = True
    """The charger keeps logs to upload for GetDiagnostics (else it answers no fileName)."""
    tls_files: frozenset[str] = frozenset()
    """What the link was given for TLS: ``ca`` (a CA file for the CSMS certificate),
    ``cert`` (a charger certificate and key): what a SecurityProfile raise needs (WP A05)."""
    given_csms_roots: str = ""
    """PEM text of the CA file given at start (``--ca-file``): trust anchors a CertificateSigned
    chain may end at (A02.FR.06), beside the roots InstallCertificate installed."""
    given_certificate_expiry: float | None = None
    """notAfter (POSIX seconds) of the charger certificate given at start (``--cert``):
    A03.FR.02 asks for a new one a month before it, as for one CertificateSigned installed."""
