"""The charger certificate a CertificateSigned installed (WP A02), as files a TLS stack can
load (Python's ``ssl`` and the modems' uploads take files, not text).

The core keeps the certificate chain and its key in the store; the station writes
them under its state dir, ``tls/charger.pem`` (0644) and ``tls/charger-key.pem``
(0600, in a 0700 dir), each replaced whole, and only when they changed.  A link's
TLS settings then use this identity instead of the ``--cert`` / ``--key`` files when
it is the newer one by start of validity (A02.FR.09) and already valid (A02.FR.08):
:func:`newest_identity`.  Likewise the CentralSystemRootCertificates installed over
OCPP (``tls/csms-roots.pem``) stand in for ``--ca-file`` when none was given.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from pathlib import Path

from .tlsfiles import TlsIdentity, check_identity

TLS_DIR = "tls"
CERT_NAME, KEY_NAME = "charger.pem", "charger-key.pem"
ROOTS_NAME = "csms-roots.pem"


def write_charger_identity(state_dir: Path, cert_pem: str, key_pem: str) -> TlsIdentity:
    """Write (if changed) and check the pair; :class:`TlsFileError` when it is unusable."""
    directory = state_dir / TLS_DIR
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    cert_path, key_path = directory / CERT_NAME, directory / KEY_NAME
    _replace(key_path, key_pem.encode(), 0o600)
    _replace(cert_path, cert_pem.encode(), 0o644)
    return check_identity(cert_path, key_path)


def write_installed_roots(state_dir: Path, roots_pem: str) -> Path:
    """The CentralSystemRootCertificates installed over OCPP (WP M05) as a CA file."""
    directory = state_dir / TLS_DIR
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / ROOTS_NAME
    _replace(path, roots_pem.encode(), 0o644)
    return path


def _replace(path: Path, data: bytes, mode: int) -> None:
    with contextlib.suppress(OSError):
        if path.read_bytes() == data:
            return
    part = path.with_name(path.name + ".part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(part, path)
    except BaseException:
        with contextlib.suppress(OSError):
            part.unlink()
        raise


def newest_identity(
    given: TlsIdentity | None, installed: TlsIdentity | None, now: dt.datetime | None = None
) -> TlsIdentity | None:
    """A02.FR.08/09: the installed one once valid, when it started no earlier than the given."""
    now = now or dt.datetime.now(dt.UTC)
    if installed is None or installed.certificate.not_valid_before_utc > now:
        return given
    if given is None:
        return installed
    newer = installed.certificate.not_valid_before_utc >= given.certificate.not_valid_before_utc
    return installed if newer else given
