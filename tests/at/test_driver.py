"""The asyncio driver against a scripted modem on a socket pair (and once on a pty)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from modem.at import (
    GENERIC,
    ATCommandError,
    ATDriver,
    ATPortError,
    ATRestarted,
    ATTimeout,
    ATTrace,
    Dialect,
    Urc,
)
from modem.at.driver import (
    PAYLOAD_PHASE,
    SILENT_PAYLOAD_PHASE,
    TRANSITIONS,
    CommandDuringPayloadPhase,
    PortEvent,
    PortState,
    UnannouncedPayload,
)
from modem.quectel import QUECTEL
from modem.serialport import open_driver, open_port

from .scripted import STEP, ScriptedModem, pty_modem, socket_pair


async def until(condition: Callable[[], bool]) -> None:
    """Wait (bounded) for driver state that offers no event to wait on."""
    async with asyncio.timeout(STEP):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.005)


@pytest.fixture
async def pair() -> AsyncIterator[tuple[ScriptedModem, ATDriver, list[Urc]]]:
    async with socket_pair() as (modem, reader, writer):
        driver = ATDriver(reader, writer, dialect=QUECTEL, port="test-port")
        urcs: list[Urc] = []
        driver.add_urc_handler(urcs.append)
        driver.start()
        yield modem, driver, urcs
        await driver.aclose()


async def test_echo_is_discarded_and_lines_collected(pair) -> None:
    modem, driver, _ = pair
    task = asyncio.create_task(driver.command("AT+CSQ"))
    await modem.expect("AT+CSQ")
    modem.send(b"AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n")
    response = await task
    assert response.lines == ["+CSQ: 20,99"]
    assert response.value("+CSQ:") == "20,99"


async def test_urc_between_echo_and_response_goes_to_handlers(pair) -> None:
    modem, driver, urcs = pair
    task = asyncio.create_task(driver.command("AT+CGSN"))
    await modem.expect("AT+CGSN")
    modem.send(b'AT+CGSN\r\r\n+QIURC: "recv",1\r\n\r\n864508030000001\r\n\r\nOK\r\n')
    response = await task
    assert response.lines == ["864508030000001"]
    assert urcs == [Urc('+QIURC: "recv",1')]


async def test_a_urc_prefix_answering_the_pending_command_is_its_response(pair) -> None:
    modem, driver, urcs = pair
    task = asyncio.create_task(driver.command("AT+CPIN?"))
    await modem.expect("AT+CPIN?")
    modem.send(b"\r\n+CPIN: READY\r\n\r\nOK\r\n\r\n+CPIN: NOT READY\r\n")
    assert (await task).value("+CPIN:") == "READY"
    await asyncio.sleep(0.01)
    assert urcs == [Urc("+CPIN: NOT READY")]


async def test_line_with_no_command_waiting_is_unsolicited(pair) -> None:
    modem, driver, urcs = pair
    modem.send(b"\r\nRDY\r\n\r\n+QIND: PB DONE\r\n")
    await until(lambda: len(urcs) == 2)  # before the command: RDY would abandon it
    task = asyncio.create_task(driver.command("AT"))
    await modem.expect("AT")
    modem.send(b"\r\nOK\r\n")
    await task
    assert urcs == [Urc("RDY"), Urc("+QIND: PB DONE")]


async def test_cme_error_names_command_and_reason(pair) -> None:
    modem, driver, _ = pair
    task = asyncio.create_task(driver.command("AT+QIACT=1"))
    await modem.expect("AT+QIACT=1")
    modem.send(b"\r\n+CME ERROR: 30\r\n")
    with pytest.raises(ATCommandError) as info:
        await task
    assert str(info.value) == "AT+QIACT=1 -> +CME ERROR: 30 (No network service)"
    assert info.value.cme_code == 30


async def test_timeout_names_command_seconds_and_port(pair) -> None:
    modem, driver, _ = pair
    with pytest.raises(ATTimeout) as info:
        await driver.command('AT+QIDNSGIP=1,"x"', timeout=0.2)
    assert str(info.value) == 'AT+QIDNSGIP=1,"x" -> no final result within 0.2 s on test-port'
    # The late OK of the timed-out command must not be taken by the next one.
    modem.send(b"\r\nOK\r\n")
    await asyncio.sleep(0.05)
    task = asyncio.create_task(driver.command("AT+CSQ"))
    await modem.expect('AT+QIDNSGIP=1,"x"')
    await modem.expect("AT+CSQ")
    modem.send(b"\r\n+CSQ: 5,99\r\n\r\nOK\r\n")
    assert (await task).lines == ["+CSQ: 5,99"]


async def test_after_a_timeout_a_late_answer_is_not_taken_by_the_next_command(pair) -> None:
    modem, driver, _ = pair
    with pytest.raises(ATTimeout):
        await driver.command("AT+QICLOSE=0", timeout=0.2)
    task = asyncio.create_task(driver.command("AT+CSQ"))
    await modem.expect("AT+QICLOSE=0")
    await modem.expect("AT")  # the driver resynchronises before AT+CSQ
    modem.send(b"\r\nERROR\r\n")  # the late answer to AT+QICLOSE
    await modem.nothing_more()  # that ERROR did not answer AT
    modem.send(b"\r\nOK\r\n")
    await modem.expect("AT+CSQ")
    modem.send(b"\r\n+CSQ: 5,99\r\n\r\nOK\r\n")
    assert (await task).lines == ["+CSQ: 5,99"]


async def test_a_late_prompt_gets_exactly_its_payload_and_nothing_before_it(pair) -> None:
    """Between a timed-out AT+QISEND and its late prompt nothing is written (no AT to
    resynchronise): the module would take it as payload.  The prompt gets exactly the
    announced bytes; the next command waits for the send's final result."""
    modem, driver, _ = pair
    with pytest.raises(ATTimeout):
        await driver.send_payload("AT+QISEND=0,5", b"hello", timeout=0.2)
    assert driver.state is PortState.ABANDONED_SEND
    task = asyncio.create_task(driver.command("AT+CGSN"))
    await modem.expect("AT+QISEND=0,5")
    await modem.nothing_more(0.3)  # no AT, no AT+CGSN while the prompt may still come
    modem.send(b"\r\n>")
    assert await modem.read_exact(5) == b"hello"
    await modem.nothing_more()  # the send's final result first
    modem.send(b"\r\nSEND OK\r\n")
    await modem.expect("AT+CGSN")
    modem.send(b"\r\n864508030000001\r\n\r\nOK\r\n")
    assert (await task).lines == ["864508030000001"]
    assert driver.state is PortState.IDLE


async def test_a_send_refused_after_its_timeout_frees_the_port(pair) -> None:
    """A final result instead of the late prompt ends the payload phase: no payload."""
    modem, driver, _ = pair
    with pytest.raises(ATTimeout):
        await driver.send_payload("AT+QISEND=0,5", b"hello", timeout=0.2)
    task = asyncio.create_task(driver.command("AT+QICLOSE=0"))
    await modem.expect("AT+QISEND=0,5")
    await modem.nothing_more(0.2)
    modem.send(b"\r\nERROR\r\n")
    await modem.expect("AT+QICLOSE=0")  # not b"hello", not AT
    modem.send(b"\r\nOK\r\n")
    await task


async def test_a_silent_module_is_given_up_after_the_silent_payload_phase_limit() -> None:
    async with socket_pair() as (modem, reader, writer):
        driver = ATDriver(
            reader, writer, dialect=QUECTEL, port="p", timeouts={SILENT_PAYLOAD_PHASE: 0.3}
        )
        with pytest.raises(ATTimeout):
            await driver.send_payload("AT+QISEND=0,5", b"hello", timeout=0.1)
        with pytest.raises(ATTimeout) as info:
            await driver.command("AT+QICLOSE=0")
        assert "after AT+QISEND=0,5" in str(info.value)
        await modem.expect("AT+QISEND=0,5")
        await modem.nothing_more()
        assert driver.state is PortState.STALE  # given up: commands may be written again
        task = asyncio.create_task(driver.command("AT+QICLOSE=0"))
        await modem.expect("AT+QICLOSE=0")
        modem.send(b"\r\nOK\r\n")
        await task
        await driver.aclose()


def test_transition_table_keeps_the_payload_phase_closed_to_commands() -> None:
    for state in PAYLOAD_PHASE:
        assert (state, PortEvent.WRITE_COMMAND) not in TRANSITIONS
        assert (state, PortEvent.WRITE_SEND) not in TRANSITIONS
    writers = {s for (s, e) in TRANSITIONS if e is PortEvent.WRITE_PAYLOAD}
    assert writers == {PortState.PAYLOAD}


async def test_rule_breaking_writes_are_refused_by_name(pair) -> None:
    modem, driver, _ = pair
    task = asyncio.create_task(driver.send_payload("AT+QISEND=0,3", b"xyz"))
    await modem.expect("AT+QISEND=0,3")
    with pytest.raises(CommandDuringPayloadPhase):
        await driver._write_command("AT")
    pending = driver._pending
    assert pending is not None
    with pytest.raises(UnannouncedPayload):
        driver._write_payload_now(pending, "no prompt yet")
    modem.send(b"\r\n>")
    assert await modem.read_exact(3) == b"xyz"
    modem.send(b"\r\nSEND OK\r\n")
    await task


async def test_resync_gives_up_naming_both_commands() -> None:
    quick = dataclasses.replace(QUECTEL, default_timeout=0.2)
    async with socket_pair() as (modem, reader, writer):
        driver = ATDriver(reader, writer, dialect=quick, port="test-port")
        with pytest.raises(ATTimeout):
            await driver.command("AT+QIDEACT=1", timeout=0.1)
        with pytest.raises(ATTimeout) as info:
            await driver.command("AT+CSQ")  # the modem answers nothing at all
        message = str(info.value)
        assert message.startswith("AT (resynchronising before AT+CSQ) -> no final result")
        await modem.expect("AT+QIDEACT=1")
        await modem.expect("AT")
        await modem.nothing_more()  # AT+CSQ was never sent into the confusion
        await driver.aclose()


async def test_restart_fails_the_command_in_flight_at_once(pair) -> None:
    modem, driver, urcs = pair
    task = asyncio.create_task(driver.command("AT+QIACT=1"))  # 150 s budget
    await modem.expect("AT+QIACT=1")
    modem.send(b"\r\nRDY\r\n")
    with pytest.raises(ATRestarted) as info:
        await asyncio.wait_for(task, STEP)
    assert str(info.value).startswith("AT+QIACT=1 -> modem restarted (RDY) on test-port")
    assert urcs == [Urc("RDY")]  # the dialect above still hears about it
    follow = asyncio.create_task(driver.command("AT"))
    await modem.expect("AT")  # no resynchronisation: a restarted modem owes nothing
    modem.send(b"\r\nOK\r\n")
    await follow


def test_timeout_table() -> None:
    driver_timeouts = {
        "AT+QIACT=1": 150,
        'AT+QIOPEN=1,0,"TCP","h",1,0,0': 150,
        "AT+QIDEACT=1": 40,
        "AT+QICLOSE=0": 10,
        'AT+QIDNSGIP=1,"h"': 60,
        "AT+QIACT?": 5,
        "AT+CSQ": 5,
    }
    for command, seconds in driver_timeouts.items():
        assert QUECTEL.timeout_for(command) == seconds, command


async def test_timeouts_can_be_overridden() -> None:
    async with socket_pair() as (_, reader, writer):
        driver = ATDriver(reader, writer, dialect=QUECTEL, timeouts={"AT+QIACT=": 30})
        assert driver.timeout_for("AT+QIACT=1") == 30
        assert driver.timeout_for("AT+QIDEACT=1") == 40
        await driver.aclose()


async def test_payload_is_written_only_after_the_prompt(pair) -> None:
    modem, driver, urcs = pair
    payload = bytes(range(256))
    task = asyncio.create_task(driver.send_payload("AT+QISEND=0,256", payload))
    await modem.expect("AT+QISEND=0,256")
    modem.send(b'\r\n+QIURC: "recv",0\r\n')  # a URC first: still no prompt
    await modem.nothing_more()
    modem.send(b"\r\n> ")
    assert await modem.read_exact(256) == payload
    modem.send(b'\r\n+QIURC: "closed",1\r\n\r\nSEND OK\r\n')
    response = await task
    assert response.final.text == "SEND OK"
    assert urcs == [Urc('+QIURC: "recv",0'), Urc('+QIURC: "closed",1')]
    await modem.nothing_more()  # no Ctrl+Z, no CR after the payload


async def test_error_instead_of_prompt_writes_no_payload(pair) -> None:
    modem, driver, _ = pair
    task = asyncio.create_task(driver.send_payload("AT+QISEND=3,4", b"abcd"))
    await modem.expect("AT+QISEND=3,4")
    modem.send(b"\r\nERROR\r\n")
    with pytest.raises(ATCommandError, match=r"AT\+QISEND=3,4 -> ERROR"):
        await task
    await modem.nothing_more()


async def test_send_fail_is_an_error_flagged_for_retry(pair) -> None:
    modem, driver, _ = pair
    task = asyncio.create_task(driver.send_payload("AT+QISEND=0,2", b"hi"))
    await modem.expect("AT+QISEND=0,2")
    modem.send(b"\r\n>")
    assert await modem.read_exact(2) == b"hi"
    modem.send(b"\r\nSEND FAIL\r\n")
    with pytest.raises(ATCommandError) as info:
        await task
    assert info.value.send_failed
    assert str(info.value) == "AT+QISEND=0,2 -> SEND FAIL"


async def test_esp_style_ok_before_prompt() -> None:
    esp = Dialect(name="esp", line_ending=b"\r\n")
    async with socket_pair(b"\r\n") as (modem, reader, writer):
        driver = ATDriver(reader, writer, dialect=esp)
        task = asyncio.create_task(driver.send_payload("AT+WSSEND=0,4", b"\x1a\r\n\x1b"))
        await modem.expect("AT+WSSEND=0,4")
        modem.send(b"\r\nOK\r\n\r\n>")
        assert await modem.read_exact(4) == b"\x1a\r\n\x1b"
        modem.send(b"\r\nSEND OK\r\n")
        assert (await task).final.text == "SEND OK"
        await driver.aclose()


async def test_caller_cancelled_between_command_and_prompt_still_sends_payload(pair) -> None:
    modem, driver, _ = pair
    task = asyncio.create_task(driver.send_payload("AT+QISEND=0,3", b"xyz"))
    await modem.expect("AT+QISEND=0,3")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    modem.send(b"\r\n> ")
    # Otherwise the modem would eat the next command line as payload.
    assert await modem.read_exact(3) == b"xyz"
    modem.send(b"\r\nSEND OK\r\n")
    follow = asyncio.create_task(driver.command("AT"))
    await modem.expect("AT")
    modem.send(b"\r\nOK\r\n")
    await follow


async def test_one_command_in_flight(pair) -> None:
    modem, driver, _ = pair
    first = asyncio.create_task(driver.command("AT+CIMI"))
    second = asyncio.create_task(driver.command("AT+CGSN"))
    await modem.expect("AT+CIMI")
    await modem.nothing_more()
    modem.send(b"\r\n460001234567890\r\n\r\nOK\r\n")
    await modem.expect("AT+CGSN")
    modem.send(b"\r\n864508030000001\r\n\r\nOK\r\n")
    assert (await first).lines == ["460001234567890"]
    assert (await second).lines == ["864508030000001"]


async def test_port_closing_fails_the_command_and_later_ones(pair) -> None:
    modem, driver, _ = pair
    lost: list[str] = []
    driver.add_lost_handler(lost.append)
    task = asyncio.create_task(driver.command("AT+QIACT=1"))
    await modem.expect("AT+QIACT=1")
    modem.close()
    with pytest.raises(ATPortError, match="test-port: port closed"):
        await task
    assert lost and "port closed" in lost[0]
    with pytest.raises(ATPortError):
        await driver.command("AT")


async def test_a_cancelled_reader_fails_commands_at_once(pair) -> None:
    """At exit asyncio cancels every task: a close must not wait out command timeouts."""
    _, driver, _ = pair
    driver._read_task.cancel()
    await asyncio.sleep(0)
    async with asyncio.timeout(1):  # the command's own timeout is seconds
        with pytest.raises(ATPortError, match="reader stopped"):
            await driver.command("AT+QICLOSE=0", timeout=10)
    assert driver.lost is not None


async def test_garbage_is_skipped(pair) -> None:
    modem, driver, _ = pair
    task = asyncio.create_task(driver.command("AT"))
    await modem.expect("AT")
    modem.send(b"\xff\xfe\x00\x80\r\n\r\nOK\r\n")
    await task
    assert driver.garbage_bytes == 4


async def test_probe_retries_until_ok(pair) -> None:
    modem, driver, _ = pair
    task = asyncio.create_task(driver.probe(within=5.0, attempt=0.2))
    await modem.expect("AT")  # asleep: no answer
    await modem.expect("AT")
    modem.send(b"AT\r\r\nOK\r\n")
    await task


async def test_probe_fails_naming_the_port_when_nothing_answers(pair) -> None:
    _, driver, _ = pair
    with pytest.raises(ATPortError) as info:
        await driver.probe(within=0.6, attempt=0.2)
    message = str(info.value)
    assert message.startswith("test-port: no OK to AT within 0.6 s: nothing answered")
    assert "baud rate" in message


async def test_probe_blames_the_baud_rate_for_noise(pair) -> None:
    modem, driver, _ = pair
    modem.send(b"\xf8\x80\x00\xfe\r\n")
    with pytest.raises(ATPortError, match=r"answers with unreadable bytes: wrong baud rate\?"):
        await driver.probe(within=0.6, attempt=0.2)


async def test_probe_blames_the_baud_rate_for_noise_without_line_ends(pair, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="modem.at")
    modem, driver, _ = pair
    modem.send(b"\x1c\xe3x\x8f~\x06")  # what 9600 baud looks like at 115200: no LF ever
    with pytest.raises(ATPortError, match=r"answers with unreadable bytes: wrong baud rate\?"):
        await driver.probe(within=0.6, attempt=0.2)
    assert r"<< ?? [6 bytes] \x1c\xe3x\x8f~\x06  (garbage: no line end" in caplog.text


async def test_unknown_unsolicited_line_is_skipped_as_garbage(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.WARNING)
    async with socket_pair() as (modem, reader, writer):
        trace = ATTrace("test-port", tmp_path / "at.log")
        driver = ATDriver(reader, writer, dialect=QUECTEL, port="test-port", trace=trace)
        urcs: list[Urc] = []
        driver.add_urc_handler(urcs.append)
        modem.send(b'\r\nx#Kq~e\r\n\r\n+QIURC: "recv",0\r\n')
        task = asyncio.create_task(driver.command("AT+CGSN"))
        await modem.expect("AT+CGSN")
        modem.send(b"\r\n864508030000001\r\n\r\nOK\r\n")
        assert (await task).lines == ["864508030000001"]  # an info line is still one
        await driver.aclose()
    assert urcs == [Urc('+QIURC: "recv",0')]
    assert driver.garbage_bytes == 6
    assert "skipped 6 bytes: unsolicited line that is no known URC" in caplog.text
    assert "<< x#Kq~e  (skipped as garbage: unsolicited line" in (tmp_path / "at.log").read_text()


async def test_driver_over_a_real_pty_with_pyserial() -> None:
    async with pty_modem() as (modem, path):
        reader, writer = await open_port(path, 115200)
        driver = ATDriver(reader, writer, dialect=QUECTEL, port=path)
        driver.start()
        task = asyncio.create_task(driver.command("AT+QIRD=0,1500"))
        await modem.expect("AT+QIRD=0,1500")
        data = bytes(range(256)) * 4
        modem.send(b"\r\n+QIRD: 1024\r\n" + data + b"\r\n\r\nOK\r\n")
        response = await task
        assert response.payloads[0].data == data
        await driver.aclose()


async def test_opening_a_missing_port_says_why() -> None:
    with pytest.raises(ATPortError) as info:
        await open_port("/dev/ttyUSB-does-not-exist")
    assert "/dev/ttyUSB-does-not-exist: cannot open: no such port" in str(info.value)


async def test_generic_dialect_with_crlf_line_ending() -> None:
    async with socket_pair() as (modem, reader, writer):
        driver = ATDriver(reader, writer, dialect=GENERIC)
        task = asyncio.create_task(driver.command("ATI"))
        raw = await modem.reader.readuntil(b"\r")
        assert raw == b"ATI\r"
        modem.send(b"\r\nOK\r\n")
        await task
        await driver.aclose()


async def test_open_driver_on_a_silent_port_fails_naming_it() -> None:
    async with pty_modem() as (_, path):
        with pytest.raises(ATPortError) as info:
            await asyncio.wait_for(open_driver(path, QUECTEL), 10)
    # 4 s: the error must reach the user within 5 s of opening the port
    assert str(info.value).startswith(f"{path}: no OK to AT within 4 s: nothing answered")
