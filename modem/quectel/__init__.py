"""Quectel QI dialect (EC200U, EC2x, EG9x, BG9x): PDP context and buffer-mode TCP sockets."""

from .dialect import QI_ERRORS, QUECTEL, qi_reason
from .errors import ActivationError, QuectelError, RegistrationError, SimError, SocketOpenError
from .modem import ModemIdentity, QuectelModem, Registration
from .ssl import FileUploadError, QuectelSslSocket, TlsOpenError
from .tcp import QuectelSocket

__all__ = [
    "QI_ERRORS",
    "QUECTEL",
    "ActivationError",
    "ModemIdentity",
    "QuectelError",
    "QuectelModem",
    "QuectelSocket",
    "QuectelSslSocket",
    "FileUploadError",
    "TlsOpenError",
    "Registration",
    "RegistrationError",
    "SimError",
    "SocketOpenError",
    "qi_reason",
]
