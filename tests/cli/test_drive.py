"""``cpsim run --control``: a running charger driven over JSON lines."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from chargepoint.cli.interactive import USAGE, parse_words
from chargepoint.csms.server import LocalCsms
from chargepoint.scenario.events import StopCharging
from chargepoint.station.drive import COMMANDS, DriveError, parse_request

from .conftest import CPSIM, cpsim, last_line


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b"plug 1", 'not a JSON object: send one per line, e.g. {"cmd": "status"}'),
        (b"[1]", 'not a JSON object: send one per line, e.g. {"cmd": "status"}'),
        (b'{"cmd": "dance"}', "cmd: one of plug_in, unplug, present_tag, start_transaction, "),
        (b'{"cmd": "plug", "conector": 1}', "conector: unknown key 'conector'; did you mean"),
        (b'{"cmd": "plug", "connector": 0}', "connector: Input should be greater than"),
        (b'{"cmd": "tag", "id_tag": "' + b"X" * 21 + b'"}', "id_tag: String should have at most"),
        (b'{"cmd": "stop", "reason": "Bored"}', "reason: unknown stop reason 'Bored'"),
        (b'{"cmd": "set_ev", "power_w": 7000, "soc": 20}', "soc: an EV has a fixed power_w"),
        (b'{"cmd": "send", "action": "Hartbeat"}', "action: unknown charge-point action"),
        (b'{"cmd": "send", "action": "Heartbeat", "payload": []}', "payload: expected a mapping"),
        (b'{"cmd": "status", "id": [1]}', "id: a string, a number or null"),
        (b"[" * 100_000 + b"]" * 100_000, "a request line is at most 65536 bytes"),
        (b"[" * 30_000 + b"]" * 30_000, "not a JSON object"),  # deeper than the parser goes
    ],
)
def test_bad_requests_are_named(line: bytes, error: str) -> None:
    """The checks and messages are the scenario steps' own: one vocabulary."""
    with pytest.raises(DriveError) as caught:
        parse_request(line)
    assert str(caught.value).startswith(error)


def test_good_requests_get_the_scenario_steps_defaults() -> None:
    request = parse_request(b'{"cmd": "stop", "id": 7}')
    assert (request.cmd, request.spec, request.request_id) == (
        "stop_charging",
        StopCharging(connector=1, reason="Local"),
        7,
    )
    fault = parse_request(b'{"cmd": "fault", "connector": 0}').spec
    assert (fault.connector, fault.error_code) == (0, "OtherError")  # type: ignore[attr-defined]


def test_the_control_port_listens_on_loopback_only(tmp_path: Path) -> None:
    result = cpsim(
        "run",
        "--id",
        "CP1",
        "--url",
        "ws://127.0.0.1:9/ocpp",
        "--state-dir",
        str(tmp_path),
        "--control",
        "socket://0.0.0.0:7000",
    )
    assert (result.exit_code, last_line(result)) == (
        2,
        "Error: Invalid value for '--control': 0.0.0.0: the control port has no "
        "authentication, so it listens on a loopback address only (127.0.0.1 or [::1])",
    )


class Driver:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def __call__(self, **request: Any) -> dict[str, Any]:
        self.writer.write(json.dumps(request).encode() + b"\n")
        answer = await asyncio.wait_for(self.reader.readline(), 30)
        return dict(json.loads(answer))


async def test_drive_a_charging_session(csms: LocalCsms, tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        *CPSIM,
        *("run", "--id", "CP5", "--url", csms.url, "--state-dir", str(tmp_path)),
        *("--control", "socket://127.0.0.1:0"),
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    line = ""
    async with asyncio.timeout(30):
        while not line.startswith("control port: "):
            line = (await proc.stderr.readline()).decode()
    host, port = line.split("socket://")[1].strip().rsplit(":", 1)
    drive = Driver(*await asyncio.open_connection(host, int(port)))
    await csms.frames.wait_for(
        lambda f: f.action == "StatusNotification" and f.charge_point == "CP5", 20
    )

    assert await drive(cmd="plug_in", connector=1, id="p") == {"id": "p", "ok": True}
    assert await drive(cmd="present_tag", id_tag="TAG5") == {"ok": True, "status": "Accepted"}
    await csms.frames.wait_for(lambda f: f.action == "StartTransaction", 20)
    await csms.frames.wait_for(
        lambda f: f.action == "StatusNotification" and f.payload.get("status") == "Charging", 20
    )
    state = await drive(cmd="status")
    assert state["online"] is True
    assert state["connectors"]["1"]["status"] == "Charging"
    assert state["connectors"]["1"]["transaction"]["id_tag"] == "TAG5"

    sent = await drive(cmd="send", action="DataTransfer", payload={"vendorId": "cpsim"})
    assert sent["ok"] is True and "status" in sent["result"]
    assert await drive(cmd="plug_in", connector=3) == {
        "ok": False,
        "error": "no connector 3 (this charger has 1)",
    }
    assert await drive(cmd="set_ev", connector=1, power_w=3700) == {"ok": True}
    assert await drive(cmd="stop_charging", connector=1) == {"ok": True}
    assert await drive(cmd="stop_charging", connector=1) == {
        "ok": False,
        "error": "no transaction on connector 1",
    }
    [stop] = await asyncio.wait_for(_stops(csms), 20)
    assert stop.payload["reason"] == "Local"

    drive.writer.close()
    proc.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()


async def _stops(csms: LocalCsms) -> list[Any]:
    await csms.frames.wait_for(lambda f: f.action == "StopTransaction", 20)
    return list(csms.frames.calls(action="StopTransaction"))


@pytest.mark.parametrize(
    ("typed", "line"),
    [
        ("plug", {"cmd": "plug_in"}),
        ("tag 2 CARD42", {"cmd": "present_tag", "connector": 2, "id_tag": "CARD42"}),
        (
            "stop 1 EmergencyStop",
            {"cmd": "stop_charging", "connector": 1, "reason": "EmergencyStop"},
        ),
        ("suspend 1 ev", {"cmd": "suspend", "connector": 1, "by": "ev"}),
        ("resume 1 3500", {"cmd": "start_charging", "connector": 1, "power_w": 3500}),
        ("ev 1 soc=80 phases=1", {"cmd": "set_ev", "connector": 1, "soc": 80, "phases": 1}),
        (
            'send DataTransfer {"vendorId": "x"}',
            {"cmd": "send", "action": "DataTransfer", "payload": {"vendorId": "x"}},
        ),
        ('{"cmd": "status", "id": 1}', {"cmd": "status", "id": 1}),
    ],
)
def test_typed_commands_are_the_control_ports_requests(typed: str, line: dict[str, Any]) -> None:
    assert json.loads(parse_words(typed)) == line
    parse_request(parse_words(typed))  # and the control port takes them


def test_every_command_has_a_typed_form() -> None:
    assert set(USAGE) == set(COMMANDS)


def test_typed_mistakes_show_the_usage() -> None:
    for typed, error in (
        ("dance", "unknown command 'dance': plug_in, unplug, present_tag"),
        ("tag 1 CARD extra", "usage: present_tag|tag [CONNECTOR] ID_TAG"),
        ("send Heartbeat {oops", "usage: send ACTION [JSON_PAYLOAD] (the payload as JSON)"),
        ("ev 1 soc", "usage: set_ev|ev [CONNECTOR] KEY=VALUE..."),
    ):
        with pytest.raises(DriveError) as caught:
            parse_words(typed)
        assert str(caught.value).startswith(error)


async def test_interactive_session(csms: LocalCsms, tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        *CPSIM,
        *("run", "--id", "CP6", "--url", csms.url, "--state-dir", str(tmp_path), "--interactive"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    await csms.frames.wait_for(
        lambda f: f.action == "StatusNotification" and f.charge_point == "CP6", 20
    )

    async def typed(line: str) -> dict[str, Any]:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(line.encode() + b"\n")
        return dict(json.loads(await asyncio.wait_for(proc.stdout.readline(), 30)))

    assert await typed("plug 1") == {"ok": True}
    assert await typed("tag 1 CARD6") == {"ok": True, "status": "Accepted"}
    await csms.frames.wait_for(lambda f: f.action == "StartTransaction", 20)
    assert await typed("start 1 CARD7") == {
        "ok": False,
        "error": "connector 1 already has a transaction",
    }
    assert (await typed("bogus"))["ok"] is False
    proc.stdin.write(b"quit\n")  # stops the charger as Ctrl+C does: the transaction first
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    [stop] = csms.frames.calls(action="StopTransaction")
    assert stop.payload["reason"] == "Local"
    assert "CP6 -> [2," in err.decode()  # the OCPP exchange, as it happened


async def test_interactive_on_a_terminal(csms: LocalCsms, tmp_path: Path) -> None:
    """prompt_toolkit's prompt on a real pty: answers and the log share the screen, and
    quit stops the charger cleanly (the terminal is left as it was found)."""
    master, slave = os.openpty()
    loop = asyncio.get_running_loop()
    shown = bytearray()
    loop.add_reader(master, lambda: shown.extend(os.read(master, 65536)))
    try:
        proc = await asyncio.create_subprocess_exec(
            *CPSIM,
            *("run", "--id", "CP8", "--url", csms.url, "--state-dir", str(tmp_path)),
            "--interactive",
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**os.environ, "TERM": "xterm", "COLUMNS": "200", "LINES": "50"},
        )
        await csms.frames.wait_for(
            lambda f: f.action == "StatusNotification" and f.charge_point == "CP8", 20
        )

        async def typed(line: str, answer: bytes) -> None:
            os.write(master, line.encode() + b"\r")
            async with asyncio.timeout(30):
                while answer not in shown:
                    await asyncio.sleep(0.05)  # polling the screen, not timing anything

        await typed("plug 1", b'{"ok": true}')
        await typed("status", b'"status": "Preparing"')
        os.write(master, b"quit\r")
        await asyncio.wait_for(proc.wait(), 30)
    finally:
        loop.remove_reader(master)
        os.close(master)
        os.close(slave)
    assert proc.returncode == 0, shown.decode(errors="replace")
    assert b"CP8> " in shown
    assert b"Traceback" not in shown
