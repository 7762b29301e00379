"""Configuration keys (OCPP 1.6 §9.1): typed and validated; no I/O.

The CSMS changes them at run time and a real charger keeps them across reboots:
the core turns every accepted change into a ``SaveConfig`` action, which its
shell writes to the store before anything else happens.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from .meter_readings import UNITS
from .profiles import CORE, FEATURE_PROFILES, supported_text

LOCAL_LIST, RESERVATION, SMART, FIRMWARE = (
    "LocalAuthListManagement",
    "Reservation",
    "SmartCharging",
    "FirmwareManagement",
)

log = logging.getLogger(__name__)

MEASURANDS = {
    "Energy.Active.Import.Register",
    "Energy.Active.Export.Register",
    "Energy.Reactive.Import.Register",
    "Energy.Reactive.Export.Register",
    "Energy.Active.Import.Interval",
    "Energy.Active.Export.Interval",
    "Power.Active.Import",
    "Power.Active.Export",
    "Power.Offered",
    "Power.Factor",
    "Current.Import",
    "Current.Export",
    "Current.Offered",
    "Voltage",
    "Frequency",
    "Temperature",
    "SoC",
    "RPM",
}
PHASE_ROTATIONS = {"NotApplicable", "Unknown", "RST", "RTS", "SRT", "STR", "TRS", "TSR"}


class InvalidValue(ValueError):
    pass


def _bool(text: str) -> str:
    if text.lower() not in ("true", "false"):
        raise InvalidValue("expected true or false")
    return text.lower()


MAX_INTEGER = 2**31 - 1  # OCPP integers are 32-bit; anything larger is a typo or an attack
_DIGITS = re.compile(r"[0-9]+")
_HEX = re.compile(r"[0-9a-fA-F]+")


def _uint(text: str) -> str:
    """Plain decimal digits only: int() would also take " 10 ", "1_0" and non-ASCII digits."""
    if not _DIGITS.fullmatch(text):
        if text.startswith("-") and _DIGITS.fullmatch(text[1:]):
            raise InvalidValue("must not be negative")
        raise InvalidValue("expected a whole number in decimal digits")
    value = int(text)
    if value > MAX_INTEGER:
        raise InvalidValue(f"must be at most {MAX_INTEGER}")
    return str(value)


def _positive(text: str) -> str:
    value = _uint(text)
    if value == "0":
        raise InvalidValue("must be at least 1")
    return value


MEASURAND_LIST_MAX = 10
"""The *DataMaxLength keys' value: the most measurands one of these lists may name."""


def _measurands(text: str) -> str:
    """OCPP 1.6 §9.1 (MeterValuesSampledData, MeterValuesAlignedData, StopTxn*Data):
    "If the comma separated list contains one or more measurands that are not supported
    by this Charge Point", ChangeConfiguration SHALL be Rejected and nothing changes
    (EVerest libocpp #485); so is a list longer than its *MaxLength key."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in items if item not in MEASURANDS]
    if unknown:
        raise InvalidValue(f"unknown measurand {unknown[0]!r}")
    unmeasured = [item for item in items if item not in UNITS]
    if unmeasured:
        raise InvalidValue(
            f"this charger does not measure {unmeasured[0]!r} (it measures {', '.join(UNITS)})"
        )
    if len(items) > MEASURAND_LIST_MAX:
        raise InvalidValue(f"{len(items)} measurands, at most {MEASURAND_LIST_MAX}")
    return ",".join(items)


def _phase_rotation(connectors: int) -> Callable[[str], str]:
    """``0.RST,1.RTS``: one entry per connector of this charger (0 is the grid connection)."""

    def check(text: str) -> str:
        for item in text.split(","):
            connector, _, rotation = item.strip().partition(".")
            if not _DIGITS.fullmatch(connector) or rotation not in PHASE_ROTATIONS:
                raise InvalidValue(f"{item!r} is not <connector>.<rotation>")
            if int(connector) > connectors:
                raise InvalidValue(f"{item!r}: this charger has connectors 0 to {connectors}")
        return text

    return check


def check_authorization_key(text: str) -> str:
    """OCPP 1.6 Security Whitepaper: at least 16 bytes, at most 20, written in hexadecimal
    ("a string of up to 40 hexadecimal digits"), i.e. 32 to 40 hex digits, an even count.

    The hex text itself is what goes into HTTP Basic auth as the password.
    """
    if not _HEX.fullmatch(text) or len(text) % 2 or not 32 <= len(text) <= 40:
        raise InvalidValue(
            "AuthorizationKey must be 16 to 20 bytes written as 32 to 40 hexadecimal digits "
            f"(got {len(text)} characters{'' if _HEX.fullmatch(text or '0') else ', not all hex'})"
        )
    return text


def _security_profile(text: str) -> str:
    """SecurityProfile (WP§7.6): 0 to 3 (whether a change is allowed is the core's call:
    never lower over OCPP, A00.FR.005; a raise only with its prerequisites, A05)."""
    if text not in ("0", "1", "2", "3"):
        raise InvalidValue("SecurityProfile is 0, 1, 2 or 3")
    return text


def check_cpo_name(text: str) -> str:
    """CpoName (WP§7.5): the O of the charger's certificate requests; bounded."""
    if len(text) > 64 or any(not c.isprintable() for c in text):
        raise InvalidValue("CpoName is at most 64 printable characters (an X.509 O)")
    return text


def _int(text: str) -> str:
    """A whole number that may be negative (GetLocalListVersion's -1 is not a key value,
    but MaxEnergyOnInvalidId and friends are plain integers)."""
    return ("-" + _uint(text[1:])) if text.startswith("-") else _uint(text)


def _csl_of(allowed: tuple[str, ...]) -> Callable[[str], str]:
    """A comma-separated list whose items are all in ``allowed`` (no duplicates)."""

    def check(text: str) -> str:
        items = [item.strip() for item in text.split(",") if item.strip()]
        for item in items:
            if item not in allowed:
                raise InvalidValue(f"{item!r} is not one of {', '.join(allowed)}")
        if len(set(items)) != len(items):
            raise InvalidValue("an item is listed twice")
        return ",".join(items)

    return check


@dataclass(frozen=True)
class KeySpec:
    name: str
    default: str
    check: Callable[[str], str]
    readonly: bool = False
    write_only: bool = False
    profile: str = CORE
    """The feature profile the key belongs to: without that profile it does not exist."""
    set_at_charger: bool = False
    """Read-only over OCPP, but set at the charger (``cpsim run --security-extension``)
    and kept in the store: the stored value is read back, as a writable key's."""


def _specs(connectors: int, profiles: frozenset[str]) -> list[KeySpec]:
    sampled = "Energy.Active.Import.Register,Power.Active.Import,Current.Import"
    return [
        KeySpec("AllowOfflineTxForUnknownId", "false", _bool),
        KeySpec("AuthorizationCacheEnabled", "true", _bool),
        KeySpec("AuthorizeRemoteTxRequests", "true", _bool),
        KeySpec("ClockAlignedDataInterval", "0", _uint),
        KeySpec("ConnectionTimeOut", "60", _uint),
        KeySpec(
            "ConnectorPhaseRotation",
            f"{','.join(f'{i}.RST' for i in range(connectors + 1))}",
            _phase_rotation(connectors),
        ),
        KeySpec("GetConfigurationMaxKeys", "50", _uint, readonly=True),
        KeySpec("HeartbeatInterval", "300", _positive),
        KeySpec("LocalAuthorizeOffline", "true", _bool),
        KeySpec("LocalPreAuthorize", "false", _bool),
        KeySpec("MaxEnergyOnInvalidId", "0", _uint),
        KeySpec("MeterValuesAlignedData", "Energy.Active.Import.Register", _measurands),
        KeySpec("MeterValuesAlignedDataMaxLength", str(MEASURAND_LIST_MAX), _uint, readonly=True),
        KeySpec("MeterValuesSampledData", sampled, _measurands),
        KeySpec("MeterValuesSampledDataMaxLength", str(MEASURAND_LIST_MAX), _uint, readonly=True),
        KeySpec("MeterValueSampleInterval", "60", _uint),
        KeySpec("NumberOfConnectors", str(connectors), _uint, readonly=True),
        KeySpec("ResetRetries", "3", _uint),
        KeySpec("StopTransactionOnEVSideDisconnect", "true", _bool),
        KeySpec("StopTransactionOnInvalidId", "true", _bool),
        KeySpec("StopTransactionMaxMeterValues", "100", _uint, readonly=True),
        KeySpec("StopTxnAlignedData", "", _measurands),
        KeySpec("StopTxnAlignedDataMaxLength", str(MEASURAND_LIST_MAX), _uint, readonly=True),
        KeySpec("StopTxnSampledData", "", _measurands),
        KeySpec("StopTxnSampledDataMaxLength", str(MEASURAND_LIST_MAX), _uint, readonly=True),
        KeySpec("SupportedFeatureProfiles", supported_text(profiles), str, readonly=True),
        KeySpec("TransactionMessageAttempts", "3", _positive),
        KeySpec("TransactionMessageRetryInterval", "60", _uint),
        KeySpec("UnlockConnectorOnEVSideDisconnect", "true", _bool),
        KeySpec("WebSocketPingInterval", "60", _uint),
        KeySpec("AuthorizationKey", "", check_authorization_key, write_only=True),
        # Security Whitepaper ed. 3 §7 (the certificate keys: core/certificates.py)
        KeySpec("SecurityProfile", "0", _security_profile),
        KeySpec("CpoName", "", check_cpo_name),
        # LocalAuthListManagement (§9.2)
        KeySpec("LocalAuthListEnabled", "true", _bool, profile=LOCAL_LIST),
        KeySpec("LocalAuthListMaxLength", "1000", _uint, readonly=True, profile=LOCAL_LIST),
        KeySpec("SendLocalListMaxLength", "100", _uint, readonly=True, profile=LOCAL_LIST),
        # Reservation (§9.3)
        KeySpec("ReserveConnectorZeroSupported", "true", _bool, readonly=True, profile=RESERVATION),
        # SmartCharging (§9.4)
        KeySpec("ChargeProfileMaxStackLevel", "8", _uint, readonly=True, profile=SMART),
        KeySpec(
            "ChargingScheduleAllowedChargingRateUnit",
            "Current,Power",
            _csl_of(("Current", "Power")),
            readonly=True,
            profile=SMART,
        ),
        KeySpec("ChargingScheduleMaxPeriods", "48", _uint, readonly=True, profile=SMART),
        KeySpec("ConnectorSwitch3to1PhaseSupported", "false", _bool, readonly=True, profile=SMART),
        KeySpec("MaxChargingProfilesInstalled", "20", _uint, readonly=True, profile=SMART),
        # cpsim's own: SetChargingProfile for a connector the charger lacks gets E3.39's
        # CALLERROR PropertyConstraintViolation (true), or status Rejected as EVerest and
        # the SAP simulator answer (false).
        KeySpec("UnknownConnectorProfileCallError", "true", _bool, readonly=True, profile=SMART),
        # FirmwareManagement (E3.90's §9.5.1)
        KeySpec(
            "SupportedFileTransferProtocols",
            "FTP,HTTP,HTTPS",
            _csl_of(("FTP", "FTPS", "HTTP", "HTTPS")),
            readonly=True,
            profile=FIRMWARE,
        ),
        # Security Whitepaper ed. 3 §7 (CpoName and SecurityProfile: the profiles' part)
        KeySpec("CertificateSignedMaxChainSize", "10000", _uint, readonly=True),
        KeySpec("CertificateStoreMaxLength", "20", _uint, readonly=True),
        KeySpec("AdditionalRootCertificateCheck", "false", _bool, readonly=True),
        # cpsim's own: true = a charger with the whole security extension: security
        # events pushed (WP A04) and the plain UpdateFirmware answered CALLERROR
        # NotSupported (L01.FR.20); false keeps a charger without it as it was.  Set
        # with cpsim run --security-extension, and kept (set_at_charger).
        KeySpec("SecurityExtension", "false", _bool, readonly=True, set_at_charger=True),
        # cpsim's own: what a restart does with a transaction a power loss interrupted.
        # false (the default, as most chargers): end it with StopTransaction reason PowerLoss.
        KeySpec("ResumeTransactionsAfterPowerLoss", "false", _bool),
    ]


@functools.cache
def _spec_table(connectors: int, profiles: frozenset[str]) -> Mapping[str, KeySpec]:
    """The key table of a charger of this build, shared (read-only) by every charger with
    the same connectors and profiles: a fleet does not build it ten thousand times."""
    return MappingProxyType(
        {spec.name: spec for spec in _specs(connectors, profiles) if spec.profile in profiles}
    )


class Configuration:
    """Key values as strings (OCPP carries them as strings); typed getters for the core.

    ``stored`` are the values the store kept (they win over the defaults);
    ``overrides`` (from the command line or a scenario) win over both and are not
    persisted.  ``changes`` collects what must be written to the store.
    """

    def __init__(
        self,
        connectors: int,
        stored: dict[str, str] | None = None,
        overrides: dict[str, str] | None = None,
        profiles: frozenset[str] = frozenset(FEATURE_PROFILES),
    ) -> None:
        self.specs = _spec_table(connectors, profiles)
        self._values: dict[str, str] = {}
        """Only the values that differ from their key's default: the defaults are the
        shared key table's, not copied into every charger of a fleet."""
        self.changes: list[tuple[str, str]] = []
        self.ignored: list[str] = []
        """Stored values that no longer pass their check (one line each, no values)."""
        for name, value in (stored or {}).items():
            spec = self.specs.get(name)
            if spec is None or (spec.readonly and not spec.set_at_charger):
                continue
            try:
                self._put(name, spec.check(str(value)))
            except InvalidValue as exc:
                self.ignored.append(f"{name}: {exc}")
        for name, value in (overrides or {}).items():
            if name not in self.specs:
                raise KeyError(f"unknown configuration key {name!r}")
            self._put(name, self.specs[name].check(str(value)))
        self._put("NumberOfConnectors", str(connectors))

    def _put(self, name: str, value: str) -> None:
        spec = self.specs.get(name)
        if spec is not None and value == spec.default:
            self._values.pop(name, None)
        else:
            self._values[name] = value

    def get(self, name: str) -> str:
        """The key's value (KeyError for a key this charger does not have)."""
        value = self._values.get(name)
        return self.specs[name].default if value is None else value

    def get_int(self, name: str) -> int:
        return int(self.get(name))

    def get_bool(self, name: str) -> bool:
        return self.get(name) == "true"

    def get_list(self, name: str) -> list[str]:
        return [item for item in self.get(name).split(",") if item]

    def set(self, name: str, value: str) -> str:
        """Apply a ChangeConfiguration; returns its status string."""
        spec = self.specs.get(name)
        if spec is None:
            return "NotSupported"
        if spec.readonly:
            return "Rejected"
        try:
            checked = spec.check(value)
        except InvalidValue as exc:
            # the value itself is not logged: it may be a secret (AuthorizationKey)
            log.info("ChangeConfiguration %s rejected: %s", name, exc)
            return "Rejected"
        self._put(name, checked)
        self.changes.append((name, checked))
        return "Accepted"

    def set_internal(self, name: str, value: str) -> None:
        """A change the charger makes itself (e.g. the boot interval), bypassing read-only."""
        self._put(name, value)
        self.changes.append((name, value))

    def report(self, keys: list[str] | None) -> tuple[list[dict[str, Any]], list[str]]:
        """GetConfiguration: (configurationKey entries, unknownKey); write-only keys never leave."""
        names = keys if keys else [n for n, s in self.specs.items() if not s.write_only]
        known, unknown = [], []
        for name in names:
            spec = self.specs.get(name)
            if spec is None or spec.write_only:
                unknown.append(name)
            else:
                known.append({"key": name, "readonly": spec.readonly, "value": self.get(name)})
        return known, unknown
