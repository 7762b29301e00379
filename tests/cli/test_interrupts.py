"""Ctrl+C as a user presses it: at any moment of start-up no traceback; a command that
ends by itself exits 130 with its reports written; ``cpsim run`` stops its transaction
first, closes with 1000 and exits 0."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

import pytest

from chargepoint.csms.handlers import AnswerRule
from chargepoint.csms.server import LocalCsms

from .conftest import CPSIM, closed_port

BOOT_ONLY = """\
name: Boot only
charger: {id: CP-B1}
link: direct
csms: {url: local}
steps:
  - expect_received: {action: BootNotification, within: 20s}
  - expect_received: {action: Heartbeat, within: 1h}
"""


INTERRUPT_AT = """\
import signal, sys
from importlib.abc import MetaPathFinder

class CtrlCAt(MetaPathFinder):
    \"\"\"Ctrl+C exactly when {module} is first imported.\"\"\"
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            sys.meta_path.remove(self)
            signal.raise_signal(signal.SIGINT)
        return None

sys.meta_path.insert(0, CtrlCAt())
sys.argv = ["cpsim", *{args!r}]
from chargepoint.cli import entry
entry()
"""


@pytest.mark.parametrize(
    "module",
    [
        "click",  # the first import of the command line
        "websockets",  # the commands' imports, a few tenths of a second on a slow machine
        "chargepoint.store",
        "modem.emulator",
        "serial_asyncio_fast",
    ],
)
def test_ctrl_c_while_starting_is_one_line(tmp_path: Path, module: str) -> None:
    """The moment of start-up is chosen by the import it interrupts, not by a sleep, so
    the test does not depend on how fast the machine is."""
    url = f"ws://127.0.0.1:{closed_port()}/ocpp"
    args = ["run", "--id", "CP1", "--url", url, "--state-dir", str(tmp_path)]
    script = INTERRUPT_AT.format(module=module, args=args)
    done = subprocess.run(
        [CPSIM[0], "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert (done.returncode, done.stderr) == (130, "cpsim: interrupted\n")


def test_scenario_run_interrupted_exits_130_and_writes_junit(tmp_path: Path) -> None:
    scenario = tmp_path / "boot_only.yaml"
    scenario.write_text(BOOT_ONLY)
    junit = tmp_path / "junit.xml"
    url = f"ws://127.0.0.1:{closed_port()}/ocpp"
    proc = subprocess.Popen(
        [*CPSIM, "scenario", "run", str(scenario), "--csms", url, "--junit", str(junit)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # the scenario's header: it runs
    # the connect error is shown as soon as it is known, not after the step's timeout
    assert proc.stdout.readline().startswith(f"  ! cannot connect: {url}/CP-B1: ")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert err.rstrip().splitlines()[-1] == "cpsim: interrupted"
    assert "ERROR Boot only" in out and "interrupted (Ctrl+C)" in out
    assert 'errors="1"' in junit.read_text()


async def start_charging(tmp_path: Path, csms: LocalCsms) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        *CPSIM,
        *("run", "--id", "CP7", "--url", csms.url, "--state-dir", str(tmp_path)),
        stderr=asyncio.subprocess.PIPE,
    )
    await csms.frames.wait_for(
        lambda f: f.action == "StatusNotification" and f.charge_point == "CP7", 20
    )
    await csms.call("CP7", "RemoteStartTransaction", {"connectorId": 1, "idTag": "TAG1"})
    await csms.frames.wait_for(
        lambda f: f.action == "StartTransaction" and f.direction == "received", 20
    )
    await csms.frames.wait_for(
        lambda f: (
            f.direction == "sent" and isinstance(f.payload, dict) and "transactionId" in f.payload
        ),
        20,
    )
    return proc


async def test_ctrl_c_during_a_transaction_stops_it_first(csms: LocalCsms, tmp_path: Path) -> None:
    proc = await start_charging(tmp_path, csms)
    session = csms.sessions["CP7"]
    proc.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    text = err.decode()
    assert proc.returncode == 0, text
    stops = csms.frames.calls(action="StopTransaction")
    assert len(stops) == 1, text
    [stop] = stops
    assert stop.payload["reason"] == "Local"
    assert "stopping the transaction on connector 1 (reason Local) before closing" in text
    assert "Traceback" not in text
    ws = session._connection.ws  # type: ignore[attr-defined]
    await asyncio.wait_for(ws.wait_closed(), 5)
    assert ws.close_code == 1000


async def test_a_stop_the_csms_does_not_confirm_stays_queued(
    csms: LocalCsms, tmp_path: Path
) -> None:
    csms.policy.set_answer(AnswerRule("StopTransaction", ignore=True))
    proc = await start_charging(tmp_path, csms)
    proc.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    text = err.decode()
    assert proc.returncode == 0, text
    assert len(csms.frames.calls(action="StopTransaction")) == 1  # sent, never answered
    assert text.rstrip().splitlines()[-1] == (
        "cpsim run: stopped; 1 transaction message(s) the CSMS has not confirmed stay "
        f"queued in {tmp_path} and are sent at the next start"
    )


@pytest.mark.parametrize(
    "args",
    [["demo", "--link", "direct"], ["modem", "check", "--port", "PTY", "--wait", "30"]],
    ids=["demo", "modem check"],
)
async def test_ctrl_c_in_a_command_that_ends_by_itself_exits_130(args: list[str]) -> None:
    from modem.emulator import run_emulator

    async with run_emulator("ec200u", baud=None, profile="no-signal") as emu:
        args = [emu.port_url if a == "PTY" else a for a in args]
        proc = await asyncio.create_subprocess_exec(
            *CPSIM, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        stream = proc.stdout if args[0] == "demo" else proc.stderr
        assert stream is not None
        await asyncio.wait_for(stream.readline(), 30)  # it runs: the first line is out
        proc.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert "Traceback" not in err.decode()
    assert (proc.returncode, err.decode().rstrip().splitlines()[-1]) == (130, "cpsim: interrupted")
