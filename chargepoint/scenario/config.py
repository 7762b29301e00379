"""What a scenario runs against: the charger, the link to the CSMS, and the CSMS.

Secrets (the AuthorizationKey, an APN or Wi-Fi password, a CSMS URL with
credentials) can be written as ``${ENV_VAR}`` so scenario files can be
committed; they are expanded only when a run starts (:func:`expand_env`), so
``validate`` works without them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    Field,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)
from pydantic import model_validator as validates

from chargepoint.core.config import Configuration, InvalidValue
from chargepoint.core.profiles import FEATURE_PROFILES, parse_profiles
from chargepoint.transport.handshake import MAX_ID_LENGTH, check_base_url, check_charge_point_id

from .errors import ProblemList, brief, problem, suggest
from .fields import ConfigValue, Model, Shorthand
from .messages import CsmsAnswer

_ENV_REF: Final = re.compile(r"\$\{([^}]*)\}")
_ENV_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class MissingEnv(LookupError):
    """A ``${NAME}`` in the scenario has no value in the environment."""


def _env_refs(value: str) -> str:
    rest = _ENV_REF.sub("", value.replace("$$", ""))
    if "${" in rest:
        raise problem("unclosed ${ in " + brief(value) + " (write ${NAME}, or $$ for a $)")
    for name in _ENV_REF.findall(value.replace("$$", "")):
        if not _ENV_NAME.fullmatch(name):
            raise problem(f"{brief('${' + name + '}')} is not an environment variable name")
    return value


EnvString = Annotated[str, AfterValidator(_env_refs)]
"""A string that may contain ``${NAME}`` (an environment variable) and ``$$`` (a dollar)."""


def expand_env(value: str, environ: Mapping[str, str]) -> str:
    """Replace each ``${NAME}`` with its value and ``$$`` with ``$``; raise MissingEnv if unset."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        if name not in environ:
            raise MissingEnv(f"environment variable {name} is not set")
        return environ[name]

    return re.sub(r"\$\$|\$\{([^}]*)\}", one, value)


OCPP_KEYS: Final = (
    # Every OCPP 1.6 key, to tell a standard key the station lacks from a typo; the keys a
    # scenario can set are the station's own (chargepoint.station.config).
    # Core profile (OCPP 1.6 §9.1), required and optional
    "AllowOfflineTxForUnknownId",
    "AuthorizationCacheEnabled",
    "AuthorizeRemoteTxRequests",
    "BlinkRepeat",
    "ClockAlignedDataInterval",
    "ConnectionTimeOut",
    "ConnectorPhaseRotation",
    "ConnectorPhaseRotationMaxLength",
    "GetConfigurationMaxKeys",
    "HeartbeatInterval",
    "LightIntensity",
    "LocalAuthorizeOffline",
    "LocalPreAuthorize",
    "MaxEnergyOnInvalidId",
    "MeterValuesAlignedData",
    "MeterValuesAlignedDataMaxLength",
    "MeterValuesSampledData",
    "MeterValuesSampledDataMaxLength",
    "MeterValueSampleInterval",
    "MinimumStatusDuration",
    "NumberOfConnectors",
    "ResetRetries",
    "StopTransactionOnEVSideDisconnect",
    "StopTransactionOnInvalidId",
    "StopTxnAlignedData",
    "StopTxnAlignedDataMaxLength",
    "StopTxnSampledData",
    "StopTxnSampledDataMaxLength",
    "SupportedFeatureProfiles",
    "SupportedFeatureProfilesMaxLength",
    "TransactionMessageAttempts",
    "TransactionMessageRetryInterval",
    "UnlockConnectorOnEVSideDisconnect",
    "WebSocketPingInterval",
    # Local Auth List Management, Reservation, Smart Charging (§9.2-9.4)
    "LocalAuthListEnabled",
    "LocalAuthListMaxLength",
    "SendLocalListMaxLength",
    "ReserveConnectorZeroSupported",
    "ChargeProfileMaxStackLevel",
    "ChargingScheduleAllowedChargingRateUnit",
    "ChargingScheduleMaxPeriods",
    "ConnectorSwitch3to1PhaseSupported",
    "MaxChargingProfilesInstalled",
    # Security whitepaper (edition 3)
    "AdditionalRootCertificateCheck",
    "AuthorizationKey",
    "CertificateSignedMaxChainSize",
    "CertificateStoreMaxLength",
    "CpoName",
    "SecurityProfile",
)
MAX_CONNECTORS: Final = 99

_SET_ELSEWHERE: Final = {
    "NumberOfConnectors": "follows `connectors:`; set that instead",
    "AuthorizationKey": "is set by `password:` (which can be ${AN_ENV_VAR})",
    "SecurityProfile": "is set by `security_profile:`",
}


def _time_scale(value: Any) -> float | str:
    if value == "virtual":
        return "virtual"
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    raise problem(
        f"expected a positive number, the speed-up (60: a minute passes every second), "
        f"got {brief(value)}"
    )


TimeScale = Annotated[
    float | Literal["virtual"],
    PlainValidator(_time_scale),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"const": "virtual", "description": "an old alias of 3600 (a speed-up)"},
            ]
        }
    ),
]
"""A speed-up of the charger's clock; ``virtual`` is an alias of 3600 kept for old files."""


FeatureProfile = Literal[
    "Core",
    "FirmwareManagement",
    "LocalAuthListManagement",
    "Reservation",
    "SmartCharging",
    "RemoteTrigger",
]


class Charger(Model):
    """The simulated charge point."""

    id: str = Field(default="CP001", min_length=1, max_length=MAX_ID_LENGTH)
    """Charge point identity: the last part of the CSMS URL, and the Basic-auth user
    (printable ASCII without spaces and without ``/ ? # % :``)."""
    connectors: int = Field(default=1, ge=1, le=MAX_CONNECTORS)
    vendor: str = Field(default="cpsim", min_length=1, max_length=20)
    model: str = Field(default="ModemSim", min_length=1, max_length=20)
    serial: str | None = Field(default=None, max_length=25)
    firmware: str | None = Field(default=None, max_length=50)
    feature_profiles: list[FeatureProfile] = list(FEATURE_PROFILES)
    """The OCPP 1.6 feature profiles the charger has (Core always): a profile left out
    answers its calls NotSupported and has none of its configuration keys."""
    configuration: dict[str, ConfigValue] = {}
    """OCPP configuration keys to start with (values are sent as strings)."""
    password: EnvString | None = None
    """AuthorizationKey for HTTP Basic auth (security profile 1); ``${ENV_VAR}`` keeps it out
    of the file."""
    security_profile: int | None = Field(default=None, ge=0, le=3)
    """OCPP security profile (SecurityProfile): 1 Basic auth, 2 wss:// + Basic auth, 3
    wss:// + client certificate.  With the local CSMS, 2 and 3 make a development PKI
    for the run and the CSMS serves wss:// (3: a client certificate required, CN = the
    charger's id); unset: none (the URL's scheme decides)."""
    time_scale: TimeScale = 1.0
    """A speed-up: charger seconds per real second (3600: an hour a second).  Every duration
    in the scenario is in charger time.  Real delays (a modem's round trips) are sped up too,
    so a run warns when they become a large part of the intervals it checks.  ``virtual`` is
    an old alias of 3600, not a clock that skips idle time."""
    start_time: AwareDatetime | None = None
    """The charger's clock at start (ISO 8601 with a zone); the CSMS resets it at boot."""

    @field_validator("id")
    @classmethod
    def _id(cls, text: str) -> str:
        """The rule ``cpsim run --id`` applies, with its message."""
        try:
            return check_charge_point_id(text)
        except ValueError as exc:
            raise problem(str(exc)) from None

    @field_validator("configuration")
    @classmethod
    def _keys(cls, configuration: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        """Each key and value as the station itself takes them (its own key table), so a file
        that validates is one whose charger starts.  A field check, not a model check, so it
        runs (and reports) even when another charger field is wrong."""
        # connectors failed its own check: assume the most, so only that error is reported
        profiles = parse_profiles(info.data.get("feature_profiles", FEATURE_PROFILES))
        specs = Configuration(
            info.data.get("connectors", MAX_CONNECTORS), None, None, profiles
        ).specs
        every = Configuration(MAX_CONNECTORS).specs
        found = ProblemList()
        for key, value in configuration.items():
            where = (key,)
            spec = specs.get(key)
            if key in _SET_ELSEWHERE:
                found.add(where, f"{key} {_SET_ELSEWHERE[key]}", at_key=True)
            elif spec is None and key in every:
                found.add(
                    where,
                    f"{key} belongs to the {every[key].profile} feature profile, "
                    "which charger.feature_profiles leaves out",
                    at_key=True,
                )
            elif spec is None:
                found.add(
                    where,
                    _missing_key(key, [k for k in specs if k not in _SET_ELSEWHERE]),
                    at_key=True,
                )
            else:
                try:
                    spec.check(value)
                except InvalidValue as exc:
                    found.add(where, f"{key} cannot be {value!r}: {exc}")
        found.raise_if_any()
        return configuration


def _missing_key(key: str, known: list[str]) -> str:
    if key in OCPP_KEYS:
        return f"{key} is an OCPP 1.6 key the simulated charger does not implement"
    hint = suggest(key, known)
    return f"unknown configuration key {key!r}" + (
        hint or f" (the charger's keys: {', '.join(known)})"
    )


# --- links ---------------------------------------------------------------------------------


class DirectLinkConfig(Model):
    """A WebSocket straight from this machine, no modem."""

    type: Literal["direct"] = "direct"


class Apn(Model):
    name: str = "internet"
    user: str = ""
    password: EnvString = ""
    auth: Literal["none", "pap", "chap"] | None = None
    """AT+QICSGP authentication; unset: PAP when there is a user, else none."""


class Ec200uLinkConfig(Model):
    """Quectel EC200U: the charger speaks WebSocket over raw TCP AT commands."""

    type: Literal["ec200u"]
    port: str = "emulator"
    """``emulator`` (the bundled modem emulator), a serial device, or a pyserial URL."""
    baudrate: int = Field(default=115200, gt=0)
    apn: Annotated[Apn, Shorthand("name", str)] = Apn()
    context: int = Field(default=1, ge=1, le=7)
    """PDP context id."""


class Wifi(Model):
    ssid: str = Field(min_length=1, max_length=32)
    password: EnvString = ""


class EspAtLinkConfig(Model):
    """ESP-AT: the module's own WebSocket commands carry whole messages."""

    type: Literal["esp-at"]
    port: str = "emulator"
    baudrate: int = Field(default=115200, gt=0)
    wifi: Wifi | None = None
    """Required with a real port; the emulator needs none."""

    @validates(mode="after")
    def _wifi(self) -> EspAtLinkConfig:
        if self.wifi is None and self.port != "emulator":
            raise problem(f"a real ESP-AT module on {self.port} needs `wifi: {{ssid: ...}}`")
        return self


LinkType = Literal["direct", "ec200u", "esp-at"]
LinkConfig = Annotated[
    DirectLinkConfig | Ec200uLinkConfig | EspAtLinkConfig, Field(discriminator="type")
]


def uses_emulator(link: DirectLinkConfig | Ec200uLinkConfig | EspAtLinkConfig) -> bool:
    return not isinstance(link, DirectLinkConfig) and link.port == "emulator"


# --- the CSMS ------------------------------------------------------------------------------


SecurityProfileNumber = Literal[1, 2, 3]


class CsmsTls(Model):
    """The local CSMS on TLS (wss://), with a development PKI made for the run (what
    ``cpsim pki init`` writes): a CA, the CSMS's certificate for 127.0.0.1 and
    localhost, and the charger's (CN = charger.id, O = its CpoName).  The charger is
    given the CA (its ``--ca-file``) and its certificate and key (``--cert``/``--key``),
    so a SecurityProfile raised over ChangeConfiguration finds them installed (WP A05)."""

    pki: Literal["auto"] = "auto"
    """``auto``: made for the run in a temp dir (the only kind for now)."""
    security_profiles: list[SecurityProfileNumber] = Field(default=[2], min_length=1)
    """The profiles the CSMS lets in, on one port (Security Whitepaper ed. 3 Table 2):
    1 ws:// + Basic auth, 2 wss:// + Basic auth, 3 wss:// + a client certificate.
    ``[1, 2]``: ws:// and wss:// side by side, for a charger raised from 1 to 2;
    ``[2, 3]``: the client certificate optional, for a raise from 2 to 3."""
    charger_certificate: bool = True
    """The charger gets its certificate and key from the PKI; false: none (profile 3
    impossible, and a raise to 3 is Rejected, A05.FR.04)."""

    @field_validator("security_profiles")
    @classmethod
    def _profiles(cls, profiles: list[int]) -> list[int]:
        if len(set(profiles)) != len(profiles):
            raise problem(f"a profile is listed twice in {brief(profiles)}")
        if not {2, 3} & set(profiles):
            raise problem(
                f"{brief(profiles)} has no TLS profile (2 or 3); leave `tls` out for ws:// only"
            )
        return sorted(profiles)


class Csms(Model):
    """``local`` (the bundled CSMS, which the scenario can steer) or the URL of another one."""

    url: EnvString = "local"
    """``local``, or ``ws://``/``wss://`` up to (not including) the charge point id."""
    answers: list[CsmsAnswer] = []
    """How the local CSMS answers from the start, e.g. BootNotification Pending."""
    tls: CsmsTls | None = None
    """The local CSMS serves wss:// with a development PKI made for the run; unset: ws://
    (or, with charger.security_profile 2 or 3, wss:// for that profile alone)."""
    signing_ca: Literal["auto"] | None = None
    """``auto``: the local CSMS signs the charger's SignCertificate CSR with the run's
    development CA and sends the chain in a CertificateSigned (WP A02); in a ``csms``
    call's payload, ``local:pki/ca.pem`` stands for that CA's certificate (to install it
    as the CentralSystemRootCertificate).  Unset: SignCertificate is Rejected."""

    @validates(mode="after")
    def _url(self) -> Csms:
        if not self.is_local and "${" not in self.url:
            if not self.url.startswith(("ws://", "wss://")):
                raise problem(
                    f"expected `local` or a ws:// or wss:// URL, got {brief(self.url)}", ("url",)
                )
            try:
                check_base_url(self.url)
            except ValueError as exc:
                raise problem(str(exc), ("url",)) from None
        for name in ("answers", "tls", "signing_ca"):
            if getattr(self, name) and not self.is_local:
                raise problem(
                    f"{name} {'steer' if name == 'answers' else 'is for'} the local CSMS; "
                    f"this scenario uses {self.url}",
                    (name,),
                    at_key=True,
                )
        return self

    @property
    def is_local(self) -> bool:
        return self.url == "local"
