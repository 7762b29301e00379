"""``cpsim csms`` and ``cpsim csms call`` run as a user runs them: real processes, the
printed token and URLs, exit codes 0 / 1 / 2 and one line saying what to do."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner

from chargepoint.cli import main
from chargepoint.csms.server import LocalCsms

CPSIM = [sys.executable, "-m", "chargepoint"]
KEY = "0123456789abcdef0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def cpsim(*args: str, token: str | None = None) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CPSIM_API_TOKEN"}
    if token is not None:
        env["CPSIM_API_TOKEN"] = token
    proc = await asyncio.create_subprocess_exec(
        *CPSIM, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def one_error_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@dataclass
class CsmsProcess:
    proc: asyncio.subprocess.Process
    port: int
    lines: list[str] = field(default_factory=list)

    def value(self, pattern: str) -> str:
        for line in self.lines:
            if found := re.search(pattern, line):
                return found.group(1)
        raise AssertionError(f"{pattern!r} not in {self.lines}")

    async def read_until(self, text: str) -> None:
        assert self.proc.stderr is not None
        async with asyncio.timeout(20):
            while not any(text in line for line in self.lines):
                line = await self.proc.stderr.readline()
                assert line, self.lines
                self.lines.append(line.decode().rstrip())

    async def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        _, rest = await asyncio.wait_for(self.proc.communicate(), 10)
        return "\n".join(self.lines) + rest.decode()


@pytest.fixture
async def csms_process(tmp_path: Path) -> AsyncIterator[CsmsProcess]:
    (tmp_path / "fw-1.2.bin").write_bytes(b"\x7fIMAGE" * 1000)
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        *CPSIM,
        "csms",
        "--port",
        str(port),
        "--http-port",
        "0",
        "--firmware",
        str(tmp_path / "fw-1.2.bin"),
        "--log",
        str(tmp_path / "frames.jsonl"),
        "--uploads",
        str(tmp_path / "uploads"),
        stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k != "CPSIM_API_TOKEN"},
    )
    running = CsmsProcess(proc, port)
    await running.read_until("uploads are stored in")
    yield running
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


async def call_in_thread(args: list[str], token: str) -> tuple[int, str, str]:
    """``cpsim csms call ARGS`` through click's runner (its own event loop, in a thread)."""
    result = await asyncio.to_thread(
        CliRunner().invoke, main, ["csms", "call", *args], env={"CPSIM_API_TOKEN": token}
    )
    return result.exit_code, result.stdout, result.stderr


async def answering_charger(port: int, cp_id: str) -> Any:
    """A raw charger: Reset gets a CALLERROR, everything else Accepted."""
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    ws = await connect(f"ws://127.0.0.1:{port}/ocpp/{cp_id}", subprotocols=[Subprotocol("ocpp1.6")])

    async def serve() -> None:
        async for text in ws:
            frame = json.loads(text)
            if frame[2] == "Reset":
                await ws.send(json.dumps([4, frame[1], "NotSupported", "no", {}]))
            else:
                await ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))

    return ws, asyncio.create_task(serve())


async def test_csms_prints_what_to_use_and_call_exits_0_1_2(
    csms_process: CsmsProcess, tmp_path: Path
) -> None:
    token = csms_process.value(r"token: (\S+)")
    api = csms_process.value(r"control API: (http://\S+)/api")
    firmware = csms_process.value(r"firmware: (http://\S+)")
    assert firmware == f"{api}/firmware/fw-1.2.bin"
    assert csms_process.value(r"diagnostics: (http://\S+)") == f"{api}/diagnostics/"
    assert csms_process.value(r"uploads are stored in (\S+)") == str(tmp_path / "uploads")
    ws, task = await answering_charger(csms_process.port, "CP1")
    ocpp_port = f"http://127.0.0.1:{csms_process.port}"
    change = json.dumps({"key": "AuthorizationKey", "value": KEY})
    reset = '{"type":"Soft"}'
    ok = await cpsim(
        "csms", "call", "--url", api, "CP1", "ChangeConfiguration", change, token=token
    )
    callerror = await call_in_thread(["--url", api, "CP1", "Reset", reset], token)
    unknown = await call_in_thread(["--url", api, "NOPE", "Reset", reset], token)
    bad_payload = await call_in_thread(["--url", api, "CP1", "Reset", '{"type":"X"}'], token)
    bad_token = await call_in_thread(["--url", api, "CP1", "Reset", reset], "guess")
    not_api = await call_in_thread(["--url", ocpp_port, "CP1", "Reset", reset], token)
    assert ok[0] == 0 and json.loads(ok[1]) == {"status": "Accepted"}, ok
    assert callerror[0] == 1 and "CALLERROR NotSupported" in one_error_line(callerror[2])
    assert unknown[0] == 1 and "NOPE is not connected" in one_error_line(unknown[2])
    assert bad_payload[0] == 2
    assert "payload/type: not valid for OCPP 1.6" in one_error_line(bad_payload[2])
    assert bad_token[0] == 2 and "--api-token" in one_error_line(bad_token[2])
    assert not_api[0] == 2 and "is not the control API" in one_error_line(not_api[2])
    async with aiohttp.ClientSession() as session, session.get(firmware) as response:
        assert await response.read() == b"\x7fIMAGE" * 1000
    await ws.close()
    task.cancel()
    printed = await csms_process.stop()
    assert csms_process.proc.returncode == 0
    assert "ChangeConfiguration" in printed and KEY not in printed
    jsonl = (tmp_path / "frames.jsonl").read_text()
    assert '"AuthorizationKey"' in jsonl and KEY not in jsonl


@pytest.mark.parametrize(
    "args,env_token,message",
    [
        (["--url", "ws://127.0.0.1:9000/ocpp"], "t", "ws:// is the charger's URL; give the CSMS's"),
        (["--url", "127.0.0.1:9001"], "t", "give the CSMS's http://HOST:PORT"),
        ([], None, "give --api-token or set CPSIM_API_TOKEN"),
    ],
)
def test_call_usage_errors_exit_2(args: list[str], env_token: str | None, message: str) -> None:
    env = {"CPSIM_API_TOKEN": env_token}
    result = CliRunner().invoke(main, ["csms", "call", *args, "CP1", "ClearCache"], env=env)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_call_with_nothing_listening_says_what_to_check() -> None:
    port = free_port()
    result = CliRunner().invoke(
        main,
        ["csms", "call", "--url", f"http://127.0.0.1:{port}", "CP1", "ClearCache"],
        env={"CPSIM_API_TOKEN": "t"},
    )
    assert result.exit_code == 2
    assert f"is cpsim csms running on 127.0.0.1:{port}?" in result.output
    assert "connection refused" in result.output


async def test_call_reaches_a_real_charger(csms: LocalCsms, start_charger: Any) -> None:
    charger = await start_charger()
    await charger.booted()
    code, out, err = await cpsim(
        "csms",
        "call",
        "--url",
        csms.api_url,
        "CP001",
        "TriggerMessage",
        '{"requestedMessage":"Heartbeat"}',
        token=csms.api_token,
    )
    assert code == 0, err
    assert json.loads(out) == {"status": "Accepted"}
    await charger.received("Heartbeat")


@pytest.mark.parametrize(
    "args,message",
    [
        (["--port", "65535"], "give --http-port"),
        (["--port", "9000", "--http-port", "9000"], "must differ from --port"),
        (["--api-token", " "], "must not be empty"),
        (["--firmware", "/no/such/file.bin"], "does not exist"),
        (["--firmware-fault", "melt"], "'melt' is not one of"),
    ],
)
def test_csms_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["csms", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_a_port_in_use_is_named_and_exits_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["csms", "--port", "0", "--http-port", str(port)])
    assert result.exit_code == 2, result.output
    assert f"HTTP port {port}" in result.output and "in use" in result.output
