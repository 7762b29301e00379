"""The QSSL / QFUPL responses and URCs, parsed at every byte split, and the pure parts of
the driver: the QFUPL checksum, the module's clock, AT+QSSLCFG, the 566 explanations."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from at.scripted import socket_pair

from modem.at import ATDriver, ATParser, Event, Line, Ok, Payload, Prompt, SendResult, Urc
from modem.emulator.ec200u.cmd_ssl import qfupl_checksum as emulator_checksum
from modem.emulator.ec200u.tls import host_matches
from modem.quectel import QUECTEL, QuectelModem
from modem.quectel.ssl import (
    FileUploadError,
    HandshakeFacts,
    ModuleClock,
    PreparedTls,
    SslConfig,
    explain_566,
    parse_module_time,
    qfupl_checksum,
    upload_file,
)

DATA = b'\x81\x85\r\nOK\r\n+QSSLURC: "closed",0\r\n\x1a\x1b'  # modem words inside TLS data
TRANSCRIPT = b"".join(
    [
        b"\r\nCONNECT\r\n",
        b"\r\n+QFUPL: 627,7b45\r\n\r\nOK\r\n",
        b"\r\nOK\r\n\r\n+QSSLOPEN: 0,566\r\n",
        b"\r\n+QSSLOPEN: 1,0\r\n",
        b"\r\n>",
        b'\r\n+QSSLURC: "recv",1\r\n\r\nSEND OK\r\n',
        b"\r\n+QSSLRECV: %d\r\n" % len(DATA) + DATA + b"\r\n\r\nOK\r\n",
        b"\r\n+QSSLRECV: 0\r\n\r\nOK\r\n",
        b"\r\n+QSSLRECV: 319,319,0\r\n\r\nOK\r\n",
        b'\r\n+QSSLURC: "closed",1\r\n',
        b'\r\n+QSSLSTATE: 1,"SSLClient","127.0.0.1",443,0,4,1,0,0,"uart1",1\r\n\r\nOK\r\n',
    ]
)
EXPECTED: list[Event] = [
    Prompt("CONNECT"),
    Line("+QFUPL: 627,7b45"),
    Ok(),
    Ok(),
    Urc("+QSSLOPEN: 0,566"),
    Urc("+QSSLOPEN: 1,0"),
    Prompt(),
    Urc('+QSSLURC: "recv",1'),
    SendResult(True),
    Payload(f"+QSSLRECV: {len(DATA)}", DATA),
    Ok(),
    Payload("+QSSLRECV: 0", b""),
    Ok(),
    Line("+QSSLRECV: 319,319,0"),
    Ok(),
    Urc('+QSSLURC: "closed",1'),
    Line('+QSSLSTATE: 1,"SSLClient","127.0.0.1",443,0,4,1,0,0,"uart1",1'),
    Ok(),
]


def _parse(*chunks: bytes) -> list[Event]:
    parser = ATParser(QUECTEL)
    events: list[Event] = []
    for chunk in chunks:
        parser.receive_data(chunk)
        events += parser.events()
    return events


def test_the_new_responses_parse_the_same_at_every_byte_split() -> None:
    assert _parse(TRANSCRIPT) == EXPECTED
    for cut in range(1, len(TRANSCRIPT)):
        assert _parse(TRANSCRIPT[:cut], TRANSCRIPT[cut:]) == EXPECTED, cut
    assert _parse(*(TRANSCRIPT[i : i + 1] for i in range(len(TRANSCRIPT)))) == EXPECTED


def test_qfupl_checksum_is_the_xor_of_16_bit_words_and_both_sides_agree() -> None:
    assert qfupl_checksum(b"\x12\x34\x56\x78") == 0x1234 ^ 0x5678
    assert qfupl_checksum(b"\x12\x34\x56") == 0x1234 ^ 0x5600
    assert qfupl_checksum(b"") == 0
    blob = bytes(range(256)) * 3 + b"\x01"
    assert qfupl_checksum(blob) == emulator_checksum(blob)


async def test_an_upload_whose_checksum_differs_is_refused_with_the_reason() -> None:
    async with socket_pair() as (modem, reader, writer):
        device = QuectelModem(ATDriver(reader, writer, dialect=QUECTEL))

        async def script() -> None:
            await modem.expect('AT+QFDEL="ca.pem"')
            modem.send(b"\r\n+CME ERROR: 405\r\n")
            await modem.expect('AT+QFUPL="ca.pem",4')
            modem.send(b"\r\nCONNECT\r\n")
            assert await modem.read_exact(4) == b"\x12\x34\x56\x78"
            modem.send(b"\r\n+QFUPL: 4,1\r\n\r\nOK\r\n")  # a byte lost on the line

        task = asyncio.create_task(script())
        with pytest.raises(
            FileUploadError, match=r"checksum 0001; the file has 4 bytes, checksum 444c"
        ):
            await upload_file(device, "ca.pem", b"\x12\x34\x56\x78")
        await task
        await modem.nothing_more()
        await device.aclose()


def test_the_module_clock_parses_and_knows_when_it_was_never_set() -> None:
    assert parse_module_time('"26/12/07,10:51:12+08"') == dt.datetime(
        2026, 12, 7, 8, 51, 12, tzinfo=dt.UTC
    )
    assert parse_module_time('0,"2026/12/07,10:51:12+00"') == dt.datetime(
        2026, 12, 7, 10, 51, 12, tzinfo=dt.UTC
    )
    boot = parse_module_time('"80/01/06,00:01:02+00"')
    assert boot is not None and not ModuleClock(boot, "RTC").is_set
    assert parse_module_time("garbage") is None
    assert parse_module_time('"26/13/40,99:00:00+00"') is None


def test_qsslcfg_sets_sni_and_the_date_check_the_defaults_leave_off() -> None:
    commands = SslConfig(seclevel=2, cacert="a", clientcert="b", clientkey="c").commands()
    assert 'AT+QSSLCFG="seclevel",1,2' in commands
    assert 'AT+QSSLCFG="sslversion",1,3' in commands  # TLS 1.2
    assert 'AT+QSSLCFG="sni",1,1' in commands
    assert 'AT+QSSLCFG="ignorelocaltime",1,0' in commands
    assert 'AT+QSSLCFG="clientkey",1,"c"' in commands


def _prepared(clock_set: bool = True, seclevel: int = 1) -> PreparedTls:
    when = (
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        if clock_set
        else dt.datetime(1980, 1, 6, tzinfo=dt.UTC)
    )
    return PreparedTls(
        SslConfig(seclevel=seclevel, cacert="ca.pem"), ModuleClock(when, "RTC"), ("ca.pem",)
    )


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        (
            HandshakeFacts("csms.example", 443, _prepared(), tcp_reachable=False),
            "not TLS: check the host, the port",
        ),
        (
            HandshakeFacts(
                "csms.example", 443, _prepared(), True, "TLS: the CSMS's certificate has expired"
            ),
            "from the host through the module says: TLS: the CSMS's certificate has expired",
        ),
        (
            HandshakeFacts("csms.example", 443, _prepared(clock_set=False), True, ""),
            "its clock is not set",
        ),
        (
            HandshakeFacts("csms.example", 443, _prepared(), True, ""),
            "TLS version or cipher suites",
        ),
        (
            HandshakeFacts("csms.example", 443, _prepared(seclevel=2)),
            "refused the charger's certificate",
        ),
        (HandshakeFacts("10.0.0.1", 443, _prepared()), "not signed by the CA given"),
    ],
)
def test_every_566_gets_a_reason_a_technician_can_act_on(
    facts: HandshakeFacts, reason: str
) -> None:
    text = explain_566(facts)
    assert text.startswith("+QSSLOPEN 566")
    assert reason in text


def test_the_emulated_host_check_follows_rfc_6125() -> None:
    cert = {
        "subjectAltName": (
            ("DNS", "*.example.com"),
            ("DNS", "localhost"),
            ("IP Address", "127.0.0.1"),
        )
    }
    assert host_matches("a.example.com", cert)
    assert not host_matches("a.b.example.com", cert)
    assert host_matches("LOCALHOST", cert)
    assert host_matches("127.0.0.1", cert)
    assert not host_matches("127.0.0.2", cert)
    assert not host_matches("other.org", {})
