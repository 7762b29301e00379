"""``cpsim modem check`` as a function: every check in order, into one report.

Order: port, cellular checks (:mod:`modem.diagnostics`), then the CSMS (DNS,
ping, TCP, WebSocket, BootNotification).  Whatever fails, the checks that
still make sense run; the others are recorded as skipped with the reason, so
the report always has the same rows.  The modem is left as found: the data
context is deactivated and the port closed at the end.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from chargepoint.transport.base import LinkClosed
from modem.at import ATError, ATPortError
from modem.diagnostics import (
    CELLULAR,
    ApnSettings,
    CellularPlan,
    CheckResult,
    Report,
    Status,
    dns_check,
    identify,
    ping_check,
    run_cellular,
    tcp_check,
)
from modem.quectel import ModemIdentity, QuectelModem
from modem.stream import ByteStream, StreamClosed

from .ocpp_checks import boot_check, boot_payload, websocket_check
from .target import CsmsTarget
from .tls import tls_check

REACH = ("DNS", "ping", "TCP", "WebSocket", "BootNotification")
TLS_ROW = "TLS"
"""Between TCP and WebSocket for a wss:// CSMS: the module's own TLS (:mod:`.tls`)."""
FAMILY_NAMES = {"quectel": "ec200u", "esp-at": "esp-at"}


@dataclass(frozen=True)
class PortOptions:
    """``timeouts`` overrides AT command budgets (``{"AT+QIACT=": 60}``) for a network
    known to be slow, or a test that must not wait the standard 150 s."""

    port: str
    baudrate: int = 115200
    at_log: Path | None = None
    timeouts: Mapping[str, float] | None = None


@dataclass(frozen=True)
class ReachOptions:
    """How hard to try the CSMS; ``steps`` limits which of :data:`REACH` run."""

    steps: tuple[str, ...] = REACH
    ping_count: int = 3
    ping_timeout: int = 2
    connect_timeout: float = 45.0
    boot_timeout: float = 30.0  # for the CSMS's answer to BootNotification
    ntp_server: str = "pool.ntp.org"  # wss://: sets the module's clock when the network did not
    clock_timeout: float = 15.0  # ESP-AT: seconds SNTP may take to set the module's clock
    vendor: str = "cpsim"
    model: str = "cpsim-fieldtest"


@dataclass(frozen=True)
class CheckOptions:
    port: PortOptions
    apn: ApnSettings | None = None
    csms: CsmsTarget | None = None
    registration_wait: float = 30.0
    reach: ReachOptions = field(default_factory=ReachOptions)

    def planned(self) -> list[str]:
        if self.csms is None:
            return ["port", *CELLULAR]
        return ["port", *CELLULAR, *with_tls(self.reach.steps, self.csms)]


def with_tls(steps: tuple[str, ...], target: CsmsTarget) -> tuple[str, ...]:
    """``steps`` with the TLS row after TCP when the CSMS is wss://."""
    if not target.secure or TLS_ROW in steps or "TCP" not in steps:
        return steps
    at = steps.index("TCP") + 1
    return (*steps[:at], TLS_ROW, *steps[at:])


DIALECT_NAMES = {"ec200u": "a Quectel EC200U", "esp-at": "an ESP-AT module"}


def _mismatch(description: str, family: str, expected: str) -> CheckResult:
    wanted = DIALECT_NAMES[expected]
    if family in FAMILY_NAMES:
        detail = (
            f"this is {'an' if family == 'esp-at' else 'a'} {description}, not {wanted}: "
            f"run again with --dialect {FAMILY_NAMES[family]}"
        )
        return CheckResult(
            "module",
            Status.FAIL,
            description,
            detail,
            reason="wrong-dialect",
            data={"expected": wanted},
        )
    need = (
        "the Quectel QI command set (EC200U, EC2x, EG9x, BG9x)"
        if expected == "ec200u"
        else "ESP-AT firmware (AT+GMR naming an 'AT version')"
    )
    detail = f"the module answers ATI with '{description}': not {wanted}; the checks need {need}"
    return CheckResult(
        "module",
        Status.FAIL,
        description,
        detail,
        reason="not-this-dialect",
        data={"expected": wanted},
    )


async def check_port(options: PortOptions, report: Report, expected: str) -> bool:
    """Identify the port (the ``port`` row); False, with a ``module`` row saying what is
    there instead, when it is not a modem of the ``expected`` dialect."""
    try:
        found = await identify(options.port, options.baudrate, at_log=options.at_log)
    except ATPortError as exc:
        report.add(
            CheckResult(
                "port",
                Status.FAIL,
                "no modem",
                exc.reason,
                reason="not-a-modem",
                data={"port": options.port},
            )
        )
        return False
    data = {"port": options.port, "family": found.family, "ati": list(found.lines)}
    figure = f"{found.description} answers AT in {found.probe_ms} ms"
    report.add(CheckResult("port", Status.PASS, figure, data=data))
    if FAMILY_NAMES.get(found.family) != expected:
        report.add(_mismatch(found.description, found.family, expected))
        return False
    return True


async def open_quectel(options: PortOptions, report: Report) -> QuectelModem | None:
    """:func:`check_port`, then the port opened as a Quectel (None if it is not one)."""
    if not await check_port(options, report, "ec200u"):
        return None
    return await QuectelModem.open(
        options.port, options.baudrate, at_log=options.at_log, timeouts=options.timeouts
    )


def ping_turned_off() -> CheckResult:
    """A skip asked for, not caused by a failure: it does not hold back the verdict."""
    detail = "skipped: ping turned off (--ping-count 0)"
    return CheckResult("ping", Status.SKIP, detail=detail, reason="turned-off")


def no_data_session(data: CheckResult | None) -> str:
    """Why the CSMS checks cannot run: the data row's own failure or skip reason."""
    if data is None:
        return "no data session"
    return f"no data session: {data.data.get('why') or data.figure}"


def why_stopped(report: Report) -> str:
    """The skip reason after :func:`open_quectel` gave None."""
    last = report.results[-1]
    if last.reason == "not-a-modem":
        return "no modem answers on the port"
    return f"the module on the port is not {last.data.get('expected', 'the expected kind')}"


async def reach(
    modem: QuectelModem,
    target: CsmsTarget,
    ident: ModemIdentity | None,
    report: Report,
    options: ReachOptions,
) -> None:
    """DNS, ping, TCP, WebSocket and BootNotification, as far as each allows the next."""
    steps = with_tls(options.steps, target)

    def stop(why: str) -> None:
        report.skip(steps, why)

    host = target.host
    if "DNS" in steps:
        dns = report.add(await dns_check(modem, host))
        if dns.status is Status.FAIL:
            return stop(f"the CSMS host {host} does not resolve")
        host = next(iter(dns.data.get("addresses") or [host]))
    if "ping" in steps:
        if options.ping_count > 0:
            report.add(
                await ping_check(
                    modem, host, timeout_s=options.ping_timeout, count=options.ping_count
                )
            )
        else:
            report.add(ping_turned_off())
    tcp, sock = await tcp_check(modem, target.host, target.port, timeout=options.connect_timeout)
    report.add(tcp)
    if sock is None:
        return stop(f"no TCP connection to {target.host}:{target.port}")
    stream: ByteStream = sock
    if target.secure:
        await sock.close()  # TCP is proven; the module's TLS opens its own connection
        tls, secured = await tls_check(
            modem, target, timeout=options.connect_timeout, ntp_server=options.ntp_server
        )
        report.add(tls)
        if secured is None:  # no --ca-file: a skip, so the verdict says "not proven"
            return stop(str(tls.data.get("why") or "the TLS handshake failed"))
        stream = secured
    ws, conn = await websocket_check(stream, target)
    report.add(ws)
    if conn is None:
        return stop("the WebSocket upgrade failed")
    try:
        if "BootNotification" in steps:
            iccid, imsi = (ident.iccid, ident.imsi) if ident else (None, None)
            payload = boot_payload(options.vendor, options.model, iccid, imsi)
            report.add(await boot_check(conn, payload, options.boot_timeout))
    finally:
        with contextlib.suppress(LinkClosed, StreamClosed, ATError):
            await conn.close()


async def release(modem: QuectelModem, ctx: int = 1) -> None:
    """Deactivate the context if it is up, then close the port; never raises."""
    with contextlib.suppress(ATError):
        if await modem.address(ctx) is not None:
            await modem.deactivate(ctx)
    with contextlib.suppress(ATError):
        await modem.aclose()


def lost(
    report: Report, exc: ATPortError, planned: Iterable[str], during: str | None = None
) -> None:
    """The port went away mid-run: one failing row naming the check it cut short
    (``during``, else the first planned one not reported), every later check skipped."""
    names = list(planned)
    done = {r.name for r in report.results}
    during = during or next((name for name in names if name not in done), None)
    figure = f"lost during {during}" if during else "lost"
    report.add(
        CheckResult(
            "modem link",
            Status.FAIL,
            figure,
            exc.reason,
            reason="port-lost",
            data={"during": during, "port": exc.port},
        )
    )
    report.skip(names, "the modem link was lost")


async def run_check(options: CheckOptions, report: Report) -> None:
    """Fill ``report`` with every planned row (run, failed or skipped)."""
    planned = options.planned()
    try:
        modem = await open_quectel(options.port, report)
    except ATPortError as exc:
        return lost(report, exc, planned)
    if modem is None:
        return report.skip(planned, why_stopped(report))
    try:
        plan = CellularPlan(options.apn, options.registration_wait)
        ident = await run_cellular(modem, plan, report)
        if options.csms is not None:
            data = report.get("data")
            if data is not None and data.ok:
                await reach(modem, options.csms, ident, report, options.reach)
            else:
                report.skip(with_tls(options.reach.steps, options.csms), no_data_session(data))
    except ATPortError as exc:
        lost(report, exc, planned)
    finally:
        await release(modem)
