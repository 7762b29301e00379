"""The failures a technician meets most, end to end: the real EC200U emulator over a
pty, and a real local server misbehaving where the fault is on the CSMS side."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

from chargepoint.cli.fieldtest import apn_scan
from chargepoint.csms.server import LocalCsms
from chargepoint.fieldtest import PortOptions, ReachOptions
from modem.at.driver import ATDriver, Response
from modem.diagnostics import Report, Status
from modem.emulator import run_emulator

from .conftest import FAST, QUICK_REACH, ec200u, invoke, rows, run_field_check


async def test_sim_puk_rows() -> None:
    async with ec200u("sim-puk") as emu:
        results, verdict = await run_field_check(emu.port_url, None)
    got = rows(results)
    assert got["SIM"].figure.startswith("SIM PUK, ICCID 89860012345678901234")
    assert got["SIM"].detail == "the SIM is blocked: PUK required"
    assert got["data"].detail == "skipped: no usable SIM (SIM PUK)"
    assert verdict.summary == "SIM blocked (PUK required): unblock it with its PUK in a phone"


async def test_no_signal_rows() -> None:
    async with ec200u("no-signal") as emu:
        results, verdict = await run_field_check(emu.port_url, None, wait=0.5)
    got = rows(results)
    assert (got["signal"].reason, got["signal"].figure) == ("no-signal", "not measured (CSQ 99)")
    assert got["LTE quality"].figure == "no service"
    assert got["network"].figure == "no service"
    assert got["serving cell"].figure == "SEARCH"
    assert got["registration"].reason == "searching"
    assert got["data"].detail == "skipped: not registered on a network (not registered, searching)"
    assert verdict.exit_code == 1


async def test_no_apn_on_a_network_without_a_default() -> None:
    """No --apn, a fresh modem (empty APN) and a network that has no default APN."""
    async with ec200u("bad-apn", good_apns=("iot.op",)) as emu:
        results, verdict = await run_field_check(emu.port_url, None, apn=None)
    data = rows(results)["data"]
    assert (data.reason, data.figure.split(" after ")[0]) == ("no-apn", "no APN refused")
    assert verdict.summary.startswith("no APN set in the modem, and the network gives none")
    assert "give --apn" in verdict.summary and "''" not in verdict.summary


async def test_apn_activation_without_an_answer() -> None:
    """The network takes longer to activate than the budget: apn-timeout, not refused."""
    slow = dataclasses.replace(FAST, qiact=2.0)
    async with run_emulator("ec200u", baud=None, timing=slow) as emu:
        port = PortOptions(emu.port_url, timeouts={"AT+QIACT=": 0.5})
        results, verdict = await run_field_check(port, None)
    data = rows(results)["data"]
    assert (data.status, data.reason) == (Status.FAIL, "apn-timeout")
    assert data.detail == f"AT+QIACT=1 -> no final result within 0.5 s on {emu.port_url}"
    assert verdict.summary == (
        "activating APN 'internet' got no answer: check the signal and the APN"
    )


async def test_tcp_connect_that_never_completes(csms: LocalCsms) -> None:
    """A firewall that drops SYNs: the modem gives no +QIOPEN within the budget."""
    dropping = dataclasses.replace(FAST, unreachable=60.0)
    reach = ReachOptions(ping_count=0, connect_timeout=1.0)
    async with run_emulator(
        "ec200u", baud=None, profile="csms-unreachable", timing=dropping
    ) as emu:
        results, verdict = await run_field_check(emu.port_url, csms.url, reach=reach)
    tcp = rows(results)["TCP"]
    assert (tcp.status, tcp.reason) == (Status.FAIL, "tcp-timeout")
    assert tcp.detail == "no +QIOPEN: 0,<err> within 1 s"
    assert verdict.summary == (
        f"CSMS unreachable: TCP connect to 127.0.0.1:{csms.port} timed out; "
        "check the host and port and the CSMS firewall"
    )


@contextlib.asynccontextmanager
async def websocket_server(subprotocols: list[str]) -> AsyncIterator[str]:
    """A WebSocket server that accepts the upgrade and then never says a word."""

    async def silent(ws: ServerConnection) -> None:
        await ws.wait_closed()

    offered = [Subprotocol(p) for p in subprotocols] or None
    async with serve(silent, "127.0.0.1", 0, subprotocols=offered) as server:
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/ocpp"


async def test_csms_that_never_answers_boot_notification() -> None:
    reach = dataclasses.replace(QUICK_REACH, boot_timeout=1.0)
    async with websocket_server(["ocpp1.6"]) as url, ec200u("ok") as emu:
        results, verdict = await run_field_check(emu.port_url, url, reach=reach)
    got = rows(results)
    assert got["WebSocket"].status is Status.PASS
    assert (got["BootNotification"].reason, got["BootNotification"].figure) == (
        "boot-timeout",
        "no answer within 1 s",
    )
    assert verdict.summary == (
        "the CSMS never answered BootNotification: check the CSMS's OCPP version and logs"
    )


async def test_server_that_does_not_speak_ocpp16() -> None:
    async with websocket_server([]) as url, ec200u("ok") as emu:
        results, verdict = await run_field_check(emu.port_url, url)
    ws = rows(results)["WebSocket"]
    assert (ws.status, ws.reason) == (Status.FAIL, "subprotocol")
    assert "did not accept subprotocol ocpp1.6" in ws.detail
    assert rows(results)["BootNotification"].detail == "skipped: the WebSocket upgrade failed"
    assert verdict.summary == (
        "the server at this URL does not speak OCPP 1.6 (no ocpp1.6 subprotocol): check the URL"
    )


# What AT+QPING=1,"127.0.0.1",1,2 answers over a lossy link: one echo back, one lost.
# The emulator pings by TCP connect and cannot lose packets, so the modem's answer
# is injected into the AT+QPING response through the fault API.
LOSSY_PING = ('+QPING: 0,"127.0.0.1",32,41,64', "+QPING: 569", "+QPING: 0,2,1,1,41,41,41")


async def check_with_lossy_ping(csms: LocalCsms) -> None:
    async with ec200u("ok") as emu:

        def before_ping(row_name: str) -> None:
            if row_name == "DNS":  # the next command is AT+QPING
                for line in LOSSY_PING:
                    emu.faults.urc_in_next_response(line)

        reach = dataclasses.replace(QUICK_REACH, ping_count=2)
        report = Report(lambda r: before_ping(r.name))
        results, verdict = await run_field_check(emu.port_url, csms.url, reach=reach, report=report)
    ping = rows(results)["ping"]
    assert (ping.status, ping.reason) == (Status.WARN, "packet-loss")
    assert (ping.data["sent"], ping.data["received"]) == (2, 1)
    assert (verdict.status, verdict.exit_code) == (Status.WARN, 0)
    assert verdict.summary.endswith(
        ", but: packet loss to the CSMS host (1/2 replies, min/avg/max 41/41/41 ms)"
    )


async def test_packet_loss_warns_but_works(csms: LocalCsms) -> None:
    await check_with_lossy_ping(csms)


async def test_packet_loss_when_the_check_resumes_late(
    csms: LocalCsms, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a busy machine the reader task can take in the emulator's own echoes (all
    replied) before the check resumes after OK: the +QPING lines that came inside the
    response came first and must still be read first (this made the test above flaky)."""
    command = ATDriver.command

    async def resume_after_the_real_summary(
        self: ATDriver, line: str, timeout: float | None = None
    ) -> Response:
        if not line.startswith("AT+QPING="):
            return await command(self, line, timeout)
        all_replied = asyncio.Event()
        remove = self.add_urc_handler(
            lambda urc: all_replied.set() if urc.text.startswith("+QPING: 0,2,2,0") else None
        )
        try:
            response = await command(self, line, timeout)
            async with asyncio.timeout(10):
                await all_replied.wait()
        finally:
            remove()
        return response

    monkeypatch.setattr(ATDriver, "command", resume_after_the_real_summary)
    await check_with_lossy_ping(csms)


def closed_port() -> int:
    """A loopback port nobody listens on: connects are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_apn_scan_when_no_apn_works() -> None:
    url = f"ws://127.0.0.1:{closed_port()}/ocpp"
    async with ec200u("bad-apn", good_apns=("iot.op",)) as emu:
        args = ["--port", emu.port_url, "--apn", "internet", "--apn", "iot.op"]
        result = await invoke(apn_scan, [*args, "--csms-url", url, "--id", "CP1"])
    assert result.exit_code == 1
    verdict = result.stdout.rstrip().splitlines()[-1]
    assert verdict.startswith("FAIL: none of the 2 APNs works: ")
    assert "'internet': APN 'internet' refused by the network" in verdict
    assert "'iot.op': CSMS unreachable: no TCP connection to 127.0.0.1" in verdict
    assert "TCP failed" in result.stdout  # the table's CSMS column for 'iot.op'
