"""The emulated HTTP commands, byte for byte (reference B.6), against a real HTTP server."""

from __future__ import annotations

import asyncio
import re

from espat.helpers import PASSWORD, SSID, STEP, RawHost, esp, esp_emulator

from modem.emulator.control import handle_command
from modem.espat import quote

from .conftest import LocalHttpFiles

OK = b"\r\nOK\r\n"
PROMPT = b"\r\nOK\r\n\r\n>"
BODY = bytes(range(256)) + b"\r\nOK\r\n+WS_DATA:0,3,abc\r\nERROR\r\n" * 20  # line-like bytes


async def online_host(url: str) -> RawHost:
    host = await RawHost.open(url)
    await host.cmd("ATE0", b"ATE0\r\n" + OK)
    await host.cmd(
        f"AT+CWJAP={quote(SSID)},{quote(PASSWORD)}", b"WIFI CONNECTED\r\nWIFI GOT IP\r\n" + OK
    )
    return host


async def read_records(
    host: RawHost, name: bytes, final: bytes, lines: list[bytes] | None = None
) -> list[bytes]:
    """``name:<n>,`` + n bytes + CR LF records until ``final``; the pieces.  Other lines
    between them (``busy p...``) go to ``lines``."""
    pieces: list[bytes] = []
    while True:
        head = b""
        while head != final and (final.startswith(head) or not head.endswith((b",", b"\n"))):
            head += await asyncio.wait_for(host.reader.readexactly(1), STEP)
        if head == final:
            return pieces
        if head.endswith(b"\n"):
            assert lines is not None, head
            lines.append(head)
            continue
        match = re.fullmatch(re.escape(name) + rb":(\d+),", head)
        assert match, head
        n = int(match.group(1))
        data = await asyncio.wait_for(host.reader.readexactly(n + 2), STEP)
        assert data.endswith(b"\r\n")
        pieces.append(data[:-2])


async def test_getsize_then_cget_records_at_most_rx_size(http_server: LocalHttpFiles) -> None:
    http_server.files["/fw.bin"] = BODY
    async with esp_emulator() as emu:
        host = await online_host(emu.port_url)
        url = http_server.url("/fw.bin")
        await host.cmd(f'AT+HTTPGETSIZE="{url}"', b"+HTTPGETSIZE:%d\r\n" % len(BODY) + OK)
        host.write(f'AT+HTTPCGET="{url}",0,100,3000\r\n')
        pieces = await read_records(host, b"+HTTPCGET", OK)
        assert b"".join(pieces) == BODY
        assert max(map(len, pieces)) <= 100
        # a 404: the error page's records, then ERROR; GETSIZE still gives its length
        missing = http_server.url("/nope")
        page = b"not found: /nope"
        await host.cmd(f'AT+HTTPGETSIZE="{missing}"', b"+HTTPGETSIZE:%d\r\n" % len(page) + OK)
        host.write(f'AT+HTTPCGET="{missing}"\r\n')
        assert await read_records(host, b"+HTTPCGET", b"\r\nERROR\r\n") == [page]
        # no Content-Length: GETSIZE cannot size it
        await host.cmd(f'AT+HTTPGETSIZE="{http_server.url("/chunked")}"', b"\r\nERROR\r\n")
        await host.close()


async def test_urlcfg_set_ok_and_the_256_byte_limit(http_server: LocalHttpFiles) -> None:
    path = "/" + "d" * 300 + "/fw.bin"
    http_server.files[path] = b"tiny"
    url = http_server.url(path)
    async with esp_emulator() as emu:
        host = await online_host(emu.port_url)
        await host.cmd(f'AT+HTTPCGET="{url}"', b"\r\nERROR\r\n")  # line over 256 bytes
        await host.cmd(f"AT+HTTPURLCFG={len(url)}", PROMPT)
        host.write(url)
        await host.expect(b"\r\nSET OK\r\n")
        await host.cmd("AT+HTTPURLCFG?", b"+HTTPURLCFG:%d,%s\r\n" % (len(url), url.encode()) + OK)
        await host.cmd('AT+HTTPGETSIZE=""', b"+HTTPGETSIZE:4\r\n" + OK)
        await host.cmd('AT+HTTPCGET=""', b"+HTTPCGET:4,tiny\r\n" + OK)
        await host.cmd("AT+HTTPURLCFG=0", OK)
        await host.cmd('AT+HTTPCGET=""', b"\r\nERROR\r\n")  # nothing set any more
        await host.cmd("AT+HTTPURLCFG?", OK)
        await host.close()


async def test_put_prompt_exact_bytes_records_and_results(http_server: LocalHttpFiles) -> None:
    data = b"log\r\nOK\r\n\x00\x1a" * 50
    async with esp_emulator() as emu:
        host = await online_host(emu.port_url)
        url = http_server.url("/diag/a.zip")
        header = quote("Content-Type: application/zip")
        await host.cmd(f'AT+HTTPCPUT="{url}",{len(data)},1,{header}', PROMPT)
        host.write(data)
        answer = b"stored %d bytes" % len(data)
        await host.expect(b"+HTTPCPUT:%d," % len(answer) + answer + b"\r\n\r\nSEND OK\r\n")
        assert http_server.uploads["/diag/a.zip"] == ("PUT", data, "application/zip")
        # status >= 400: the records, then ERROR
        refused = http_server.url("/forbidden/a.zip")
        await host.cmd(f'AT+HTTPCPOST="{refused}",3', PROMPT)
        host.write(b"abc")
        page = b"uploads are closed"
        await host.expect(b"+HTTPCPOST:%d," % len(page) + page + b"\r\n\r\nERROR\r\n")
        # nobody listening: SEND FAIL after the bytes
        await host.cmd('AT+HTTPCPUT="http://127.0.0.1:1/x",2', PROMPT)
        host.write(b"xy")
        await host.expect(b"\r\nSEND FAIL\r\n")
        # header count that does not match, a header without ':', firmware before v3.0
        await host.cmd(f'AT+HTTPCPUT="{url}",2,2,{header}', b"\r\nERROR\r\n")
        await host.cmd(f'AT+HTTPCPUT="{url}",2,1,"no colon"', b"\r\nERROR\r\n")
        esp(emu).http_put = False
        await host.cmd(f'AT+HTTPCPUT="{url}",2', b"\r\nERROR\r\n")
        await host.close()


async def test_busy_during_a_slow_transfer_and_the_cut_fault(http_server: LocalHttpFiles) -> None:
    http_server.files["/fw.bin"] = BODY
    url = http_server.url("/fw.bin")
    async with esp_emulator() as emu:
        host = await online_host(emu.port_url)
        emu.faults.transfer_slow(len(BODY) * 4)  # about a quarter of a second
        host.write(f'AT+HTTPCGET="{url}",0,256\r\n')
        head = await asyncio.wait_for(host.reader.readuntil(b","), STEP)
        first = await asyncio.wait_for(host.reader.readexactly(int(head[10:-1]) + 2), STEP)
        host.write("AT\r\n")  # the module is busy: the line is answered, not run
        lines: list[bytes] = []
        pieces = await read_records(host, b"+HTTPCGET", OK, lines)
        assert first[:-2] + b"".join(pieces) == BODY
        assert lines == [b"busy p...\r\n"]
        emu.faults.transfer_cut(100)
        host.write(f'AT+HTTPCGET="{url}"\r\n')
        assert b"".join(await read_records(host, b"+HTTPCGET", OK)) == BODY[:100]  # cut, yet OK
        await host.close()


async def test_transfer_faults_from_the_control_port() -> None:
    async with esp_emulator() as emu:
        assert handle_command(emu.faults, "transfer-cut 100 2") == ["ok"]
        assert handle_command(emu.faults, "transfer-slow 512") == ["ok"]
        assert handle_command(emu.faults, "transfer-slow fast")[-1].startswith("error:")
        http = emu.faults.status()["http"]
        assert http["pending_cuts"] == [100, 100] and http["pending_rates"] == [512.0]
        assert handle_command(emu.faults, "transfer-cut") == ["ok"]  # half-way
        assert emu.faults.status()["http"]["pending_cuts"] == [100, 100, None]
