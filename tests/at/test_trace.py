"""The --at-log trace: readable payloads, and no secret ever written."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import pytest

from modem.at import ATDriver, ATTrace
from modem.at.trace import mask_text, render_bytes
from modem.quectel import QUECTEL

from .scripted import socket_pair


def test_apn_password_is_masked() -> None:
    assert (
        mask_text('AT+QICSGP=1,1,"internet","cp01","s3cr3t",2')
        == 'AT+QICSGP=1,1,"internet","cp01","***",2'
    )


def test_an_empty_apn_password_stays_visible() -> None:
    assert mask_text('AT+QICSGP=1,1,"internet","","",0') == 'AT+QICSGP=1,1,"internet","","",0'


def test_wifi_password_is_masked_even_with_escaped_quotes() -> None:
    assert mask_text(r'AT+CWJAP="home","pa\"ss,word"') == 'AT+CWJAP="home","***"'


def test_uri_password_and_authorization_are_masked() -> None:
    assert (
        mask_text('AT+WSOPEN=0,"ws://cp1:hunter2@csms.example/ocpp/cp1","ocpp1.6"')
        == 'AT+WSOPEN=0,"ws://cp1:***@csms.example/ocpp/cp1","ocpp1.6"'
    )
    assert mask_text("Authorization: Basic Y3AxOmh1bnRlcjI=") == "Authorization: ***"


AUTH_KEY = '[2,"7","ChangeConfiguration",{"key":"AuthorizationKey","value":"0011aabbccdd"}]'


def test_ocpp_authorization_key_is_masked_in_text_and_bytes() -> None:
    masked = '[2,"7","ChangeConfiguration",{"key":"AuthorizationKey","value":"***"}]'
    assert mask_text(AUTH_KEY) == masked
    assert render_bytes(b"\x81\x4f" + AUTH_KEY.encode()) == rf"[81 bytes] \x81O{masked}"
    reordered = '{"value": "s3\\"cr", "key": "AuthorizationKey"}'
    assert mask_text(reordered) == '{"value": "***", "key": "AuthorizationKey"}'
    # cut by a read or by the display limit: no part of the key shows either
    assert "0011" not in render_bytes(AUTH_KEY.encode()[:-10])
    assert "0011" not in render_bytes(AUTH_KEY.encode(), limit=66)


def test_a_payload_note_replaces_unreadable_bytes_and_is_masked(tmp_path: Path) -> None:
    trace = ATTrace("p", tmp_path / "at.log", limit=40)
    trace.sent_payload(b"\x81\xfe\x00\x51\x12\x34\x56\x78" + bytes(81), f"ws text 81: {AUTH_KEY}")
    trace.close()
    line = (tmp_path / "at.log").read_text().split(" >> ", 1)[1].rstrip("\n")
    assert line == '[89 bytes] ws text 81: [2,"7","ChangeConfiguration" ...(+42 chars)'
    trace = ATTrace("p", tmp_path / "at2.log")
    trace.sent_payload(b"\x00" * 89, f"ws text 81: {AUTH_KEY}")
    trace.close()
    assert '"value":"***"' in (tmp_path / "at2.log").read_text()


def test_payload_rendering() -> None:
    assert render_bytes(b"\x81\xfd[2]\r\n") == r"[7 bytes] \x81\xfd[2]\r\n"
    long = render_bytes(b"a" * 1000, limit=10)
    assert long == "[1000 bytes] aaaaaaaaaa ...(+990 bytes)"
    request = b"GET / HTTP/1.1\r\nAuthorization: Basic Y3AxOmh1bnRlcjI=\r\nHost: x\r\n"
    assert "Y3Ax" not in render_bytes(request)
    assert r"Authorization: ***\r\nHost: x" in render_bytes(request)


async def test_trace_file_of_a_session(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    log_file = tmp_path / "at.log"
    secret_request = b"GET /ocpp/cp1 HTTP/1.1\r\nAuthorization: Basic c2VjcmV0\r\n\r\n"
    caplog.set_level(logging.DEBUG, logger="modem.at")
    async with socket_pair() as (modem, reader, writer):
        trace = ATTrace("/dev/ttyUSB2", log_file)
        driver = ATDriver(reader, writer, dialect=QUECTEL, port="/dev/ttyUSB2", trace=trace)
        task = asyncio.create_task(driver.command('AT+QICSGP=1,1,"apn","user","s3cr3t",1'))
        await modem.command()
        modem.send(b"\r\nOK\r\n")
        await task
        n = len(secret_request)
        task = asyncio.create_task(driver.send_payload(f"AT+QISEND=0,{n}", secret_request))
        await modem.command()
        modem.send(b"\r\n> ")
        await modem.read_exact(n)
        modem.send(b'\r\nSEND OK\r\n\r\n+QIURC: "recv",0\r\n')
        await task
        task = asyncio.create_task(driver.command("AT+QIRD=0,1500"))
        await modem.command()
        modem.send(b"\r\n+QIRD: 4\r\n\x81\x02hi\r\n\r\nOK\r\n")
        await task
        await driver.aclose()

    text = log_file.read_text()
    assert "s3cr3t" not in text and "c2VjcmV0" not in text
    assert "s3cr3t" not in caplog.text and "c2VjcmV0" not in caplog.text
    lines = [re.sub(r"^\S+ \S+ ", "", line) for line in text.splitlines()]
    assert lines[:3] == [
        '/dev/ttyUSB2 >> AT+QICSGP=1,1,"apn","user","***",1',
        "/dev/ttyUSB2 << OK",
        f"/dev/ttyUSB2 >> AT+QISEND=0,{n}",
    ]
    assert "/dev/ttyUSB2 << >" in lines
    assert (
        rf"/dev/ttyUSB2 >> [{n} bytes] GET /ocpp/cp1 HTTP/1.1\r\nAuthorization: ***\r\n\r\n"
        in lines
    )
    assert '/dev/ttyUSB2 << +QIURC: "recv",0  (URC)' in lines
    assert r"/dev/ttyUSB2 << +QIRD: 4 [4 bytes] \x81\x02hi" in lines
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} ", text)
