"""The EC200U's TLS stack, emulated with Python's ssl module (modem-at.md A.12).

A QSSL client is a :class:`QiSocket` whose connection is real TLS to the real
server, made with the files the host uploaded (AT+QFUPL) and the SSL context's
AT+QSSLCFG settings, reproducing what the field found:

* ``sni`` defaults to 0: no server name is sent, so a virtual-hosted server
  presents its default certificate (and verification fails);
* ``ignorelocaltime`` defaults to 1: validity dates are not checked; with 0 they
  are checked against the module's clock, and a clock never set from the network
  (1980) makes every certificate "not yet valid";
* the host name is checked against the certificate when ``seclevel`` >= 1 (with or
  without SNI);
* TLS 1.2 at most (an mbedTLS-era stack: [verify] on the target firmware), so a
  refused client certificate fails inside the handshake;
* every failure, whatever its cause, is ``+QSSLOPEN: <id>,566`` (A.8); the real
  cause is only logged here, for the person running the emulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import ssl
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from modem.emulator.ec200u.state import QiSocket, default_sslcfg

if TYPE_CHECKING:
    from modem.emulator.ec200u.dialect import Ec200u

log = logging.getLogger("modem.emulator.ec200u.tls")

NO_CHECK_TIME = 0x200000  # OpenSSL X509_V_FLAG_NO_CHECK_TIME: ignorelocaltime 1
_VERSIONS = {
    0: ssl.TLSVersion.SSLv3,
    1: ssl.TLSVersion.TLSv1,
    2: ssl.TLSVersion.TLSv1_1,
    3: ssl.TLSVersion.TLSv1_2,
}


class HandshakeRefused(Exception):
    """Why the emulated stack fails a handshake (logged; the host only sees 566)."""


def sslcfg(m: Ec200u, sslctx: int) -> dict[str, int | str]:
    return m.state.sslcfg.setdefault(sslctx, default_sslcfg())


def file_name(name: str) -> str:
    """``"UFS:ca.pem"`` and ``"ca.pem"`` are the same file."""
    return name[4:] if name.upper().startswith("UFS:") else name


def _file(m: Ec200u, cfg: dict[str, int | str], key: str) -> bytes:
    name = file_name(str(cfg[key]))
    data = m.state.files.get(name)
    if not name or data is None:
        raise HandshakeRefused(f"{key} {name!r} is not in the module's file system")
    return data


def build_context(m: Ec200u, cfg: dict[str, int | str]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    version = int(cfg["sslversion"])
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    if version in _VERSIONS:
        context.minimum_version = _VERSIONS[version]
        context.maximum_version = _VERSIONS[version]
    context.check_hostname = False  # checked after the handshake: SNI and check apart
    seclevel = int(cfg["seclevel"])
    if seclevel == 0:
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        context.load_verify_locations(cadata=_file(m, cfg, "cacert").decode("ascii", "replace"))
    except ssl.SSLError as exc:
        raise HandshakeRefused(f"cacert unusable: {exc}") from None
    context.verify_mode = ssl.CERT_REQUIRED
    if int(cfg["ignorelocaltime"]):
        context.verify_flags |= NO_CHECK_TIME
    elif not m.state.clock_set:
        raise HandshakeRefused(
            "ignorelocaltime 0 and the module's clock is not set (1980): "
            "every certificate is not yet valid"
        )
    if seclevel == 2:
        cert, key = _file(m, cfg, "clientcert"), _file(m, cfg, "clientkey")
        with tempfile.TemporaryDirectory(prefix="ec200u-ufs-") as ufs:
            cert_path, key_path = Path(ufs, "cert.pem"), Path(ufs, "key.pem")
            cert_path.write_bytes(cert)
            key_path.touch(mode=0o600)
            key_path.write_bytes(key)
            try:
                context.load_cert_chain(cert_path, key_path)
            except ssl.SSLError as exc:
                raise HandshakeRefused(f"clientcert/clientkey unusable: {exc}") from None
    return context


def host_matches(host: str, cert: Mapping[str, object]) -> bool:
    """RFC 6125 in short: an IP against IP SANs; a name against DNS SANs, a leftmost
    ``*`` standing for one label."""
    alt = cert.get("subjectAltName", ())
    entries = [(str(k), str(v)) for k, v in alt] if isinstance(alt, tuple) else []
    ip = ipaddress.ip_address(host) if _is_ip(host) else None
    wanted = host.lower().rstrip(".")
    for kind, value in entries:
        if ip is not None:
            if (
                kind == "IP Address"
                and _is_ip(value.strip())
                and ipaddress.ip_address(value.strip()) == ip
            ):
                return True
            continue
        pattern = value.lower()
        if kind == "DNS" and (
            pattern == wanted
            or (pattern.startswith("*.") and wanted.partition(".")[2] == pattern[2:])
        ):
            return True
    return False


async def open_tls(
    m: Ec200u, sock: QiSocket, timeout: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    """TCP then the TLS handshake; None (566) on any failure, the cause logged."""
    assert sock.sslctx is not None
    cfg = sslcfg(m, sock.sslctx)
    where = f"QSSL client {sock.conn_id} to {sock.host}:{sock.remote_port}"
    try:
        if m.take_tls_failure():
            raise HandshakeRefused("tls-fail fault")
        context = build_context(m, cfg)
        hostname = sock.host if int(cfg["sni"]) else ""
        if hostname and _is_ip(hostname):
            hostname = ""  # RFC 6066: no SNI for an IP address
        negotiate = float(cfg["negotiatetime"])
        async with asyncio.timeout(timeout + negotiate):  # TCP connect, then the handshake
            reader, writer = await asyncio.open_connection(
                sock.remote_ip,
                sock.remote_port,
                ssl=context,
                server_hostname=hostname,
                ssl_handshake_timeout=negotiate,
            )
        if int(cfg["seclevel"]) >= 1 and int(cfg["checkhost"]):
            cert = writer.get_extra_info("peercert") or {}
            if not host_matches(sock.host, cert):
                writer.transport.abort()
                raise HandshakeRefused(f"the certificate is not for {sock.host!r}")
    except HandshakeRefused as exc:
        log.info("%s: handshake refused: %s -> 566", where, exc)
        return None
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        log.info("%s: %s -> 566", where, exc)
        return None
    with contextlib.suppress(AttributeError):
        log.info("%s: %s established", where, writer.get_extra_info("ssl_object").version())
    return reader, writer


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
