"""A small scripted EC200U for unit tests of the Quectel dialect.

It keeps just enough state to answer the dialect's commands (SIM, registration,
PDP, one recv URC per non-empty buffer, QIRD by length) and lets a test inject
what the network does.  End-to-end behaviour is tested against the real
emulator in ``test_emulator.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from at.scripted import ScriptedModem

OK = b"\r\nOK\r\n"


@dataclass
class FakeQI:
    modem: ScriptedModem
    echo: bool = True
    cpin: bytes = b"\r\n+CPIN: READY\r\n" + OK
    cereg: list[int] = field(default_factory=lambda: [1])
    cgreg: list[int] = field(default_factory=lambda: [0])
    active: bool = False
    qiact_fails: bool = False
    open_codes: list[int] = field(default_factory=lambda: [0])
    allocated: set[int] = field(default_factory=set)
    send_fails: int = 0
    sent: dict[int, bytearray] = field(default_factory=dict)
    rx: dict[int, bytearray] = field(default_factory=dict)
    urc_armed: dict[int, bool] = field(default_factory=dict)
    last_error: int = 0
    greeting: bytes = b""  # sent by the server as soon as it accepts
    violations: list[str] = field(default_factory=list)

    # -- what the network does ---------------------------------------------

    def deliver(self, cid: int, data: bytes, urc: bool = True) -> None:
        """Bytes from the server; one recv URC until the buffer is read empty."""
        self.rx.setdefault(cid, bytearray()).extend(data)
        if urc and self.urc_armed.get(cid, True):
            self.urc_armed[cid] = False
            self.modem.send(b'\r\n+QIURC: "recv",%d\r\n' % cid)

    def peer_close(self, cid: int) -> None:
        self.modem.send(b'\r\n+QIURC: "closed",%d\r\n' % cid)

    def pdpdeact(self, ctx: int = 1) -> None:
        self.active = False
        self.allocated.clear()
        self.modem.send(b'\r\n+QIURC: "pdpdeact",%d\r\n' % ctx)

    # -- answers -------------------------------------------------------------

    async def answer(self, modem: ScriptedModem, line: str) -> None:
        if self.echo:
            modem.send(line.encode() + b"\r")
        reply = await self._reply(modem, line)
        if reply is not None:
            modem.send(reply)

    async def _reply(self, modem: ScriptedModem, line: str) -> bytes | None:
        if line == "ATE0":
            self.echo = False
            return OK
        if line in ("AT", "AT+CMEE=2", "AT+QISDE=0") or line.startswith("AT+QICSGP="):
            return OK
        if line == "AT+CPIN?":
            return self.cpin
        if line == "ATI":
            return b"\r\nQuectel\r\nEC200U\r\nRevision: EC200UCNAAR03A06M08\r\n" + OK
        if line == "AT+CGSN":
            return b"\r\n864508030000001\r\n" + OK
        if line == "AT+QCCID":
            return b"\r\n+QCCID: 8949020000012345678F\r\n" + OK
        if line == "AT+CIMI":
            return b"\r\n262021234567890\r\n" + OK
        if line == "AT+CSQ":
            return b"\r\n+CSQ: 7,99\r\n" + OK
        if line in ("AT+CEREG?", "AT+CGREG?"):
            states = self.cereg if line == "AT+CEREG?" else self.cgreg
            stat = states.pop(0) if len(states) > 1 else states[0]
            return b"\r\n%s: 0,%d\r\n" % (line[2:-1].encode(), stat) + OK
        if line == "AT+QIACT?":
            return (b'\r\n+QIACT: 1,1,1,"10.1.2.3"\r\n' if self.active else b"") + OK
        if line == "AT+QIACT=1":
            if self.qiact_fails:
                self.last_error = 561
                return b"\r\nERROR\r\n"
            self.active = True
            return OK
        if line == "AT+QIDEACT=1":
            self.active = False
            return OK
        if line == "AT+QIGETERROR":
            return b"\r\n+QIGETERROR: %d,some text\r\n" % self.last_error + OK
        if m := re.fullmatch(r"AT\+QISTATE=1,(\d+)", line):
            cid = int(m[1])
            state = b'\r\n+QISTATE: %d,"TCP","1.2.3.4",80,5000,4,1,0,0,"uart1"\r\n' % cid
            return (state if cid in self.allocated else b"") + OK
        if m := re.fullmatch(r'AT\+QIOPEN=1,(\d+),"TCP","[^"]+",\d+,0,0', line):
            cid = int(m[1])
            code = self.open_codes.pop(0) if len(self.open_codes) > 1 else self.open_codes[0]
            if code == 0 and cid in self.allocated:
                code = 563
            if code == 0:
                self.allocated.add(cid)
                self.rx[cid] = bytearray()
                self.sent[cid] = bytearray()
                self.urc_armed[cid] = True
            opened = OK + b"\r\n+QIOPEN: %d,%d\r\n" % (cid, code)
            if code == 0 and self.greeting:
                self.rx[cid] += self.greeting
                self.urc_armed[cid] = False
                opened += b'\r\n+QIURC: "recv",%d\r\n' % cid
            return opened
        if m := re.fullmatch(r"AT\+QICLOSE=(\d+)", line):
            self.allocated.discard(int(m[1]))
            return OK
        if m := re.fullmatch(r"AT\+QIRD=(\d+),(\d+)", line):
            cid, size = int(m[1]), int(m[2])
            if cid not in self.rx:
                return b"\r\nERROR\r\n"
            data = bytes(self.rx[cid][:size])
            del self.rx[cid][:size]
            if not self.rx[cid]:
                self.urc_armed[cid] = True
            trailer = b"\r\n" if data else b""
            return b"\r\n+QIRD: %d\r\n" % len(data) + data + trailer + OK
        if m := re.fullmatch(r"AT\+QISEND=(\d+),(\d+)", line):
            cid, n = int(m[1]), int(m[2])
            if not 1 <= n <= 1460:
                self.violations.append(line)
                return b"\r\nERROR\r\n"
            if cid not in self.allocated or not self.active:
                return b"\r\nERROR\r\n"
            modem.send(b"\r\n> ")
            data = await modem.read_exact(n)
            if self.send_fails:
                self.send_fails -= 1
                return b"\r\nSEND FAIL\r\n"
            self.sent[cid] += data
            return b"\r\nSEND OK\r\n"
        self.violations.append(line)
        return b"\r\nERROR\r\n"
