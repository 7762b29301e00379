"""Every fault, injected once through the Python API and once through the control port."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from modem.emulator import Emulator, FaultError, Timing
from modem.emulator.link import parse_socket_url

from .atclient import STEP, AtHost, TcpServer, open_socket, session

Inject = Callable[[str], Awaitable[list[str]]]


class ControlClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, line: str) -> list[str]:
        """All reply lines up to and including the final ``ok`` / ``error: ...``."""
        self.writer.write(line.encode() + b"\n")
        lines: list[str] = []
        while not lines or not (lines[-1] == "ok" or lines[-1].startswith("error: ")):
            raw = await asyncio.wait_for(self.reader.readline(), STEP)
            assert raw, "control port closed"
            lines.append(raw.decode().rstrip("\n"))
        return lines


@pytest.fixture(params=["api", "control"])
async def inject(
    request: pytest.FixtureRequest, emu_host: tuple[Emulator, AtHost]
) -> AsyncIterator[Inject]:
    """``await inject("drop-tcp 0")``: the control-port syntax, run either way."""
    emu, _ = emu_host
    if request.param == "api":
        faults = emu.faults

        async def via_api(line: str) -> list[str]:
            verb, _, arg = line.partition(" ")
            calls: dict[str, Callable[[], object]] = {
                "drop-tcp": lambda: faults.drop_tcp(int(arg) if arg else None),
                "pdpdeact": lambda: faults.pdp_deactivate(int(arg or 1)),
                "send-fail": lambda: faults.send_fail(int(arg or 1)),
                "garbage": lambda: faults.garbage(arg.encode().decode("unicode_escape")),
                "garbage-next": lambda: faults.garbage_in_next_response(
                    arg.encode().decode("unicode_escape")
                ),
                "urc": lambda: faults.urc_in_next_response(arg),
                "urc-now": lambda: faults.urc(arg),
                "slow": lambda: faults.slow(int(arg)),
                "profile": lambda: faults.profile(arg),
                "reboot": faults.reboot,
                "late-prompt": lambda: faults.late_prompt(
                    float(arg.split()[0]), int(arg.split()[1]) if " " in arg else 1
                ),
                "hang": faults.hang,
            }
            try:
                calls[verb]()
            except FaultError as exc:
                return [f"error: {exc}"]
            return ["ok"]

        yield via_api
    else:
        assert emu.control_url is not None
        reader, writer = await asyncio.open_connection(*parse_socket_url(emu.control_url))
        yield ControlClient(reader, writer).send
        writer.close()


async def test_drop_tcp(
    inject: Inject, emu_host: tuple[Emulator, AtHost], server: TcpServer
) -> None:
    _, host = emu_host
    peer = await open_socket(host, server, conn_id=2)
    assert await inject("drop-tcp 2") == ["ok"]
    await host.expect(b'\r\n+QIURC: "closed",2\r\n')
    assert await peer.closed_by_modem()
    assert (await host.cmd("AT+QISTATE=1,2")).endswith(b',4,1,0,0,"uart1"\r\n\r\nOK\r\n')
    assert (await inject("drop-tcp 2"))[0].startswith("error: ")


async def test_pdp_deactivate(
    inject: Inject, emu_host: tuple[Emulator, AtHost], server: TcpServer
) -> None:
    _, host = emu_host
    peer = await open_socket(host, server)
    assert await inject("pdpdeact 1") == ["ok"]
    await host.expect(b'\r\n+QIURC: "pdpdeact",1\r\n')
    assert await peer.closed_by_modem()
    assert await host.cmd("AT+QIACT?") == b"\r\nOK\r\n"
    assert await host.cmd("AT+QISEND=0,1") == b"\r\nERROR\r\n"
    assert await host.cmd("AT+QIDEACT=1") == b"\r\nOK\r\n"  # the documented recovery
    assert await host.cmd("AT+QIACT=1") == b"\r\nOK\r\n"
    assert (await inject("pdpdeact 2"))[0].startswith("error: ")


async def test_send_fail(
    inject: Inject, emu_host: tuple[Emulator, AtHost], server: TcpServer
) -> None:
    _, host = emu_host
    peer = await open_socket(host, server)
    assert await host.cmd("AT+QISDE=0") == b"\r\nOK\r\n"
    assert await inject("send-fail 1") == ["ok"]
    host.write(b"AT+QISEND=0,4\r")
    await host.expect(b"\r\n>")
    host.write(b"lost")
    await host.expect(b"\r\nSEND FAIL\r\n")
    host.write(b"AT+QISEND=0,4\r")
    await host.expect(b"\r\n>")
    host.write(b"kept")
    await host.expect(b"\r\nSEND OK\r\n")
    assert await peer.read_exactly(4) == b"kept"  # the failed payload never left the modem


async def nothing_from(host: AtHost, wait: float = 0.1) -> None:
    try:
        extra = await asyncio.wait_for(host.reader.read(1), wait)
    except TimeoutError:
        return
    raise AssertionError(f"the modem wrote {extra!r}")


async def test_late_prompt(
    inject: Inject, emu_host: tuple[Emulator, AtHost], server: TcpServer
) -> None:
    """The prompt comes late, but the payload phase starts with the command: bytes
    written before the prompt are payload (what corrupted the stream in issue 11)."""
    emu, host = emu_host
    peer = await open_socket(host, server)
    assert await host.cmd("AT+QISDE=0") == b"\r\nOK\r\n"
    assert await inject("late-prompt 0.3 2") == ["ok"]
    assert emu.faults.status()["prompt_delays"] == [0.3, 0.3]
    host.write(b"AT+QISEND=0,4\r")
    await nothing_from(host)  # no prompt yet
    host.write(b"AT\r")  # what the old driver did after its timeout
    await host.expect(b"\r\n>")
    host.write(b"x")
    await host.expect(b"\r\nSEND OK\r\n")
    assert await peer.read_exactly(4) == b"AT\rx"  # the AT went out as payload
    host.write(b"AT+QISEND=0,2\r")  # the second late prompt, honoured
    await host.expect(b"\r\n>")
    host.write(b"ok")
    await host.expect(b"\r\nSEND OK\r\n")
    assert await peer.read_exactly(2) == b"ok"
    assert emu.faults.status()["prompt_delays"] == []
    host.write(b"AT+QISEND=0,2\r")  # on time again
    await host.expect(b"\r\n>")
    host.write(b"ok")
    await host.expect(b"\r\nSEND OK\r\n")
    assert (await inject("late-prompt -1"))[0].startswith("error: ")


async def test_hang_until_reset(inject: Inject, emu_host: tuple[Emulator, AtHost]) -> None:
    emu, host = emu_host
    assert await inject("hang") == ["ok"]
    assert emu.faults.status()["hung"] is True
    host.write(b"AT\r")
    host.write(b"AT+CSQ\r")
    await nothing_from(host)  # no echo, no answer
    host.write(b"AT+CFUN=1,1\r")  # a reset still works
    await host.expect(b"\r\nRDY\r\n")
    assert emu.faults.status()["hung"] is False
    assert await host.cmd("AT") == b"AT\r\r\nOK\r\n"  # echo on after the boot


async def test_garbage(inject: Inject, emu_host: tuple[Emulator, AtHost]) -> None:
    _, host = emu_host
    assert await inject(r"garbage \x00\xffNO CARRIER\r\n") == ["ok"]
    await host.expect(b"\x00\xffNO CARRIER\r\n")
    assert await host.cmd("AT") == b"\r\nOK\r\n"


async def test_garbage_in_next_response(inject: Inject, emu_host: tuple[Emulator, AtHost]) -> None:
    _, host = emu_host
    assert await inject(r"garbage-next \xff\xfe\x00\r\n") == ["ok"]
    assert await host.cmd("AT+CSQ") == b"\r\n+CSQ: 24,99\r\n\xff\xfe\x00\r\n\r\nOK\r\n"
    assert await host.cmd("AT") == b"\r\nOK\r\n"  # only the next response


async def test_urc_in_next_response(inject: Inject, emu_host: tuple[Emulator, AtHost]) -> None:
    _, host = emu_host
    assert await inject('urc +QIURC: "recv",0') == ["ok"]
    assert await host.cmd("AT+CSQ") == (b'\r\n+CSQ: 24,99\r\n\r\n+QIURC: "recv",0\r\n\r\nOK\r\n')
    assert await host.cmd("AT") == b"\r\nOK\r\n"  # only the next response
    assert await inject("urc-now +CEREG: 1") == ["ok"]
    await host.expect(b"\r\n+CEREG: 1\r\n")


async def test_slow(inject: Inject, emu_host: tuple[Emulator, AtHost]) -> None:
    emu, host = emu_host
    assert await inject("slow 30") == ["ok"]
    assert emu.faults.status()["slow_ms"] == 30
    assert await host.cmd("AT+CSQ") == b"\r\n+CSQ: 24,99\r\n\r\nOK\r\n"
    assert await inject("slow 0") == ["ok"]
    assert emu.faults.status()["slow_ms"] == 0


async def test_reboot(inject: Inject, emu_host: tuple[Emulator, AtHost], server: TcpServer) -> None:
    _, host = emu_host
    peer = await open_socket(host, server)
    assert await inject("reboot") == ["ok"]
    await host.expect(b"\r\nRDY\r\n")
    assert await peer.closed_by_modem()
    await host.expect(b"\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\n+QIND: SMS DONE\r\n")
    assert await host.cmd("AT+QIACT?") == b"AT+QIACT?\r\r\nOK\r\n"  # echo on, no context
    assert await host.cmd("AT+QICSGP=1") == b'AT+QICSGP=1\r\r\n+QICSGP: 1,"","","",0\r\n\r\nOK\r\n'


async def test_reboot_aborts_a_running_command() -> None:
    async with session(echo=True, timing=Timing(qiact=30.0)) as (emu, host):
        host.write(b"AT+QIACT=1\r")  # would block for 30 s
        await host.expect(b"AT+QIACT=1\r")  # echoed: the command is running
        emu.faults.reboot()
        await host.expect(b"\r\nRDY\r\n")  # and it never gets a final result


async def test_control_status_help_and_errors() -> None:
    async with session(profile="roaming") as (emu, _):
        assert emu.control_url is not None
        reader, writer = await asyncio.open_connection(*parse_socket_url(emu.control_url))
        control = ControlClient(reader, writer)
        status = await control.send("status")
        assert status[-1] == "ok"
        state = json.loads(status[0])
        assert state["profile"] == "roaming" and state["reg_stat"] == 5 and state["echo"] is False
        assert (await control.send("help"))[-1] == "ok"
        assert (await control.send("frobnicate"))[0].startswith("error: unknown command")
        assert (await control.send("slow soon"))[0].startswith("error: ")
        assert (await control.send("garbage"))[0].startswith("error: ")
        assert (await control.send("late-prompt soon"))[0].startswith("error: ")
        assert (await control.send("late-prompt 1 many"))[0].startswith("error: ")
        writer.close()


async def test_profile_switch_live(
    inject: Inject, emu_host: tuple[Emulator, AtHost], server: TcpServer
) -> None:
    _, host = emu_host
    peer = await open_socket(host, server)
    assert await host.cmd("AT+CEREG=1") == b"\r\nOK\r\n"
    assert await inject("profile denied") == ["ok"]
    await host.expect(b'\r\n+CEREG: 3\r\n\r\n+QIURC: "pdpdeact",1\r\n')
    assert await peer.closed_by_modem()
    assert await host.cmd("AT+CEREG?") == b"\r\n+CEREG: 1,3\r\n\r\nOK\r\n"
    assert await inject("profile roaming") == ["ok"]
    await host.expect(b"\r\n+CEREG: 5\r\n")
    assert (await inject("profile moon"))[0].startswith("error: unknown profile")
