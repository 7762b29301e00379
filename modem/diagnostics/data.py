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

from .common import guarded
from .decode import fields
from .result import CheckResult, Status

AUTH_NAMES = {0: "none", 1: "PAP", 2: "CHAP"}


@dataclass(frozen=True)
class ApnSettings:
    """``AT+QICSGP`` settings; ``auth`` 0 none, 1 PAP, 2 CHAP."""

    apn: str
    user: str = ""
    password: str = ""
    auth: int = 0

    def describe(self) -> str:
        """``'iot.op' (user 'u', PAP)``; never the password."""
        extra = [f"user '{self.user}'"] if self.user else []
        if self.auth:
            extra.append(AUTH_NAMES.get(self.auth, f"auth {self.auth}"))
        return f"'{self.apn}'" + (f" ({', '.join(extra)})" if extra else "")

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
                f"APN {apn.describe()} refused after {data['seconds']} s",
                exc.reason,
                reason="apn-refused",
                data=data,
            )
        except ATTimeout as exc:
            data["seconds"] = round(loop.time() - start, 2)
            return CheckResult(
                "data",
                Status.FAIL,
                f"APN {apn.describe()}: no answer",
                str(exc),
                reason="apn-timeout",
                data=data,
            )
        except (ATCommandError, ValueError) as exc:  # AT+QICSGP refused the settings
            return CheckResult(
                "data",
                Status.FAIL,
                f"APN {apn.describe()} not accepted by the modem",
                str(exc),
                reason="apn-invalid",
                data=data,
            )
        seconds = round(loop.time() - start, 2)
        data.update(ip=address, seconds=seconds)
        figure = f"IP {address or '?'} in {seconds} s (APN {apn.describe()}{origin})"
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
