"""The emulator on its own thread, driven by plain (blocking) pyserial."""

from __future__ import annotations

import serial

from modem.emulator import run_emulator_in_thread

from .atclient import FAST, STEP


def read_until(port: serial.Serial, marker: bytes) -> bytes:
    port.timeout = STEP
    data = port.read_until(marker)
    assert data.endswith(marker), data
    return data


def test_blocking_pyserial_host() -> None:
    with run_emulator_in_thread("ec200u", timing=FAST) as emu:
        port = serial.serial_for_url(emu.port_url, baudrate=115200, timeout=STEP)
        try:
            port.write(b"ATE0\r")
            assert read_until(port, b"\r\nOK\r\n") == b"ATE0\r\r\nOK\r\n"
            emu.call(emu.faults.garbage, b"noise")
            assert read_until(port, b"noise") == b"noise"
            port.write(b"AT+CSQ\r")
            assert read_until(port, b"\r\nOK\r\n") == b"\r\n+CSQ: 24,99\r\n\r\nOK\r\n"
            assert emu.call(lambda: emu.faults.status()["echo"]) is False
        finally:
            port.close()
