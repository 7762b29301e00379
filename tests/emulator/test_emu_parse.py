"""The sans-I/O pieces: command-line parsing, line editing, pacing arithmetic."""

from __future__ import annotations

import asyncio

import pytest

from modem.emulator.atparse import Command, Kind, Param, ParamError, parse_line, split_params
from modem.emulator.link import Pacer, parse_socket_url
from modem.emulator.wire import InputBuffer, edit_line


def test_bare_at_and_basic_chain() -> None:
    assert parse_line("AT") == [Command("", Kind.EXEC)]
    assert parse_line("ati") == [Command("I", Kind.EXEC)]
    cmds = parse_line("ATE0V1&D2")
    assert cmds is not None
    assert [(c.name, c.value) for c in cmds] == [("E", "0"), ("V", "1"), ("&D", "2")]


def test_extended_kinds_and_concatenation() -> None:
    cmds = parse_line('AT+CSQ;+CEREG?;AT+CMEE=?;+QICSGP=1,1,"a;b","", "",1')
    assert cmds is not None
    assert [(c.name, c.kind) for c in cmds] == [
        ("+CSQ", Kind.EXEC),
        ("+CEREG", Kind.READ),
        ("+CMEE", Kind.TEST),
        ("+QICSGP", Kind.WRITE),
    ]
    qicsgp = cmds[3]
    assert qicsgp.str_param(2) == "a;b"
    assert qicsgp.str_param(3) == "" and qicsgp.str_param(4) == ""
    assert qicsgp.int_param(5, 0, 2) == 1


def test_trailing_semicolon_is_harmless() -> None:
    assert parse_line("AT+CSQ;") == [Command("+CSQ", Kind.EXEC)]


def test_s_registers() -> None:
    assert parse_line("ATS3?") == [Command("S3", Kind.READ)]
    assert parse_line("ATS3=13") == [Command("S3", Kind.WRITE, value="13")]


@pytest.mark.parametrize(
    "line", ["", "XAT", "\x1aAT+QIRD=0", 'AT+QICSGP=1,1,"unterminated', "AT+", "AT+Q!"]
)
def test_invalid_lines(line: str) -> None:
    assert parse_line(line) is None


def test_params() -> None:
    assert split_params(' 1 , "x y" ,,') == (
        Param("1", False),
        Param("x y", True),
        Param("", False),
        Param("", False),
    )
    cmd = Command("+X", Kind.WRITE, params=split_params('5,"s",abc') or ())
    assert cmd.int_param(0, 0, 9) == 5
    assert cmd.int_param(3, 0, 9, default=7) == 7
    with pytest.raises(ParamError):
        cmd.int_param(0, 6, 9)
    with pytest.raises(ParamError):
        cmd.int_param(1, 0, 9)  # quoted
    with pytest.raises(ParamError):
        cmd.str_param(2)  # unquoted string


def test_backspace_editing() -> None:
    assert edit_line(b"ATX\x08I") == b"ATI"
    assert edit_line(b"\x08\x08AT") == b"AT"


def test_socket_url() -> None:
    assert parse_socket_url("socket://127.0.0.1:7000") == ("127.0.0.1", 7000)
    with pytest.raises(ValueError):
        parse_socket_url("/dev/ttyUSB0")


async def test_input_buffer_lines_and_payload() -> None:
    buf = InputBuffer()
    buf.feed(b"\nAT\r\nAT+QISEND=0,3\rxyz")
    assert await buf.read_line() == b"AT"
    assert await buf.read_line() == b"AT+QISEND=0,3"
    assert await buf.read_exact(3, 1.0) == b"xyz"
    assert await buf.read_exact(1, 0.01) is None


async def test_pacer_spreads_bytes_at_baud_over_10(monkeypatch: pytest.MonkeyPatch) -> None:
    """Arithmetic, not wall time: the requested sleeps add up to bytes / (baud / 10)."""
    clock = [100.0]
    slept: list[float] = []

    async def fake_sleep(delay: float) -> None:
        slept.append(delay)
        clock[0] += delay

    loop = asyncio.get_running_loop()
    monkeypatch.setattr(loop, "time", lambda: clock[0])
    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    pacer = Pacer(9600)
    for _ in range(10):
        await pacer.pace(96)
    assert sum(slept) == pytest.approx(1.0)
    assert Pacer(None).slice_size > 1460
