"""From the rows to one line: will the charger get through, and if not, what to do.

The first failure in check order is the cause (a missing SIM also leaves the
module unregistered, but the SIM is what to fix); warnings are appended when
everything passed.  Each reason code maps to a sentence a technician can act
on; the layers above add their own codes (WebSocket, BootNotification).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .result import CheckResult, Status

Fix = Callable[[CheckResult, Sequence[CheckResult]], str]


def _get(result: CheckResult, key: str, default: str = "?") -> str:
    value = result.data.get(key)
    return default if value is None else str(value)


def _find(results: Sequence[CheckResult], name: str) -> CheckResult | None:
    return next((r for r in results if r.name == name), None)


def _no_network(result: CheckResult, results: Sequence[CheckResult]) -> str:
    signal = _find(results, "signal")
    if signal is not None and signal.reason == "no-signal":
        hint = (
            f"no cell heard at all (AT+CSQ {_get(signal, 'csq')}): check that the antenna "
            "is connected and that there is coverage here"
        )
    elif signal is not None and signal.status is Status.WARN:
        hint = f"the signal is {signal.figure}: check the antenna or move it"
    else:
        hint = "check the antenna, the coverage here and that the SIM is activated"
    return f"not registered on any network ({_get(result, 'state')}): {hint}"


FIXES: dict[str, Fix] = {
    "not-a-modem": lambda r, _: f"no AT modem answers on this port: {r.detail}",
    "wrong-dialect": lambda r, _: r.detail,
    "not-this-dialect": lambda r, _: r.detail,
    "port-lost": lambda r, _: (
        "the modem link was lost"
        + (f" during {r.data['during']}" if r.data.get("during") else "")
        + f" ({r.detail}): check the USB cable and the power supply"
    ),
    "no-sim": lambda r, _: (
        "no SIM card detected: insert the SIM (contacts down) and power-cycle the modem"
    ),
    "sim-pin": lambda r, _: (
        "SIM PIN required: remove the PIN lock in a phone (a charger cannot enter a PIN)"
    ),
    "sim-puk": lambda r, _: "SIM blocked (PUK required): unblock it with its PUK in a phone",
    "sim-busy": lambda r, _: "the SIM does not become ready: reseat it and power-cycle the modem",
    "sim-error": lambda r, _: f"SIM problem ({r.figure}): try another SIM",
    "denied": lambda r, _: (
        "registration denied: the SIM has no data plan for this network "
        "(or is not activated); call the operator"
    ),
    "sms-only": lambda r, _: (
        "registered for SMS only: the SIM has no data service; ask the operator to enable data"
    ),
    "emergency-only": lambda r, _: (
        "emergency service only: the network does not accept this SIM; call the operator"
    ),
    "searching": _no_network,
    "not-registered": _no_network,
    "apn-refused": lambda r, _: (
        f"APN '{_get(r, 'apn')}' refused by the network: check the APN"
        + (" and its user/password" if r.data.get("user") else "")
        + " with the operator"
    ),
    "no-apn": lambda r, _: (
        "no APN set in the modem, and the network gives none by default: give --apn "
        "(the operator tells which APN this SIM needs)"
    ),
    "apn-invalid": lambda r, _: f"APN '{_get(r, 'apn')}' not accepted by the modem: {r.detail}",
    "apn-timeout": lambda r, _: (
        f"activating APN '{_get(r, 'apn')}' got no answer: check the signal and the APN"
    ),
    "no-ip": lambda r, _: "the data session has no IP address: check the APN with the operator",
    "dns": lambda r, _: (
        f"CSMS host does not resolve: check the host name '{_get(r, 'host')}' in the URL, "
        "or ask the operator whether this APN gives DNS"
    ),
    "tcp-refused": lambda r, _: (
        f"CSMS unreachable: no TCP connection to {_get(r, 'host')}:{_get(r, 'port')}; check "
        "the host and port, the CSMS firewall, and whether this APN reaches the Internet"
    ),
    "tcp-timeout": lambda r, _: (
        f"CSMS unreachable: TCP connect to {_get(r, 'host')}:{_get(r, 'port')} timed out; "
        "check the host and port and the CSMS firewall"
    ),
    "tcp": lambda r, _: f"CSMS unreachable: {r.detail}",
    "pdp-lost": lambda r, _: "the network dropped the data session: check the signal and the APN",
    "wifi-not-joined": lambda r, _: (
        "the module is on no Wi-Fi network: give --ssid and --wifi-password"
    ),
    "wifi-no-ap": lambda r, _: (
        f"Wi-Fi network '{_get(r, 'ssid')}' not found: check the SSID (case matters), that the "
        "access point is on and in range, and that it is a 2.4 GHz network"
    ),
    "wifi-password": lambda r, _: f"wrong Wi-Fi password for '{_get(r, 'ssid')}'",
    "wifi-timeout": lambda r, _: (
        f"the access point '{_get(r, 'ssid')}' did not answer in time: check the signal "
        "and that it is a 2.4 GHz network"
    ),
    "wifi-refused": lambda r, _: (
        f"the access point '{_get(r, 'ssid')}' refused the charger: "
        "check its MAC filter and client limit"
    ),
    "wifi": lambda r, _: f"Wi-Fi not joined: {r.detail}",
    "wifi-no-ip": lambda r, _: "the access point gave no IP address: check its DHCP server",
    "wifi-dns": lambda r, _: (
        f"CSMS host does not resolve over Wi-Fi: check the host name '{_get(r, 'host')}' in "
        "the URL, and the access point's DHCP/DNS settings (the DNS server it hands out)"
    ),
}


def _roaming(result: CheckResult, results: Sequence[CheckResult]) -> str:
    operator = _find(results, "operator")
    where = f" on {operator.data['operator']}" if operator and operator.data.get("operator") else ""
    return f"registered roaming{where}: make sure the SIM's plan allows roaming on this network"


WARNINGS: dict[str, Fix] = {
    "roaming": _roaming,
    "weak-signal": lambda r, _: f"weak signal {r.figure}: move the antenna or use an external one",
    "no-signal": lambda r, _: "no signal measured: check the antenna",
    "poor-lte": lambda r, _: (
        f"poor LTE link (RSRP {_get(r, 'rsrp')} dBm, RSRQ {_get(r, 'rsrq')} dB, "
        f"SINR {_get(r, 'sinr_db')} dB): check the antenna"
    ),
    "packet-loss": lambda r, _: f"packet loss to the CSMS host ({r.figure})",
    "weak-wifi": lambda r, _: (
        f"weak Wi-Fi signal ({r.figure}): bring the access point closer or add a repeater"
    ),
}


@dataclass(frozen=True)
class Verdict:
    """``status`` PASS, WARN (works, with a caveat) or FAIL; ``summary`` is the one line."""

    status: Status
    summary: str
    reason: str | None = None

    @property
    def works(self) -> bool:
        return self.status is not Status.FAIL

    @property
    def exit_code(self) -> int:
        return 0 if self.works else 1

    def as_json(self) -> dict[str, object]:
        return {
            "status": str(self.status),
            "works": self.works,
            "reason": self.reason,
            "summary": self.summary,
            "exit_code": self.exit_code,
        }


def verdict(
    results: Sequence[CheckResult],
    *,
    success: str,
    fixes: Mapping[str, Fix] = FIXES,
    warnings: Mapping[str, Fix] = WARNINGS,
) -> Verdict:
    """The first failure's fix; else ``success`` plus the warnings that matter."""
    for result in results:
        if result.status is Status.FAIL:
            fix = fixes.get(result.reason or "")
            if fix is None:
                text = f"{result.name}: {result.figure}: {result.detail}"
            else:
                text = fix(result, results)
            return Verdict(Status.FAIL, text, result.reason)
    blocked = next((r for r in results if r.status is Status.SKIP and r.reason == "skipped"), None)
    if blocked is not None:  # something that did not pass stopped a check, yet nothing failed
        why = blocked.data.get("why", blocked.detail)
        return Verdict(
            Status.FAIL, f"not proven: {blocked.name} could not run ({why})", "incomplete"
        )
    caveats = [
        warnings[r.reason](r, results)
        for r in results
        if r.status is Status.WARN and r.reason is not None and r.reason in warnings
    ]
    if caveats:
        return Verdict(Status.WARN, f"{success}, but: " + "; ".join(caveats), "warnings")
    return Verdict(Status.PASS, success)
