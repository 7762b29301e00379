"""``cpsim modem check --dialect esp-at``: the Wi-Fi equivalents of the cellular checks.

Rows: port, module (AT+GMR), Wi-Fi (access point found and joined), Wi-Fi
signal, IP, then with a CSMS URL: DNS, ping, (for wss://) TLS, WebSocket,
BootNotification.  There is no TCP row: ESP-AT's ``AT+WSOPEN`` connects and
upgrades in one command and reports no reason when it fails, so the WebSocket
row carries the usual causes instead.  For wss:// the TLS row proves the
module's own verified handshake with ``--ca-file`` (:mod:`.espat_tls`: the
certificates stored, the clock set, auth_mode 2 or 3) and names the cause of a
failure; without a CA it says "not proven" and nothing is sent.  Imported only
for this dialect, so the cellular check does not depend on :mod:`modem.espat`.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from modem.at import ATCommandError, ATError, ATPortError, ATTimeout
from modem.diagnostics import CheckResult, Report, Status
from modem.diagnostics.wifi import (
    esp_dns_check,
    esp_module_check,
    esp_ping_check,
    wifi_ip_check,
    wifi_join_check,
    wifi_signal_check,
)
from modem.espat import (
    CommandTooLong,
    EspAtModem,
    EspAtWebSocket,
    NoWebSocketSupport,
    WebSocketOpenError,
)
from modem.stream import StreamClosed

from .check import PortOptions, ReachOptions, check_port, lost, ping_turned_off, why_stopped
from .espat_tls import tls_websocket_rows
from .ocpp_checks import boot_check, boot_payload
from .target import CsmsTarget

WIFI = ("module", "Wi-Fi", "Wi-Fi signal", "IP")
ESP_REACH = ("DNS", "ping", "WebSocket", "BootNotification")
ESP_REACH_TLS = ("DNS", "ping", "TLS", "WebSocket", "BootNotification")


def esp_reach(target: CsmsTarget) -> tuple[str, ...]:
    """The CSMS rows: with a TLS row before the WebSocket for wss://."""
    return ESP_REACH_TLS if target.secure else ESP_REACH


@dataclass(frozen=True)
class WifiOptions:
    """``ssid`` None: keep the network the module is on (it remembers one in flash)."""

    port: PortOptions
    ssid: str | None = None
    password: str = ""
    csms: CsmsTarget | None = None
    reach: ReachOptions = field(default_factory=ReachOptions)

    def planned(self) -> list[str]:
        return ["port", *WIFI, *(esp_reach(self.csms) if self.csms else ())]


async def websocket_row(
    modem: EspAtModem, target: CsmsTarget, timeout: float = 20.0
) -> tuple[CheckResult, EspAtWebSocket | None]:
    """``AT+WSOPEN`` with subprotocol ocpp1.6 and the Basic auth header."""
    auth = target.auth_note
    data: dict[str, object] = {"url": target.url, "basic_auth": bool(auth)}
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        ws = await modem.open_websocket(
            target.url, headers=target.endpoint.request_headers(), timeout=timeout
        )
    except NoWebSocketSupport as exc:
        reason, detail = "no-ws-support", str(exc)
    except CommandTooLong as exc:
        reason, detail = "url-too-long", str(exc)
    except WebSocketOpenError as exc:
        reason, detail = "ws-esp", exc.reason
    except ATPortError:
        raise
    except ATError as exc:  # AT+WSHEAD or AT+WSCFG refused, or no answer
        reason, detail = "ws", str(exc)
    else:
        data["ms"] = ms = round((loop.time() - start) * 1000)
        figure = f"+WS_CONNECTED, ocpp1.6{auth}, in {ms} ms"
        return CheckResult("WebSocket", Status.PASS, figure, data=data), ws
    return (
        CheckResult("WebSocket", Status.FAIL, "not connected", detail, reason=reason, data=data),
        None,
    )


async def reach_over_wifi(
    modem: EspAtModem, target: CsmsTarget, report: Report, options: ReachOptions
) -> None:
    steps = esp_reach(target)

    def stop(why: str) -> None:
        report.skip(steps, why)

    dns = report.add(await esp_dns_check(modem, target.host))
    if dns.status is Status.FAIL:
        return stop(f"the CSMS host {target.host} does not resolve")
    if options.ping_count > 0:
        report.add(await esp_ping_check(modem, target.host))
    else:
        report.add(ping_turned_off())
    ws: EspAtWebSocket | None
    if target.secure:
        tls, row, ws = await tls_websocket_rows(
            modem,
            target,
            timeout=options.connect_timeout,
            ntp_server=options.ntp_server,
            clock_timeout=options.clock_timeout,
        )
        report.add(tls)
        if row is None:  # no --ca-file (a skip: "not proven"), or the handshake failed
            return stop(str(tls.data.get("why") or "the TLS handshake failed"))
    else:
        row, ws = await websocket_row(modem, target)
    report.add(row)
    if ws is None:
        return stop("the WebSocket was not opened")
    try:
        payload = boot_payload(options.vendor, options.model, None, None)
        report.add(await boot_check(ws, payload, options.boot_timeout))
    finally:
        with contextlib.suppress(ATError, StreamClosed):
            await ws.close()


async def run_wifi_check(options: WifiOptions, report: Report) -> None:
    """Fill ``report`` with every planned row (run, failed or skipped)."""
    planned = options.planned()
    try:
        if not await check_port(options.port, report, "esp-at"):
            return report.skip(planned, why_stopped(report))
        port = options.port
        modem = await EspAtModem.open(
            port.port, port.baudrate, at_log=port.at_log, timeouts=port.timeouts
        )
    except ATPortError as exc:
        return lost(report, exc, planned)
    try:
        with contextlib.suppress(ATCommandError, ATTimeout):
            await modem.initialise()  # echo off, station mode
        report.add(await esp_module_check(modem))
        joined = report.add(await wifi_join_check(modem, options.ssid, options.password))
        if not joined.ok:
            return report.skip(planned, f"not on a Wi-Fi network ({joined.figure})")
        report.add(await wifi_signal_check(modem))
        ip = report.add(await wifi_ip_check(modem))
        if options.csms is None:
            return None
        if ip.status is Status.FAIL:
            return report.skip(esp_reach(options.csms), "no IP address from the access point")
        await reach_over_wifi(modem, options.csms, report, options.reach)
    except ATPortError as exc:
        lost(report, exc, planned)
    finally:
        with contextlib.suppress(ATError):
            await modem.aclose()
