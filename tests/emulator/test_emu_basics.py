"""Line discipline, echo, framing and the diagnostic commands, byte for byte."""

from __future__ import annotations

import pytest

from modem.emulator import Emulator, run_emulator

from .atclient import FAST, AtHost, session


async def test_echo_until_ate0_then_silent() -> None:
    async with session(echo=True) as (_, host):
        host.write(b"AT\r")
        await host.expect(b"AT\r\r\nOK\r\n")
        host.write(b"AT+CSQ\r\n")  # the LF after CR is filler, never echoed
        await host.expect(b"AT+CSQ\r\r\n+CSQ: 24,99\r\n\r\nOK\r\n")
        host.write(b"ATE0\r")
        await host.expect(b"ATE0\r\r\nOK\r\n")
        host.write(b"AT\r")
        await host.expect(b"\r\nOK\r\n")
        host.write(b"ATE1\r")
        await host.expect(b"\r\nOK\r\n")
        host.write(b"at\r")
        await host.expect(b"at\r\r\nOK\r\n")


async def test_ati_and_identity(emu_host: tuple[Emulator, AtHost]) -> None:
    _, host = emu_host
    assert (
        await host.cmd("ATI")
        == b"\r\nQuectel\r\nEC200U\r\nRevision: EC200UCNAAR03A06M08\r\n\r\nOK\r\n"
    )
    assert await host.cmd("AT+CGMR") == b"\r\nEC200UCNAAR03A06M08\r\n\r\nOK\r\n"
    imei = (await host.cmd("AT+CGSN")).split(b"\r\n")[1]
    assert imei == (await host.cmd("AT+GSN")).split(b"\r\n")[1]
    assert len(imei) == 15 and imei.isdigit()
    digits = [int(d) for d in imei.decode()]
    luhn = sum(
        d if i % 2 == 0 else (2 * d - 9 if 2 * d > 9 else 2 * d) for i, d in enumerate(digits)
    )
    assert luhn % 10 == 0


async def test_unknown_and_malformed_lines_answer_error(emu_host: tuple[Emulator, AtHost]) -> None:
    _, host = emu_host
    assert await host.cmd("AT+NOSUCH") == b"\r\nERROR\r\n"
    assert await host.cmd(b"\x1aAT") == b"\r\nERROR\r\n"  # a stray Ctrl+Z before a command
    assert await host.cmd("AT+CMEE=7") == b"\r\nERROR\r\n"
    assert await host.cmd("AT") == b"\r\nOK\r\n"


async def test_concatenated_commands_share_one_final(emu_host: tuple[Emulator, AtHost]) -> None:
    _, host = emu_host
    assert await host.cmd("AT+CMEE=2;+QISDE=0;AT+CMEE?") == b"\r\n+CMEE: 2\r\n\r\nOK\r\n"
    assert await host.cmd("AT+QISDE?;+NOSUCH;+CSQ") == b"\r\n+QISDE: 0\r\n\r\nERROR\r\n"


async def test_diagnostics_ok_profile(emu_host: tuple[Emulator, AtHost]) -> None:
    _, host = emu_host
    expected = {
        "AT+CPIN?": b"\r\n+CPIN: READY\r\n\r\nOK\r\n",
        "AT+QCCID": b"\r\n+QCCID: 89860012345678901234\r\n\r\nOK\r\n",
        "AT+CIMI": b"\r\n460001234567890\r\n\r\nOK\r\n",
        "AT+CSQ": b"\r\n+CSQ: 24,99\r\n\r\nOK\r\n",
        "AT+QCSQ": b'\r\n+QCSQ: "LTE",-65,-92,195,-8\r\n\r\nOK\r\n',
        "AT+CREG?": b"\r\n+CREG: 0,1\r\n\r\nOK\r\n",
        "AT+CGREG?": b"\r\n+CGREG: 0,1\r\n\r\nOK\r\n",
        "AT+COPS?": b'\r\n+COPS: 0,0,"CHINA MOBILE",7\r\n\r\nOK\r\n',
        "AT+QNWINFO": b'\r\n+QNWINFO: "FDD LTE","46000","LTE BAND 3",1650\r\n\r\nOK\r\n',
        "AT+CFUN?": b"\r\n+CFUN: 1\r\n\r\nOK\r\n",
        "AT+QIACT?": b"\r\nOK\r\n",
        "AT+QIGETERROR": b"\r\n+QIGETERROR: 0,success\r\n\r\nOK\r\n",
    }
    for command, answer in expected.items():
        assert await host.cmd(command) == answer, command
    assert await host.cmd("AT+CEREG=2") == b"\r\nOK\r\n"
    assert await host.cmd("AT+CEREG?") == b'\r\n+CEREG: 2,1,"1A2B","1A2D001",7\r\n\r\nOK\r\n'
    qeng = await host.cmd('AT+QENG="servingcell"')
    assert qeng.startswith(b'\r\n+QENG: "servingcell","NOCONN","LTE","FDD",460,00,1A2D001,')
    assert qeng.count(b",") == 19


async def test_cme_error_forms_follow_cmee() -> None:
    async with session(profile="no-sim") as (_, host):
        assert await host.cmd("AT+CMEE=0;+CPIN?") == b"\r\nERROR\r\n"
        assert await host.cmd("AT+CMEE=1;+CPIN?") == b"\r\n+CME ERROR: 10\r\n"
        assert await host.cmd("AT+CMEE=2;+CPIN?") == b"\r\n+CME ERROR: SIM not inserted\r\n"


async def test_socket_url_listen_newest_client_wins() -> None:
    async with run_emulator("ec200u", listen="socket://127.0.0.1:0", timing=FAST) as emu:
        assert emu.port_url.startswith("socket://127.0.0.1:")
        first = await AtHost.open(emu.port_url)
        assert await first.cmd("AT") == b"AT\r\r\nOK\r\n"
        second = await AtHost.open(emu.port_url)
        try:
            with pytest.raises(AssertionError, match="link closed"):
                await first.read_exactly(1)  # kicked out by the newcomer
            assert await second.cmd("ATE0") == b"ATE0\r\r\nOK\r\n"
        finally:
            await first.close()
            await second.close()
        again = await AtHost.open(emu.port_url)  # the modem outlives its hosts
        assert await again.cmd("AT") == b"\r\nOK\r\n"
        await again.close()


async def test_latency_option_still_answers_correctly() -> None:
    async with session(latency_ms=50) as (_, host):
        assert await host.cmd("AT") == b"\r\nOK\r\n"


async def test_cfun_reboot_emits_boot_urcs_and_restores_echo(
    emu_host: tuple[Emulator, AtHost],
) -> None:
    _, host = emu_host
    host.write(b"AT+CFUN=1,1\r")
    await host.expect(b"\r\nOK\r\n")
    await host.expect(b"\r\nRDY\r\n")
    await host.expect(b"\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n\r\n+QIND: SMS DONE\r\n")
    assert await host.cmd("AT") == b"AT\r\r\nOK\r\n"  # echo is back on after a reset
