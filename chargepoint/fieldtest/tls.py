"""The ``TLS`` row of ``cpsim modem check --csms-url wss://... --ca-file CA.pem``.

(EC200U here; ESP-AT's row is :mod:`.espat_tls`, its verdicts are in :data:`FIXES` too,
so the verdict never needs :mod:`modem.espat` for a cellular check.)

It proves what a charger with security profile 2 or 3 needs: the module's own
TLS (AT+QFUPL, AT+QSSLCFG, AT+QSSLOPEN: :mod:`chargepoint.transport.ec200u_tls`)
completes a handshake with the CSMS and verifies its certificate chain against
the given CA, the host name included.  The WebSocket and BootNotification rows
then run over that TLS stream.

The module answers every handshake failure with ``+QSSLOPEN: <id>,566``; the
link's diagnosis (a plain TCP connect, then the same handshake on the host over
the module's socket) names the cause, and each cause has its own reason code and
verdict here.  A handshake that passed while the module's clock was not set is a
warning: the certificate dates were not checked.
"""

from __future__ import annotations

import asyncio

from chargepoint.transport.ec200u_tls import ModemTls, ModemTlsError
from modem.at import ATError, ATPortError
from modem.diagnostics import CheckResult, Status
from modem.diagnostics.verdict import Fix
from modem.quectel import QuectelModem
from modem.quectel.ssl import FileUploadError, TlsOpenError
from modem.stream import ByteStream

from .target import CsmsTarget

# The cause behind a 566, from the explanation's words (most specific first).
TLS_566_REASONS = (
    ("not TLS: check the host", "tls-tcp"),
    ("not signed by a CA", "tls-untrusted-ca"),
    ("is self-signed", "tls-untrusted-ca"),
    ("ends at a CA not given", "tls-untrusted-ca"),
    ("has expired", "tls-expired"),
    ("not valid yet", "tls-not-yet-valid"),
    ("for another host name", "tls-wrong-host"),
    ("client certificate", "tls-client-cert"),
    ("did not answer in TLS", "tls-not-tls"),
    ("is it TLS at all", "tls-not-tls"),
    ("its clock is not set", "tls-clock"),
    ("TLS version or cipher suites", "tls-module"),
)


def tls_reason(explanation: str) -> str:
    """The reason code of a 566 explanation (``tls`` when none fits)."""
    return next((code for words, code in TLS_566_REASONS if words in explanation), "tls")


def _host(r: CheckResult) -> str:
    return f"{r.data.get('host', '?')}:{r.data.get('port', '?')}"


def _ca(r: CheckResult) -> str:
    return str(r.data.get("ca_file", "the CA file"))


FIXES: dict[str, Fix] = {
    "tls-tcp": lambda r, _: f"TLS to {_host(r)} failed below TLS: {r.detail}",
    "tls-untrusted-ca": lambda r, _: (
        f"the CSMS certificate at {_host(r)} is not signed by {_ca(r)}: get the CA that "
        "signed it from the CSMS operator and give it with --ca-file"
    ),
    "tls-expired": lambda r, _: (
        f"the CSMS certificate at {_host(r)} has expired: the CSMS operator must renew it"
    ),
    "tls-not-yet-valid": lambda r, _: (
        f"the CSMS certificate at {_host(r)} is not valid yet: check the clocks (module, "
        "host) and when the certificate starts"
    ),
    "tls-wrong-host": lambda r, _: (
        f"the CSMS certificate is not for the host in the URL ({_host(r)}): use the host "
        "name the certificate names, or ask the operator for a certificate naming this one"
    ),
    "tls-client-cert": lambda r, _: (
        f"the CSMS at {_host(r)} wants a client certificate it accepts (security profile 3): "
        "give --cert and --key signed by a CA the CSMS trusts"
    ),
    "tls-not-tls": lambda r, _: (
        f"{_host(r)} does not speak TLS: check whether the CSMS URL is ws:// rather "
        "than wss://, and the port"
    ),
    "tls-clock": lambda r, _: (
        "the module's clock is not set and the CSMS certificate cannot be checked against it: "
        "let the module get network time (NITZ/NTP) and retry"
    ),
    "tls-module": lambda r, _: (
        f"the module's TLS stack cannot talk to {_host(r)} (the host can, with the same "
        "files): update the module's firmware, or run TLS on the host (tls_on_host)"
    ),
    "tls-files": lambda r, _: f"the TLS files could not be given to the module: {r.detail}",
    "tls": lambda r, _: f"TLS to {_host(r)} failed: {r.detail}",
    # ESP-AT (:mod:`.espat_tls`): its SNTP clock, its TLS, a failure it does not explain.
    "tls-clock-sntp": lambda r, _: (
        "the module's clock was not set by SNTP, so it cannot check the CSMS certificate's "
        "dates: let NTP (UDP port 123) out through this Wi-Fi and retry"
    ),
    "tls-esp-module": lambda r, _: (
        f"the module's TLS cannot talk to {_host(r)}, though this computer can with the same "
        "files: update the module to ESP-AT v4.1 or later (wss_ca / wss_cert / wss_key, "
        "AT+WSCFG auth_mode) and check its clock"
    ),
    "tls-esp-unknown": lambda r, _: (
        f"TLS to {_host(r)} failed in the module, which does not say why, and this computer "
        "cannot reach the CSMS to find out: check the causes the TLS row lists, most likely "
        "first (or run the check where this computer reaches the CSMS)"
    ),
}
WARNINGS: dict[str, Fix] = {
    "tls-host-only": lambda r, _: (
        "the module's own TLS handshake is not proven (the WebSocket upgrade failed)"
    ),
    "tls-dates-unchecked": lambda r, _: (
        "the module's clock is not set from the network, so it did not check the "
        "certificate's dates: check NITZ/NTP reachability through this APN"
    ),
}


def not_proven(device: str, data: dict[str, object]) -> CheckResult:
    """The TLS row without a ``--ca-file``: nothing to verify the CSMS certificate with,
    so nothing is sent and the handshake is not proven."""
    return CheckResult(
        "TLS",
        Status.SKIP,
        "not proven",
        "skipped: give --ca-file CA.pem (the CA that signed the CSMS certificate) to "
        f"prove the TLS handshake through the {device}",
        reason="skipped",
        data={**data, "why": "no --ca-file to verify the CSMS certificate with"},
    )


async def tls_check(
    modem: QuectelModem,
    target: CsmsTarget,
    *,
    ctx: int = 1,
    timeout: float = 45.0,
    ntp_server: str | None = "pool.ntp.org",
) -> tuple[CheckResult, ByteStream | None]:
    """The module's TLS handshake with the CSMS, the chain checked against --ca-file."""
    tls = target.endpoint.current_tls()
    data: dict[str, object] = {"host": target.host, "port": target.port}
    if tls is None or tls.ca_file is None:
        return not_proven("modem", data), None
    data["ca_file"] = tls.ca_file.name
    modem_tls = ModemTls(ntp_server=ntp_server)
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        stream = await modem_tls.open(
            modem, target.host, target.port, connect_id=0, ctx=ctx, tls=tls, timeout=timeout
        )
    except ModemTlsError as exc:
        text = str(exc)
        return CheckResult(
            "TLS", Status.FAIL, "handshake failed", text, reason=tls_reason(text), data=data
        ), None
    except ATPortError:
        raise
    except (FileUploadError, TlsOpenError, ATError, ValueError) as exc:  # not a 566
        reason = "tls-files" if isinstance(exc, FileUploadError) else "tls"
        return CheckResult(
            "TLS", Status.FAIL, "no TLS connection", str(exc), reason=reason, data=data
        ), None
    ms = max(0, round((loop.time() - start) * 1000))
    prepared = modem_tls.prepared
    clock = prepared.clock if prepared is not None else None
    mutual = prepared is not None and prepared.config.seclevel == 2
    data.update(
        ms=ms,
        mutual=mutual,
        clock=clock.source if clock else None,
        dates_checked=bool(clock and clock.is_set),
    )
    figure = (
        f"TLS 1.2 with {target.host}:{target.port} in {ms} ms: certificate chain verified "
        f"against {tls.ca_file.name}" + (", client certificate accepted" if mutual else "")
    )
    if clock is not None and not clock.is_set:
        return CheckResult(
            "TLS",
            Status.WARN,
            figure,
            "the module's clock is not set: certificate dates were not checked",
            reason="tls-dates-unchecked",
            data=data,
        ), stream
    return CheckResult("TLS", Status.PASS, figure, data=data), stream
