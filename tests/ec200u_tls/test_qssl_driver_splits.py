"""The QSSL driver against a scripted module whose whole output is split at every byte:
open (with a recv URC that beats the socket's registration), a payload full of modem
words, the drain to ``+QSSLRECV: 0``, ``+QSSLURC: "closed"`` and AT+QSSLCLOSE."""

from __future__ import annotations

import asyncio

import pytest
from at.scripted import ScriptedModem, socket_pair

from modem.at import ATDriver
from modem.quectel import QUECTEL, QuectelModem

DATA = b'\x81\x7e\r\nOK\r\n+QSSLURC: "closed",0\r\n\x1a\x1b\r\nERROR\r\n> '
REPLIES = {
    'AT+QSSLOPEN=1,1,0,"csms.example",443,0': [
        b"\r\nOK\r\n\r\n+QSSLOPEN: 0,0\r\n",
        b'\r\n+QSSLURC: "recv",0\r\n',
    ],
    "AT+QSSLRECV=0,1500": [
        b"\r\n+QSSLRECV: %d\r\n" % len(DATA) + DATA + b"\r\n\r\nOK\r\n",
        b"\r\n+QSSLRECV: 0\r\n\r\nOK\r\n" + b'\r\n+QSSLURC: "closed",0\r\n',
        b"\r\n+QSSLRECV: 0\r\n\r\nOK\r\n",
    ],
    "AT+QSSLCLOSE=0": [b"\r\nOK\r\n"],
}
TOTAL = sum(len(b"".join(parts)) for parts in REPLIES.values())


class SplitModem:
    """Answers from REPLIES in order, cutting its output stream once at ``cut``."""

    def __init__(self, cut: int) -> None:
        self.cut = cut
        self.sent = 0
        self.queues = {command: list(parts) for command, parts in REPLIES.items()}

    async def answer(self, modem: ScriptedModem, line: str) -> None:
        queue = self.queues.get(line) or []
        if not queue:
            parts = [b"\r\nERROR\r\n"]
        elif line.startswith("AT+QSSLOPEN"):
            parts = queue  # the OK, +QSSLOPEN, then the recv URC
            self.queues[line] = []
        else:
            parts = [queue.pop(0)]
        for data in parts:
            start, self.sent = self.sent, self.sent + len(data)
            if start < self.cut < self.sent:
                modem.send(data[: self.cut - start])
                await modem.writer.drain()
                await asyncio.sleep(0.002)
                data = data[self.cut - start :]
            modem.send(data)


@pytest.mark.parametrize("cut", range(1, TOTAL))
async def test_the_qssl_flow_survives_any_split(cut: int) -> None:
    async with socket_pair() as (modem, reader, writer):
        script = SplitModem(cut)
        serving = asyncio.create_task(modem.serve(script.answer))
        device = QuectelModem(ATDriver(reader, writer, dialect=QUECTEL), poll_interval=60)
        try:
            sock = await asyncio.wait_for(device.open_ssl("csms.example", 443, client_id=0), 5)
            got = b""
            while chunk := await asyncio.wait_for(sock.read(), 5):
                got += chunk
            assert got == DATA
            await asyncio.wait_for(sock.close(), 5)
            assert modem.commands == [
                'AT+QSSLOPEN=1,1,0,"csms.example",443,0',
                "AT+QSSLRECV=0,1500",
                "AT+QSSLRECV=0,1500",
                "AT+QSSLRECV=0,1500",
                "AT+QSSLCLOSE=0",
            ]
        finally:
            await device.aclose()
            serving.cancel()
