"""The emulated module's new commands, byte for byte, and its TLS faults on the control port."""

from __future__ import annotations

import asyncio
import json

from espat.helpers import STEP, RawHost, esp, esp_emulator

from modem.emulator.control import handle_command

OK = b"\r\nOK\r\n"
PROMPT = b"\r\nOK\r\n\r\n>"


async def test_sysmfg_and_sntp_bytes() -> None:
    async with esp_emulator() as emu:
        host = await RawHost.open(emu.port_url)
        try:
            await host.cmd("ATE0", b"ATE0\r\n" + OK)
            await host.cmd('AT+SYSMFG=1,"wss_ca","wss_ca.0"', b"\r\nERROR\r\n")  # none yet
            await host.cmd('AT+SYSMFG=2,"wss_ca","wss_ca.0",8,9', PROMPT)
            host.write(b"ab\r\nOK\r\nx")  # binary-safe: exactly 9 bytes
            await host.expect(OK)
            await host.cmd(
                'AT+SYSMFG=1,"wss_ca","wss_ca.0"',
                b'+SYSMFG:"wss_ca","wss_ca.0",8,9,ab\r\nOK\r\nx\r\n' + OK,
            )
            await host.cmd('AT+SYSMFG=2,"no_such_ns","k.0",8,3', b"\r\nERROR\r\n")
            await host.cmd("AT+CIPSNTPTIME?", b"+CIPSNTPTIME:Thu Jan  1 00:00:0")
            await host.expect(b"0 1970\r\n" + OK)  # booted just now
            await host.cmd('AT+CWJAP="cpsim-lab","s3cret\\,\\"pw\\\\"', b"WIFI CONNECTED\r\n")
            await host.expect(b"WIFI GOT IP\r\n" + OK)
            await host.cmd('AT+CIPSNTPCFG=1,0,"pool.ntp.org"', OK)
            await host.expect(b"+TIME_UPDATED\r\n")
            host.write("AT+CIPSNTPTIME?\r\n")
            line = await asyncio.wait_for(host.reader.readline(), STEP)
            assert line.startswith(b"+CIPSNTPTIME:") and not line.endswith(b"1970\r\n")
            await host.expect(OK)
            emu.faults.reboot()  # NVS survives a reset, the clock does not
            await host.expect(b"ready\r\n")
            assert esp(emu).mfg[("wss_ca", "wss_ca.0")] == (8, b"ab\r\nOK\r\nx")
            assert not esp(emu).clock_set
        finally:
            await host.close()


async def test_tls_faults_on_the_control_port() -> None:
    async with esp_emulator() as emu:
        esp(emu).mfg[("wss_key", "wss_key.0")] = (8, b"SECRET-KEY")
        assert handle_command(emu.faults, "tls-fail 2") == ["ok"]
        assert handle_command(emu.faults, "sntp-block") == ["ok"]
        assert handle_command(emu.faults, "tls-drop") == ["error: no wss:// link is connected"]
        status = json.loads(handle_command(emu.faults, "status")[0])["tls"]
        assert status["pending_handshake_failures"] == 2 and status["sntp_blocked"] is True
        assert status["stored"] == ["wss_key/wss_key.0"]
        assert "SECRET-KEY" not in json.dumps(status)  # names only, never the values
