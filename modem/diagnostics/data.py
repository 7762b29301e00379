"""The data check: configure an APN, activate the PDP context, time it, read the IP.

The context is deactivated first when it is already up, so the figure is the
time *this* APN takes, and a refusal is this APN's, not a session left over
from an earlier program.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from modem.at import ATCommandError, ATTimeout
from modem.quectel import ActivationError, QuectelModem
from modem.quectel.dialect import AUTH_NAMES

from .common import guarded
from .decode import fields
from .result import CheckResult, Status

_NOT_IN_AN_APN = ",\"'" + "".join(map(chr, range(33)))  # 3GPP TS 23.003: labels and dots


def apn_name_problem(apn: str) -> str | None:
    """Why ``apn`` cannot be an APN name (``'m2m.op,x'``: two APNs in one), or None."""
    bad = sorted({c for c in apn if c in _NOT_IN_AN_APN})
    if not bad:
        return None
    shown = " ".join(repr(c) for c in bad)
    return (
        f"APN {apn!r} contains {shown}: an APN is letters, digits, '-' and '.' "
        "(give each APN on its own)"
    )


@dataclass(frozen=True)
class ApnSettings:
    """``AT+QICSGP`` settings; ``auth`` 0 none, 1 PAP, 2 CHAP."""

    apn: str
    user: str = ""
    password: str = ""
    auth: int = 0

    def describe(self) -> str:
        """``'iot.op' (user 'u', PAP)``, ``(no APN)``; never the password."""
        extra = [f"user '{self.user}'"] if self.user else []
        if self.auth:
            extra.append(AUTH_NAMES.get(self.auth, f"auth {self.auth}"))
        name = f"'{self.apn}'" if self.apn else "(no APN)"
        return name + (f" ({', '.join(extra)})" if extra else "")

    def label(self) -> str:
        """``APN 'iot.op' (user 'u', PAP)`` or ``no APN``, to start a sentence with."""
        return f"APN {self.describe()}" if self.apn else "no APN"

    def as_json(self) -> dict[str, object]:
        return {"apn": self.apn, "user": self.user, "auth": AUTH_NAMES.get(self.auth, self.auth)}


async def configured_apn(modem: QuectelModem, ctx: int = 1) -> ApnSettings:
    """What ``AT+QICSGP=<ctx>`` holds now (used when no APN is given)."""
    value = (await modem.driver.command(f"AT+QICSGP={ctx}")).value("+QICSGP:") or ""
    parts = fields(value) + ["", "", "", "", ""]
    auth = int(parts[4]) if parts[4].isdigit() else 0
    return ApnSettings(parts[1], parts[2], parts[3], auth)


async def data_check(
    modem: QuectelModem, settings: ApnSettings | None, ctx: int = 1
) -> CheckResult:
    """Activate ``ctx`` on ``settings`` (None: the APN already configured in the modem)."""

    async def run() -> CheckResult:
        apn = settings or await configured_apn(modem, ctx)
        origin = "" if settings else ", as configured in the modem"
        data: dict[str, object] = {**apn.as_json(), "from_modem": settings is None}
        if await modem.address(ctx) is not None:
            await modem.deactivate(ctx)
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            address = await modem.activate(ctx, apn.apn, apn.user, apn.password, apn.auth)
        except ActivationError as exc:
            data["seconds"] = round(loop.time() - start, 2)
            return CheckResult(
                "data",
                Status.FAIL,
                f"{apn.label()} refused after {data['seconds']} s",
                exc.reason,
                reason="apn-refused" if apn.apn else "no-apn",  # no default APN on this network
                data=data,
            )
        except ATTimeout as exc:
            data["seconds"] = round(loop.time() - start, 2)
            return CheckResult(
                "data",
                Status.FAIL,
                f"{apn.label()}: no answer",
                str(exc),
                reason="apn-timeout",
                data=data,
            )
        except (ATCommandError, ValueError) as exc:  # AT+QICSGP refused the settings
            return CheckResult(
                "data",
                Status.FAIL,
                f"{apn.label()} not accepted by the modem",
                str(exc),
                reason="apn-invalid",
                data=data,
            )
        seconds = round(loop.time() - start, 2)
        data.update(ip=address, seconds=seconds)
        figure = f"IP {address or '?'} in {seconds} s ({apn.label()}{origin})"
        if not address or address.startswith("0."):
            return CheckResult(
                "data",
                Status.FAIL,
                figure,
                "the context is up but has no IP address",
                reason="no-ip",
                data=data,
            )
        return CheckResult("data", Status.PASS, figure, data=data)

    return await guarded("data", run)
