"""The ``TLS`` and ``WebSocket`` rows of ``cpsim modem check --dialect esp-at`` for wss://.

What a charger with security profile 2 or 3 needs from the module, proven the way the
charger's link does it (:mod:`modem.espat.tls`): the CA (and the charger certificate and
key) stored with AT+SYSMFG, rewritten only when they differ; the clock set by SNTP;
AT+WSCFG with auth_mode 2 (verify the CSMS) or 3 (mutual); AT+WSOPEN with the wss://
URL.  ESP-AT runs TLS and the WebSocket upgrade in that one command, so a success
proves both rows at once.

A failed open is a bare ``ERROR`` whatever the cause.  This computer then runs the
same handshake itself (Python's ssl, the same CA, certificate and host name, TLS 1.2
as the module's mbedTLS), then the same upgrade over it, which names the cause: the
CA, the host name, the dates, a client certificate, not TLS at all, or (both pass) the
CSMS refusing the upgrade or the module's own TLS.  The probe goes over this
computer's network, not the module's Wi-Fi: when it cannot reach the CSMS, the row
lists the causes to check instead.  Nothing is sent in clear, and the Authorization
header only over a connection whose certificate was verified.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ssl
from dataclasses import dataclass
from enum import StrEnum

from chargepoint.transport.base import LinkError
from chargepoint.transport.tcp import TcpByteStream
from chargepoint.transport.tls import TlsByteStream, TlsHandshakeError
from chargepoint.transport.tlssettings import TlsSettings
from chargepoint.transport.websocket import WebSocketOverStream
from modem.at import ATError, ATPortError
from modem.diagnostics import CheckResult, Status, skipped
from modem.espat import (
    AuthMode,
    CertificateStoreError,
    ClockNotSet,
    CommandTooLong,
    EspAtModem,
    EspAtWebSocket,
    ModuleTls,
    NoWebSocketSupport,
    WebSocketOpenError,
)
from modem.espat.tls import DEFAULT_NTP
from modem.stream import StreamClosed

from .ocpp_checks import link_reason
from .target import CsmsTarget
from .tls import not_proven, tls_reason

PROBE_TIMEOUT = 20.0


class ProbeOutcome(StrEnum):
    """How far this computer got with the module's files (each step needs the one before)."""

    REFUSED = "refused"  # the TCP connect was answered with a reset: nothing listens
    UNREACHABLE = "unreachable"  # no TCP connection from here (another network?)
    TLS_FAILED = "tls-failed"
    UPGRADE_FAILED = "upgrade-failed"
    WORKS = "works"  # TLS and the upgrade work from here: the module is the cause


@dataclass(frozen=True)
class HostProbe:
    """What this computer found at the CSMS; ``problem`` says why it stopped."""

    outcome: ProbeOutcome
    problem: str | None = None


async def host_probe(target: CsmsTarget, tls: TlsSettings, timeout: float) -> HostProbe:
    """TCP, TLS (verified as the module verifies: TLS 1.2, the same CA and host name, the
    client certificate for profile 3), then the upgrade; everything closed again."""
    context = tls.context()
    # As the module's mbedTLS: in TLS 1.2 a refused client certificate fails the
    # handshake itself, where TLS 1.3 would report it only after.
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        tcp = await TcpByteStream.open(target.host, target.port, timeout)
    except (OSError, TimeoutError) as exc:
        stopped = (
            ProbeOutcome.REFUSED
            if isinstance(exc, ConnectionRefusedError)
            else ProbeOutcome.UNREACHABLE
        )
        return HostProbe(stopped, str(exc) or "timed out")
    try:
        async with asyncio.timeout(timeout):
            stream = await TlsByteStream.open(tcp, context, target.host)
    except TlsHandshakeError as exc:
        if CLOSED_IN_HANDSHAKE in exc.reason and await speaks_plain_http(target, timeout):
            return HostProbe(ProbeOutcome.TLS_FAILED, PLAIN_HTTP)
        return HostProbe(ProbeOutcome.TLS_FAILED, exc.reason)
    except (StreamClosed, TimeoutError) as exc:
        await tcp.close()
        return HostProbe(ProbeOutcome.TLS_FAILED, f"TLS: no handshake ({exc or 'timed out'})")
    try:
        conn = await WebSocketOverStream.open(
            stream, target.url, target.endpoint.request_headers(), timeout=timeout
        )
    except (LinkError, StreamClosed) as exc:
        with contextlib.suppress(StreamClosed):
            await stream.close()
        return HostProbe(ProbeOutcome.UPGRADE_FAILED, str(exc))
    with contextlib.suppress(LinkError, StreamClosed):
        await conn.close()
    return HostProbe(ProbeOutcome.WORKS)


CLOSED_IN_HANDSHAKE = "closed the connection during the handshake"
PLAIN_HTTP = (
    "TLS: the server did not answer in TLS: it answers plain HTTP on this port (a ws:// server?)"
)


async def speaks_plain_http(target: CsmsTarget, timeout: float) -> bool:
    """A server that hung up on a ClientHello: does it answer a plain HTTP request?  (A
    request with no credentials: nothing of the charger's goes out in clear.)"""
    try:
        tcp = await TcpByteStream.open(target.host, target.port, timeout)
    except (OSError, TimeoutError):
        return False
    try:
        async with asyncio.timeout(timeout):
            await tcp.write(f"HEAD / HTTP/1.1\r\nHost: {target.host}\r\n\r\n".encode())
            return (await tcp.read()).startswith(b"HTTP/")
    except (StreamClosed, TimeoutError):
        return False
    finally:
        await tcp.close()


def module_files(tls: TlsSettings, ntp_server: str, clock_timeout: float = 15.0) -> ModuleTls:
    """The auth mode and files for the module: 3 with a certificate, else 2.
    OSError / ValueError (a file gone since the command line was read, too large)."""
    assert tls.ca_file is not None
    identity = tls.identity if tls.security_profile == 3 else None
    return ModuleTls(
        AuthMode.MUTUAL if identity is not None else AuthMode.VERIFY_SERVER,
        ca_pem=tls.ca_file.read_bytes(),
        cert_pem=identity.cert_path.read_bytes() if identity else None,
        key_pem=identity.key_path.read_bytes() if identity else None,
        ntp_server=ntp_server,
        clock_timeout=clock_timeout,
    )


Rows = tuple[CheckResult, CheckResult | None, EspAtWebSocket | None]
"""The TLS row, the WebSocket row (None: not run) and the open link."""


async def tls_websocket_rows(
    modem: EspAtModem,
    target: CsmsTarget,
    *,
    timeout: float = 20.0,
    ntp_server: str = DEFAULT_NTP,
    clock_timeout: float = 15.0,
) -> Rows:
    """Files, clock, AT+WSCFG auth_mode and AT+WSOPEN wss://, diagnosed when it fails."""
    tls = target.endpoint.current_tls()
    data: dict[str, object] = {"host": target.host, "port": target.port}
    if tls is None or tls.ca_file is None:
        return not_proven("module", data), None, None
    data["ca_file"] = tls.ca_file.name
    try:
        files = module_files(tls, ntp_server, clock_timeout)
    except (OSError, ValueError) as exc:
        detail = f"reading {exc.filename}: {exc.strerror}" if isinstance(exc, OSError) else str(exc)
        return _fail("files unusable", detail, data, reason="tls-files"), None, None
    data["auth_mode"] = int(files.auth_mode)
    try:
        await modem.tls.prepare(files)
    except CertificateStoreError as exc:
        return _fail("certificates not stored", str(exc), data, reason="tls-files"), None, None
    except ClockNotSet as exc:
        data["ntp_server"] = ntp_server
        return _fail("clock not set", str(exc), data, reason="tls-clock-sntp"), None, None
    except ATPortError:
        raise
    except ATError as exc:  # no answer to AT+SYSMFG / AT+CIPSNTP*
        return _fail("no TLS set-up", str(exc), data, reason="tls"), None, None
    clock = modem.tls.clock
    data.update(clock=clock.isoformat() if clock else None, flash_writes=modem.tls.writes)
    loop = asyncio.get_running_loop()
    start = loop.time()
    ws_data: dict[str, object] = {"url": target.url, "basic_auth": bool(target.auth_note)}
    try:
        ws = await modem.open_websocket(
            target.url, headers=target.endpoint.request_headers(), timeout=timeout, tls=files
        )
    except ATPortError:
        raise
    except (NoWebSocketSupport, CommandTooLong) as exc:
        reason = "no-ws-support" if isinstance(exc, NoWebSocketSupport) else "url-too-long"
        not_run = skipped("TLS", f"the module refused the WebSocket set-up: {exc}")
        refused = CheckResult(
            "WebSocket", Status.FAIL, "not connected", str(exc), reason=reason, data=ws_data
        )
        return not_run, refused, None
    except WebSocketOpenError as exc:
        elapsed = loop.time() - start
        return (*await _diagnose(target, tls, files, exc, elapsed, data, ws_data, clock), None)
    except ATError as exc:  # AT+WSHEAD refused, or no answer
        return _fail("no TLS connection", str(exc), data, reason="tls"), None, None
    ms = max(0, round((loop.time() - start) * 1000))
    data["ms"] = ws_data["ms"] = ms
    mutual = files.auth_mode is AuthMode.MUTUAL
    data["mutual"] = mutual
    when = f", module clock {clock:%Y-%m-%d %H:%M} UTC by SNTP" if clock else ""
    figure = (
        f"TLS with {target.host}:{target.port}: certificate chain verified by the module "
        f"against {tls.ca_file.name}" + (", client certificate accepted" if mutual else "") + when
    )
    ws_figure = f"+WS_CONNECTED over TLS, ocpp1.6{target.auth_note}, in {ms} ms"
    return (
        CheckResult("TLS", Status.PASS, figure, data=data),
        CheckResult("WebSocket", Status.PASS, ws_figure, data=ws_data),
        ws,
    )


def _fail(figure: str, detail: str, data: dict[str, object], *, reason: str) -> CheckResult:
    return CheckResult("TLS", Status.FAIL, figure, detail, reason=reason, data=data)


async def _diagnose(
    target: CsmsTarget,
    tls: TlsSettings,
    files: ModuleTls,
    exc: WebSocketOpenError,
    elapsed: float,
    data: dict[str, object],
    ws_data: dict[str, object],
    clock: dt.datetime | None,
) -> tuple[CheckResult, CheckResult | None]:
    """After a bare ERROR: the same handshake and upgrade from this computer."""
    said = f"AT+WSOPEN wss:// (auth_mode {int(files.auth_mode)}) -> ERROR after {elapsed:.1f} s"
    probe = await host_probe(target, tls, PROBE_TIMEOUT)
    ca_name = tls.ca_file.name if tls.ca_file else "the CA file"
    return diagnosis(probe, target, said, exc.reason, ca_name, data, ws_data, clock)


def diagnosis(
    probe: HostProbe,
    target: CsmsTarget,
    said: str,
    causes: str,
    ca_name: str,
    data: dict[str, object],
    ws_data: dict[str, object],
    clock: dt.datetime | None = None,
) -> tuple[CheckResult, CheckResult | None]:
    """The TLS row (and the WebSocket row when the upgrade is the cause) from what the
    module ``said`` and what this computer found; ``causes``: the module layer's list of
    what to check, for when this computer found nothing."""
    where = f"{target.host}:{target.port}"
    data["host_probe"] = str(probe.outcome)
    match probe.outcome:
        case ProbeOutcome.REFUSED:
            detail = (
                f"{said}; this computer's TCP connection to {where} is refused too: nothing "
                "listens there (check the host, the port and that the CSMS is running)"
            )
            return _fail("no TCP connection", detail, data, reason="tls-tcp"), None
        case ProbeOutcome.UNREACHABLE:
            detail = f"{causes} (this computer cannot reach {where} to tell which: {probe.problem})"
            return _fail("handshake failed", detail, data, reason="tls-esp-unknown"), None
        case ProbeOutcome.TLS_FAILED:
            detail = f"{said}; the same handshake from this computer says: {probe.problem}"
            reason = tls_reason(probe.problem or "")
            return _fail("handshake failed", detail, data, reason=reason), None
        case ProbeOutcome.UPGRADE_FAILED:
            # TLS works from here with the same files; the upgrade is what the CSMS refused.
            tls_row = CheckResult(
                "TLS",
                Status.WARN,
                f"certificate chain verifies against {ca_name} from this computer",
                "ESP-AT opens TLS and the WebSocket in one command, and that command failed "
                "at the upgrade: the module's own handshake is not proven",
                reason="tls-host-only",
                data=data,
            )
            reason, extra = link_reason(probe.problem or "")
            ws_data.update(extra)
            detail = f"{said}; the same upgrade from this computer: {probe.problem}"
            ws_row = CheckResult(
                "WebSocket", Status.FAIL, "upgrade refused", detail, reason=reason, data=ws_data
            )
            return tls_row, ws_row
    when = f"{clock:%Y-%m-%d %H:%M} UTC by SNTP" if clock else "not set"
    detail = (
        f"{said}, yet this computer completes the same handshake and upgrade with the same "
        f"files: the module's TLS is the cause (its clock: {when}; its firmware: mutual "
        "and verifying TLS need ESP-AT v4.1 or later with wss_ca / wss_cert / wss_key; the "
        "CSMS's TLS version or cipher suites)"
    )
    return _fail("handshake failed in the module", detail, data, reason="tls-esp-module"), None
