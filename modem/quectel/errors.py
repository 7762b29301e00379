"""Failures of the Quectel dialect, each saying what to check on site."""

from __future__ import annotations

from modem.at import ATError


class QuectelError(ATError):
    """Base of the dialect's errors."""


class SimError(QuectelError):
    """The SIM is missing, locked (PIN/PUK) or broken."""


class RegistrationError(QuectelError):
    """The modem is not on a network: registration denied or not done in time."""


class ActivationError(QuectelError):
    """The PDP context (the data session on the APN) could not be activated."""

    def __init__(self, apn: str, reason: str) -> None:
        super().__init__(f'PDP activation on APN "{apn}" refused: {reason}')
        self.apn = apn
        self.reason = reason


class SocketOpenError(QuectelError):
    """``AT+QIOPEN`` failed; ``code`` is the 55x-57x QI error when the modem gave one."""

    def __init__(self, host: str, port: int, reason: str, code: int | None = None) -> None:
        super().__init__(f"TCP connection to {host}:{port} failed: {reason}")
        self.host = host
        self.port = port
        self.reason = reason
        self.code = code


class ModemUnresponsive(QuectelError):
    """The module answers nothing, not even ``AT``, and ``AT+CFUN=1,1`` did not bring
    it back (no ``RDY``): only a power cycle can."""
