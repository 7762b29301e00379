"""The module's TLS set-up as esp-tls makes it from an auth mode and the manufacturing NVS.

One function for both users: a WebSocket link (AT+WSCFG <auth_mode>, namespaces
``wss_*``) and the HTTP client (AT+HTTPCFG <auth_mode>, namespaces ``https_*``).
2/3: the server's certificate verified against ``<prefix>_ca.0``, its host name
checked (SNI sent by the connect); 1/3: ``<prefix>_cert.0`` / ``<prefix>_key.0``
presented.  A file the mode needs and the module lacks (or cannot parse) is an
``ssl.SSLError``, as esp-tls fails before the handshake.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from modem.emulator.espat.dialect import EspAt


def stored(m: EspAt, namespace: str) -> bytes | None:
    """``<namespace>.0`` of the manufacturing NVS."""
    found = m.mfg.get((namespace, f"{namespace}.0"))
    return found[1] if found is not None and isinstance(found[1], bytes) else None


def module_context(m: EspAt, auth_mode: int, prefix: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if auth_mode in (2, 3):
        ca = stored(m, f"{prefix}_ca")
        if ca is None:
            raise ssl.SSLError(f"auth_mode {auth_mode} needs {prefix}_ca.0, which is not stored")
        context.load_verify_locations(cadata=ca.decode("ascii", "replace"))
    else:  # auth_mode 0/1: the server is not verified
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if auth_mode in (1, 3):
        cert, key = stored(m, f"{prefix}_cert"), stored(m, f"{prefix}_key")
        if cert is None or key is None:
            raise ssl.SSLError(f"auth_mode {auth_mode} needs {prefix}_cert.0 and {prefix}_key.0")
        with tempfile.TemporaryDirectory() as tmp:  # ssl loads a chain from files only
            paths = [os.path.join(tmp, name) for name in ("cert.pem", "key.pem")]
            for path, data in zip(paths, (cert, key), strict=True):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
            context.load_cert_chain(*paths)
    return context


def clock_refusal(m: EspAt, auth_mode: int) -> str | None:
    """Why a verifying handshake fails now: the clock still says 1970 (None: it does not)."""
    if auth_mode in (2, 3) and not m.clock_set:
        return (
            "the server's certificate is not yet valid by the module's clock "
            "(1970: SNTP has not set it)"
        )
    return None
