"""Reaching the CSMS host through the modem: DNS (AT+QIDNSGIP), ping (AT+QPING), TCP.

Each answer of DNS and ping arrives as URCs after the command's ``OK``
(reference A.6, A.9), so the collector is registered before the command is
sent and removed after.  Ping only warns: many servers drop ICMP, and the TCP
connect right after it is what a charger needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import Iterator

from modem.at import ATCommandError, ATDriver, ATError, ATPortError, Urc
from modem.quectel import QuectelModem, QuectelSocket, SocketOpenError, qi_reason

from .common import guarded
from .decode import fields, to_int
from .result import CheckResult, Status


def is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class UrcInbox:
    """The URCs of one pending answer, ended early when the port goes away.

    DNS and ping answer after ``OK`` (reference A.9), up to a minute later; a
    modem unplugged meanwhile must end the wait at once with the port error,
    not after the timeout with a row that blames the CSMS host.
    """

    def __init__(self, driver: ATDriver) -> None:
        self._driver = driver
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()  # None: the port was lost

    def put(self, text: str) -> None:
        self._queue.put_nowait(text)

    def port_lost(self) -> None:
        self._queue.put_nowait(None)

    async def get(self) -> str:
        """The next answer; :class:`ATPortError` once the driver has lost the port."""
        if self._queue.empty() and self._driver.lost is not None:
            raise ATPortError(self._driver.port, self._driver.lost)
        text = await self._queue.get()
        if text is None:
            raise ATPortError(self._driver.port, self._driver.lost or "port lost")
        return text


@contextlib.contextmanager
def collecting(driver: ATDriver, prefix: str) -> Iterator[UrcInbox]:
    """Collect the text after ``prefix`` of every URC starting with it, while in the block."""
    inbox = UrcInbox(driver)
    active = True

    def put(urc: Urc) -> None:
        if active and urc.text.startswith(prefix):
            inbox.put(urc.text[len(prefix) :].strip())

    def lost(_reason: str) -> None:
        if active:  # the driver keeps lost handlers for good: inert after the block
            inbox.port_lost()

    remove = driver.add_urc_handler(put)
    driver.add_lost_handler(lost)
    try:
        yield inbox
    finally:
        active = False
        remove()


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


async def dns_check(
    modem: QuectelModem, host: str, ctx: int = 1, timeout: float = 30.0
) -> CheckResult:
    """``AT+QIDNSGIP``: the CSMS host name through the APN's DNS servers."""
    if is_ip_address(host):
        return CheckResult(
            "DNS",
            Status.SKIP,
            host,
            "the CSMS URL gives an IP address: no lookup needed",
            reason="not-needed",
            data={"host": host, "addresses": [host]},
        )
    driver = modem.driver

    async def run() -> CheckResult:
        data: dict[str, object] = {"host": host}
        loop = asyncio.get_running_loop()
        with collecting(driver, '+QIURC: "dnsgip",') as answers:
            start = loop.time()
            try:
                await driver.command(f'AT+QIDNSGIP={ctx},"{host}"')
            except ATCommandError as exc:
                return CheckResult(
                    "DNS",
                    Status.FAIL,
                    f"{host}: lookup refused",
                    await modem.explain(exc),
                    reason="dns",
                    data=data,
                )
            try:
                async with asyncio.timeout(timeout):
                    head = fields(await answers.get())
                    while to_int(head[0]) is None:  # an address line of an earlier lookup
                        head = fields(await answers.get())
                    err, count = to_int(head[0]), to_int(head[1] if len(head) > 1 else "")
                    addresses = []
                    if err == 0:
                        for _ in range(count or 0):
                            addresses.append((await answers.get()).strip('"'))
            except TimeoutError:
                return CheckResult(
                    "DNS",
                    Status.FAIL,
                    f"{host}: no answer within {timeout:g} s",
                    "the APN's DNS servers did not answer",
                    reason="dns",
                    data=data,
                )
        ms = _ms(loop.time() - start)
        data.update(addresses=addresses, ms=ms, error=err)
        if err != 0 or not addresses:
            why = qi_reason(err) if err else "no address in the answer"
            return CheckResult(
                "DNS",
                Status.FAIL,
                f"{host} does not resolve",
                f'+QIURC: "dnsgip",{why}',
                reason="dns",
                data=data,
            )
        figure = f"{host} -> {', '.join(addresses)} in {ms} ms"
        return CheckResult("DNS", Status.PASS, figure, data=data)

    return await guarded("DNS", run)


async def ping_check(
    modem: QuectelModem, host: str, ctx: int = 1, timeout_s: int = 2, count: int = 3
) -> CheckResult:
    """``AT+QPING``: round trips to the CSMS host (replies, loss, min/avg/max)."""
    driver = modem.driver

    async def run() -> CheckResult:
        rtts: list[int] = []
        errors: list[int] = []
        summary: list[str] | None = None
        with collecting(driver, "+QPING:") as answers:
            response = await driver.command(f'AT+QPING={ctx},"{host}",{timeout_s},{count}')
            # Some firmware answers before OK.  Those lines came first, so they are read
            # first: the reader may have queued later URCs before this task resumed.
            early = list(response.values("+QPING:"))
            try:
                async with asyncio.timeout(count * (timeout_s + 1) + 30):
                    while summary is None:
                        parts = fields(early.pop(0) if early else await answers.get())
                        code = to_int(parts[0])
                        if len(parts) >= 7:
                            summary = parts
                        elif len(parts) >= 4 and code == 0:
                            rtts.append(to_int(parts[3]) or 0)
                        elif code:
                            errors.append(code)
                            if code != 569:  # 569 = this echo timed out; others end the run
                                break
            except TimeoutError:
                pass
        sent = to_int(summary[1]) if summary else count
        received = len(rtts)
        data: dict[str, object] = {"sent": sent, "received": received, "rtt_ms": rtts}
        if not rtts:
            failure = next((e for e in errors if e != 569), None)
            detail = (
                f"+QPING: {qi_reason(failure)}"
                if failure
                else "no echo reply: many servers and firewalls drop ping; the TCP check decides"
            )
            return CheckResult(
                "ping", Status.WARN, f"0/{sent} replies", detail, reason="no-ping", data=data
            )
        lo, hi, avg = min(rtts), max(rtts), sum(rtts) // len(rtts)
        data.update(min_ms=lo, avg_ms=avg, max_ms=hi)
        figure = f"{received}/{sent} replies, min/avg/max {lo}/{avg}/{hi} ms"
        if sent is not None and received < sent:
            return CheckResult(
                "ping",
                Status.WARN,
                figure,
                "packet loss: a weak or congested link",
                reason="packet-loss",
                data=data,
            )
        return CheckResult("ping", Status.PASS, figure, data=data)

    return await guarded("ping", run)


_OPEN_REASONS = {
    565: "dns",
    566: "tcp-refused",
    569: "tcp-timeout",
    561: "pdp-lost",
    570: "pdp-lost",
}


async def tcp_check(
    modem: QuectelModem, host: str, port: int, *, ctx: int = 1, timeout: float = 45.0
) -> tuple[CheckResult, QuectelSocket | None]:
    """``AT+QIOPEN``: a TCP connection to the CSMS; the open socket is handed back."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    data: dict[str, object] = {"host": host, "port": port}
    try:
        sock = await modem.open_tcp(host, port, ctx=ctx, timeout=timeout)
    except SocketOpenError as exc:
        waited = loop.time() - start
        data.update(code=exc.code, seconds=round(waited, 2))
        if exc.code is None and waited >= timeout:  # no +QIOPEN at all: SYNs unanswered
            reason = "tcp-timeout"
        else:
            reason = _OPEN_REASONS.get(exc.code or 0, "tcp")
        return (
            CheckResult(
                "TCP",
                Status.FAIL,
                f"no connection to {host}:{port}",
                exc.reason,
                reason=reason,
                data=data,
            ),
            None,
        )
    except ATPortError:
        raise
    except ATError as exc:  # no answer, or re-activating the context on the way failed
        return CheckResult(
            "TCP", Status.FAIL, "no connection", str(exc), reason="tcp", data=data
        ), None
    ms = _ms(loop.time() - start)
    data["ms"] = ms
    figure = f"connected to {host}:{port} in {ms} ms"
    return CheckResult("TCP", Status.PASS, figure, data=data), sock
