"""The security events of the OCPP 1.6 Security Whitepaper (edition 3, §8), spelled as
the whitepaper spells them (a strict CSMS expects these, not EVerest's 2.0.1-style
``FailedToAuthenticateAtCsms`` / ``InvalidCsmsCertificate``).

Every event goes to the security log (A04.FR.04, N01.FR.05).  Only critical ones are
pushed to the CSMS (A04.FR.01) — and those a requirement names explicitly although
they are not critical: L01.FR.02/03 (firmware signing certificate, firmware
signature) and A02.FR.07 (InvalidChargePointCertificate; EVerest sends it too, "to
accommodate TC_077_CS"), and the TLS failures of a connect (:data:`RAISED_AT_CONNECT`).
"""

from __future__ import annotations

from typing import Final

FIRMWARE_UPDATED: Final = "FirmwareUpdated"
FAILED_TO_AUTHENTICATE_AT_CENTRAL_SYSTEM: Final = "FailedToAuthenticationAtCentralSystem"
CENTRAL_SYSTEM_FAILED_TO_AUTHENTICATE: Final = "CentralSystemFailedToAuthentication"
SETTING_SYSTEM_TIME: Final = "SettingSystemTime"
STARTUP_OF_THE_DEVICE: Final = "StartupOfTheDevice"
RESET_OR_REBOOT: Final = "ResetOrReboot"
SECURITY_LOG_WAS_CLEARED: Final = "SecurityLogWasCleared"
RECONFIGURATION_OF_SECURITY_PARAMETERS: Final = "ReconfigurationOfSecurityParameters"
MEMORY_EXHAUSTION: Final = "MemoryExhaustion"
INVALID_MESSAGES: Final = "InvalidMessages"
ATTEMPTED_REPLAY_ATTACKS: Final = "AttemptedReplayAttacks"
TAMPER_DETECTION_ACTIVATED: Final = "TamperDetectionActivated"
INVALID_FIRMWARE_SIGNATURE: Final = "InvalidFirmwareSignature"
INVALID_FIRMWARE_SIGNING_CERTIFICATE: Final = "InvalidFirmwareSigningCertificate"
INVALID_CENTRAL_SYSTEM_CERTIFICATE: Final = "InvalidCentralSystemCertificate"
INVALID_CHARGE_POINT_CERTIFICATE: Final = "InvalidChargePointCertificate"
INVALID_TLS_VERSION: Final = "InvalidTLSVersion"
INVALID_TLS_CIPHER_SUITE: Final = "InvalidTLSCipherSuite"

CRITICAL: Final = frozenset(
    {
        FIRMWARE_UPDATED,
        SETTING_SYSTEM_TIME,
        STARTUP_OF_THE_DEVICE,
        RESET_OR_REBOOT,
        SECURITY_LOG_WAS_CLEARED,
        MEMORY_EXHAUSTION,
        TAMPER_DETECTION_ACTIVATED,
    }
)
"""WP§8's "critical" column (the same set as EVerest's ``utils::is_critical``)."""

REQUIRED_TO_SEND: Final = frozenset(
    {
        INVALID_FIRMWARE_SIGNATURE,  # L01.FR.03
        INVALID_FIRMWARE_SIGNING_CERTIFICATE,  # L01.FR.02
        INVALID_CHARGE_POINT_CERTIFICATE,  # A02.FR.07
    }
)

ALL_EVENTS: Final = (
    CRITICAL
    | REQUIRED_TO_SEND
    | {
        FAILED_TO_AUTHENTICATE_AT_CENTRAL_SYSTEM,
        CENTRAL_SYSTEM_FAILED_TO_AUTHENTICATE,
        RECONFIGURATION_OF_SECURITY_PARAMETERS,
        INVALID_MESSAGES,
        ATTEMPTED_REPLAY_ATTACKS,
        INVALID_CENTRAL_SYSTEM_CERTIFICATE,
        INVALID_TLS_VERSION,
        INVALID_TLS_CIPHER_SUITE,
    }
)

RAISED_AT_CONNECT: Final = frozenset(
    {
        INVALID_CENTRAL_SYSTEM_CERTIFICATE,  # A00.FR.309/310, .413/414
        INVALID_TLS_VERSION,  # A00.FR.315/419
        INVALID_TLS_CIPHER_SUITE,  # A00.FR.322/426
    }
)
"""Not critical, but "raise the security event and terminate" when a connect's TLS
handshake fails for that reason: pushed then (a CSMS root InstallCertificate refuses
is only logged, as EVerest does)."""

TECH_INFO_MAX: Final = 255
"""SecurityEventNotification.req techInfo: string[0..255] (WP§5.15)."""


def is_pushed(event_type: str) -> bool:
    """Whether the charger sends a SecurityEventNotification for this event."""
    return event_type in CRITICAL or event_type in REQUIRED_TO_SEND
