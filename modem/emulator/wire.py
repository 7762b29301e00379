"""Byte plumbing between the serial link and the command engine.

Input is one buffer shared by the command-line reader and the raw-payload
readers (QISEND), because on a real modem both read the same UART FIFO.
Output is a queue of atomic chunks: a URC can land between two responses,
or between a prompt and ``SEND OK``, but never inside a line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from modem.emulator.link import Pacer, SerialLink

log = logging.getLogger("modem.emulator.wire")

CR, LF, BS = 0x0D, 0x0A, 0x08


class InputBuffer:
    """Bytes received from the host, consumed as command lines or raw payload."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._stash = b""
        self._arrived = asyncio.Event()

    def feed(self, data: bytes) -> None:
        self._buf += data
        self._arrived.set()

    def clear(self) -> None:
        self._buf.clear()
        self._stash = b""

    def stash(self) -> None:
        """Set aside what arrived so far: bytes sent before a prompt are not payload.

        A real modem parses them as command-line input (reference D.3), so
        :meth:`unstash` puts them back in front of whatever comes next.
        """
        self._stash += bytes(self._buf)
        if self._buf:
            log.warning(
                "host wrote %d byte(s) before the prompt: parsed as commands", len(self._buf)
            )
        self._buf.clear()

    def unstash(self) -> None:
        if self._stash:
            self._buf[:0] = self._stash
            self._stash = b""
            self._arrived.set()

    async def _more(self, timeout: float | None) -> bool:
        """Wait for new bytes; False on timeout (``None`` waits forever)."""
        self._arrived.clear()
        try:
            async with asyncio.timeout(timeout):
                await self._arrived.wait()
        except TimeoutError:
            return False
        return True

    async def read_line(self, end: bytes = b"\r") -> bytes:
        """The next command line without its CR, as received (backspaces included).

        An LF right after the CR (or any LF at the start of a line) is dropped:
        V.250 only terminates lines on S3 (CR), and LF is tolerated as filler.
        With ``end=b"\n"`` (ESP-AT: CR LF required) a line ends at LF and keeps
        the CR before it, if any, so the dialect can refuse a line without one.
        """
        if end == b"\n":
            while (idx := self._buf.find(LF)) < 0:
                await self._more(None)
            line = bytes(self._buf[:idx])
            del self._buf[: idx + 1]
            return line
        while True:
            while self._buf[:1] == b"\n":
                del self._buf[0]
            idx = self._buf.find(CR)
            if idx >= 0:
                line = bytes(self._buf[:idx])
                del self._buf[: idx + 1]
                return line
            await self._more(None)

    async def wait_input(self) -> None:
        """Return once there is at least one unread byte."""
        while not self._buf:
            await self._more(None)

    def discard(self) -> int:
        """Drop what has arrived (input a busy module ignores); returns how many bytes."""
        n = len(self._buf)
        self._buf.clear()
        return n

    async def read_exact(self, n: int, idle_timeout: float | None) -> bytes | None:
        """Exactly ``n`` raw bytes; ``None`` if the host goes quiet for ``idle_timeout``."""
        while len(self._buf) < n:
            if not await self._more(idle_timeout):
                return None
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    async def read_until(
        self, stops: bytes, idle_timeout: float | None
    ) -> tuple[bytes, int] | None:
        """Bytes up to the first of ``stops`` (consumed, not returned) and which stop it was."""
        while True:
            hits = [i for i in (self._buf.find(s) for s in stops) if i >= 0]
            if hits:
                idx = min(hits)
                data, stop = bytes(self._buf[:idx]), self._buf[idx]
                del self._buf[: idx + 1]
                return data, stop
            if not await self._more(idle_timeout):
                return None


def edit_line(raw: bytes) -> bytes:
    """Apply backspaces (S5) the way a terminal user expects."""
    if BS not in raw:
        return raw
    out = bytearray()
    for b in raw:
        if b == BS:
            if out:
                out.pop()
        else:
            out.append(b)
    return bytes(out)


class Output:
    """Paced writer: chunks are queued synchronously, so call order is wire order."""

    def __init__(self, link: SerialLink, pacer: Pacer) -> None:
        self._link = link
        self._pacer = pacer
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._idle = asyncio.Event()
        self._idle.set()
        self._queued = 0  # bytes ever queued / written: positions in the output stream
        self._written = 0
        self._progress = asyncio.Event()

    def send(self, data: bytes) -> int:
        """Queue ``data``; returns its end position, for :meth:`written`."""
        if data:
            self._idle.clear()
            self._queue.put_nowait(data)
            self._queued += len(data)
        return self._queued

    async def drain(self) -> None:
        """Return once everything queued so far has been written to the link."""
        await self._idle.wait()

    async def written(self, position: int) -> None:
        """Return once the stream is written up to ``position`` (a :meth:`send` result).

        Unlike :meth:`drain` it does not wait for what was queued after: a prompt is
        on the wire when its own last byte is, whatever URCs follow it.
        """
        while self._written < position:
            self._progress.clear()
            await self._progress.wait()

    async def run(self) -> None:
        while True:
            data = await self._queue.get()
            log.debug("modem -> host %r", data)
            step = self._pacer.slice_size
            for i in range(0, len(data), step):
                piece = data[i : i + step]
                await self._pacer.pace(len(piece))
                await self._link.write(piece)
                self._written += len(piece)
                self._progress.set()
            if self._queue.empty():
                self._idle.set()


async def pump_input(
    link: SerialLink,
    pacer: Pacer,
    inbuf: InputBuffer,
    taps: Sequence[Callable[[bytes], None]] = (),
) -> None:
    """Feed host bytes into ``inbuf`` no faster than the baud rate allows.

    ``taps`` see every byte as received (before any parsing): tests use them to
    check exactly what a driver put on the serial line.
    """
    while True:
        data = await link.read()
        await pacer.pace(len(data))
        log.debug("host -> modem %r", data)
        for tap in taps:
            tap(data)
        inbuf.feed(data)
