"""The Wi-Fi equivalents for an ESP-AT module (reference B.2): access point found
and joined, signal, IP address, DNS and ping to the CSMS host.

ESP-AT answers a failed lookup or ping with a bare ``ERROR``, which is also
what a firmware without the command says.  DNS is what a charger needs, so
its ``ERROR`` fails; ping only informs, so its ``ERROR`` is a skip unless the
module said ``+PING:TIMEOUT``.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from modem.at import ATCommandError, ATTimeout
from modem.espat import EspAtModem, WifiError

from .common import guarded
from .reach import is_ip_address
from .result import CheckResult, Status

WIFI_FAIR = -75  # dBm; below: weak
WIFI_POOR = -85

_WIFI_REASONS = {1: "wifi-timeout", 2: "wifi-password", 3: "wifi-no-ap", 4: "wifi-refused"}
# +CWJAP:"<ssid>","<bssid>",<channel>,<rssi>,...  (the SSID may hold escaped commas)
_CWJAP = re.compile(
    r'^"(?P<ssid>(?:[^"\\]|\\.)*)","(?P<bssid>[0-9A-Fa-f:]{17})",(?P<ch>\d+),(?P<rssi>-?\d+)'
)


@dataclass(frozen=True)
class WifiLink:
    ssid: str
    bssid: str
    channel: int
    rssi: int


def parse_cwjap(value: str) -> WifiLink | None:
    """``AT+CWJAP?`` -> the access point joined; None for ``No AP``."""
    found = _CWJAP.match(value.strip())
    if found is None:
        return None
    ssid = re.sub(r"\\(.)", r"\1", found["ssid"])
    return WifiLink(ssid, found["bssid"], int(found["ch"]), int(found["rssi"]))


async def esp_module_check(modem: EspAtModem) -> CheckResult:
    """``AT+GMR``: AT and firmware versions."""

    async def run() -> CheckResult:
        lines = (await modem.command("AT+GMR")).lines
        versions = {k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in lines)}
        figure = ", ".join(
            f"{key} {versions[key]}" for key in ("AT version", "Bin version") if key in versions
        )
        return CheckResult("module", Status.PASS, figure or " / ".join(lines), data=versions)

    return await guarded("module", run)


async def wifi_join_check(modem: EspAtModem, ssid: str | None, password: str) -> CheckResult:
    """Join ``ssid`` (``AT+CWJAP``), or report the network the module is already on."""
    data: dict[str, object] = {"ssid": ssid}

    async def run() -> CheckResult:
        if ssid is None:
            current = await modem.current_ssid()
            if current is None:
                return CheckResult(
                    "Wi-Fi",
                    Status.FAIL,
                    "not connected",
                    "the module is on no Wi-Fi network",
                    reason="wifi-not-joined",
                    data=data,
                )
            data["ssid"] = current
            return CheckResult("Wi-Fi", Status.PASS, f"on '{current}' (already joined)", data=data)
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            await modem.join_wifi(ssid, password)
        except WifiError as exc:
            data.update(code=exc.code, seconds=round(loop.time() - start, 1))
            reason = _WIFI_REASONS.get(exc.code or 0, "wifi")
            return CheckResult(
                "Wi-Fi", Status.FAIL, f"'{ssid}' not joined", exc.reason, reason=reason, data=data
            )
        data["seconds"] = round(loop.time() - start, 1)
        return CheckResult(
            "Wi-Fi", Status.PASS, f"joined '{ssid}' in {data['seconds']} s", data=data
        )

    return await guarded("Wi-Fi", run)


async def wifi_signal_check(modem: EspAtModem) -> CheckResult:
    """``AT+CWJAP?``: RSSI, channel and BSSID of the access point."""

    async def run() -> CheckResult:
        link = parse_cwjap((await modem.command("AT+CWJAP?")).value("+CWJAP:") or "")
        if link is None:
            return CheckResult(
                "Wi-Fi signal",
                Status.WARN,
                "no access point",
                "the module is not associated",
                reason="no-signal",
            )
        data = {"rssi": link.rssi, "channel": link.channel, "bssid": link.bssid}
        figure = f"{link.rssi} dBm on channel {link.channel} (BSSID {link.bssid})"
        if link.rssi >= WIFI_FAIR:
            return CheckResult("Wi-Fi signal", Status.PASS, figure, data=data)
        words = "weak" if link.rssi >= WIFI_POOR else "very weak"
        return CheckResult(
            "Wi-Fi signal",
            Status.WARN,
            f"{figure}, {words}",
            "expect drops: bring the access point closer or add a repeater",
            reason="weak-wifi",
            data=data,
        )

    return await guarded("Wi-Fi signal", run)


async def wifi_ip_check(modem: EspAtModem) -> CheckResult:
    """``AT+CIPSTA?``: the station's IP address, gateway and netmask from DHCP."""

    async def run() -> CheckResult:
        values = (await modem.command("AT+CIPSTA?")).values("+CIPSTA:")
        info = {k: v.strip('"') for k, _, v in (value.partition(":") for value in values)}
        ip = info.get("ip", "")
        figure = f"{ip or '?'}, gateway {info.get('gateway', '?')}"
        if not ip or ip == "0.0.0.0":
            return CheckResult(
                "IP",
                Status.FAIL,
                figure,
                "the access point gave no IP address",
                reason="wifi-no-ip",
                data=info,
            )
        return CheckResult("IP", Status.PASS, figure, data=info)

    return await guarded("IP", run)


async def esp_dns_check(modem: EspAtModem, host: str, timeout: float = 20.0) -> CheckResult:
    """``AT+CIPDOMAIN``: the CSMS host name through the access point's DNS."""
    data: dict[str, object] = {"host": host}
    if is_ip_address(host):
        data["addresses"] = [host]
        return CheckResult(
            "DNS",
            Status.SKIP,
            host,
            "the CSMS URL gives an IP address: no lookup needed",
            reason="not-needed",
            data=data,
        )
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        response = await modem.command(f'AT+CIPDOMAIN="{host}"', timeout=timeout)
    except (ATCommandError, ATTimeout) as exc:
        return CheckResult(
            "DNS", Status.FAIL, f"{host} does not resolve", str(exc), reason="wifi-dns", data=data
        )
    address = (response.value("+CIPDOMAIN:") or "").strip('"')
    ms = round((loop.time() - start) * 1000)
    data.update(addresses=[address], ms=ms)
    return CheckResult("DNS", Status.PASS, f"{host} -> {address} in {ms} ms", data=data)


async def esp_ping_check(modem: EspAtModem, host: str, timeout: float = 15.0) -> CheckResult:
    """``AT+PING``: one echo to the CSMS host."""
    try:
        response = await modem.command(f'AT+PING="{host}"', timeout=timeout)
    except ATCommandError as exc:
        if any("TIMEOUT" in line for line in exc.lines):
            return CheckResult(
                "ping",
                Status.WARN,
                "no reply",
                "no echo reply: many servers drop ping; the WebSocket check decides",
                reason="no-ping",
            )
        return CheckResult(
            "ping",
            Status.SKIP,
            "not answered",
            f"{exc}: not supported, or the host is unknown",
            reason="unsupported",
        )
    except ATTimeout as exc:
        return CheckResult("ping", Status.WARN, "no answer", str(exc), reason="no-ping")
    rtt = (response.value("+PING:") or "").strip()
    return CheckResult("ping", Status.PASS, f"1 reply in {rtt} ms", data={"rtt_ms": rtt})
