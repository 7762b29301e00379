"""A QI buffer-mode TCP socket as a :class:`modem.stream.ByteStream`.

Sending uses only the fixed-length ``AT+QISEND=<id>,<len>`` form: WebSocket
frames are masked with random bytes, so 0x1A (Ctrl+Z) and 0x1B (ESC) occur in
payloads and would end or cancel the variable-length form.

Receiving follows the one rule that deadlocks naive drivers: after
``+QIURC: "recv",<id>`` the modem stays silent until its buffer has been read
empty, so every URC starts an ``AT+QIRD`` loop that runs until ``+QIRD: 0``.
A slow poll covers a URC lost to line noise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from modem.at import ATCommandError, ATError, ATTimeout
from modem.stream import StreamClosed, WriteDescriber

if TYPE_CHECKING:
    from .modem import QuectelModem

log = logging.getLogger(__name__)

MAX_SEND = 1460  # AT+QISEND=<id>,<len>: 1..1460
MAX_READ = 1500  # AT+QIRD=<id>,<len>: up to 1500


class QuectelSocket:
    """One ``connectID`` opened with ``AT+QIOPEN=...,0`` (buffer access mode).

    Created by :meth:`QuectelModem.open_tcp`; not meant to be built directly.
    The QSSL client of :mod:`modem.quectel.ssl` follows the same rules with other
    command names (the class attributes below).
    """

    SEND = "AT+QISEND"  # =<id>,<len>: fixed length, binary-safe
    READ = "AT+QIRD"  # =<id>,<len>: answers +<READ>: <n> then n raw bytes
    CLOSED_URC = "+QIURC"

    def __init__(
        self,
        modem: QuectelModem,
        connect_id: int,
        ctx: int,
        host: str,
        port: int,
        *,
        poll_interval: float = 10.0,
        send_backoff: Sequence[float] = (0.2, 0.5, 1.0, 2.0),
        max_buffer: int = 65536,
    ) -> None:
        self.connect_id = connect_id
        self.ctx = ctx
        self.host = host
        self.port = port
        self.poll_interval = poll_interval
        self.send_backoff = tuple(send_backoff)
        self.max_buffer = max_buffer
        self._modem = modem
        self._driver = modem.driver
        self._rx = bytearray()
        self._rx_changed = asyncio.Event()  # data, EOF or failure for read()
        self._rx_taken = asyncio.Event()  # read() made room in _rx
        self._wake = asyncio.Event()  # a recv/closed URC arrived: drain now
        self._peer_closed = False
        self._eof = False
        self._failure: StreamClosed | None = None
        self._released = False  # AT+QICLOSE done, or the context is gone
        self._closed_by_host = False
        self._write_lock = asyncio.Lock()
        self._closing: asyncio.Future[None] | None = None
        # AT+QICLOSE got no answer: whether the connectID is free is unknown
        self.release_unsure = False
        self._pump: asyncio.Task[None] | None = None
        self._describer: WriteDescriber | None = None

    def __repr__(self) -> str:
        return f"<QuectelSocket {self.connect_id} {self.host}:{self.port} ctx {self.ctx}>"

    # -- ByteStream --------------------------------------------------------

    async def read(self) -> bytes:
        """Bytes received so far; ``b""`` after the peer closed and all was delivered.

        Raises :class:`StreamClosed` when the link broke (PDP loss, modem gone)
        once any bytes received before the break have been returned.
        """
        while not self._rx:
            if self._failure is not None:
                raise StreamClosed(self._failure.reason)
            if self._eof or self._closed_by_host:
                return b""
            self._rx_changed.clear()
            await self._rx_changed.wait()
        data = bytes(self._rx)
        self._rx.clear()
        self._rx_taken.set()
        return data

    async def write(self, data: bytes) -> None:
        """Send ``data`` in chunks of at most 1460 bytes, each only after the ``>`` prompt."""
        chunks = [data[start : start + MAX_SEND] for start in range(0, len(data), MAX_SEND)]
        notes = self._notes(data, len(chunks))
        async with self._write_lock:
            for chunk, note in zip(chunks, notes, strict=True):
                await self._send_chunk(chunk, note)

    def describe_writes(self, describer: WriteDescriber) -> None:
        """Show what each write is in the AT trace (see :class:`modem.stream.DescribesWrites`)."""
        self._describer = describer

    def _notes(self, data: bytes, parts: int) -> list[str | None]:
        note: str | None = None
        if self._describer is not None and self._driver.trace.enabled:
            try:
                note = self._describer(data)
            except Exception:  # a trace nicety must never stop the data
                log.exception("describing %d bytes for the AT trace failed", len(data))
        if note is None or parts == 1:
            return [note] * parts
        notes: list[str | None] = [f"(1/{parts}) {note}"]
        return notes + [f"({i}/{parts}) continued" for i in range(2, parts + 1)]

    async def close(self) -> None:
        """Stop receiving and free the connectID with ``AT+QICLOSE``; safe to call twice,
        and every caller returns only once the ID is free (the next ``AT+QIOPEN`` on it
        must not meet 563)."""
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close())
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        self._closed_by_host = True
        self._rx_changed.set()
        if self._pump is not None and self._pump is not asyncio.current_task():
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        try:
            await self._release()
        finally:
            self._modem._forget(self)

    # -- driven by QuectelModem --------------------------------------------

    def start(self) -> None:
        self._pump = asyncio.get_running_loop().create_task(
            self._run_pump(), name=f"qird {self.connect_id}"
        )

    def notify_recv(self) -> None:
        self._wake.set()

    def notify_closed(self) -> None:
        self._peer_closed = True
        self._wake.set()

    def fail(self, reason: str, *, released: bool = False) -> None:
        """End the socket with :class:`StreamClosed` (``released``: the modem freed the ID)."""
        if self._failure is None and not self._eof:
            log.warning("socket %d to %s:%d: %s", self.connect_id, self.host, self.port, reason)
            self._failure = StreamClosed(reason)
        self._released = self._released or released
        self._rx_changed.set()
        self._wake.set()

    @property
    def is_open(self) -> bool:
        return self._failure is None and not self._eof and not self._closed_by_host

    # -- internals ---------------------------------------------------------

    async def _run_pump(self) -> None:
        while self._failure is None and not self._eof:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            self._wake.clear()
            if self._failure is not None:
                return
            peer_closed = self._peer_closed  # a URC arriving mid-drain waits for the next turn
            try:
                await self._drain()
                if peer_closed:
                    await self._release()
                    self._eof = True
                    self._rx_changed.set()
            except ATError as exc:
                reason = await self._modem.explain(exc)
                self.fail(f"reading socket {self.connect_id} failed: {reason}")
            except Exception as exc:  # a bug here must not leave read() waiting forever
                log.exception("receive loop of socket %d crashed", self.connect_id)
                self.fail(f"receive loop of socket {self.connect_id} crashed: {exc!r}")

    async def _drain(self) -> None:
        """Read until ``+QIRD: 0``; pause while ``read()`` has ``max_buffer`` bytes pending."""
        while self._failure is None:
            while len(self._rx) >= self.max_buffer:
                self._rx_taken.clear()
                await self._rx_taken.wait()
            response = await self._driver.command(f"{self.READ}={self.connect_id},{MAX_READ}")
            if not response.payloads:
                raise ATCommandError(
                    response.command, response.final, f"OK without a +{self.READ[3:]} line"
                )
            data = b"".join(p.data for p in response.payloads)
            if not data:
                return
            self._rx += data
            self._rx_changed.set()

    async def _send_chunk(self, chunk: bytes, note: str | None) -> None:
        command = f"{self.SEND}={self.connect_id},{len(chunk)}"
        for attempt in range(len(self.send_backoff) + 1):
            self._check_writable()
            try:
                await self._driver.send_payload(command, chunk, note=note)
                return
            except ATCommandError as exc:
                if exc.send_failed and attempt < len(self.send_backoff):
                    await asyncio.sleep(self.send_backoff[attempt])
                    continue
                if exc.send_failed:
                    reason = (
                        f"{command} -> SEND FAIL {attempt + 1} times: the modem's send "
                        "buffer stays full (uplink stalled?)"
                    )
                else:
                    reason = await self._modem.explain(exc)
            except ATTimeout as exc:
                # Whether the module took none, part or all of this chunk is unknown:
                # the TCP stream's framing is lost.  Only a new socket is clean.
                reason = (
                    f"{exc}: the byte stream of socket {self.connect_id} is in doubt; "
                    "it is closed and reopened"
                )
            except ATError as exc:
                reason = str(exc)
            self.fail(reason)
            raise StreamClosed(reason)

    async def _free(self) -> None:
        await self._modem.close_id(self.connect_id)

    def _check_writable(self) -> None:
        if self._failure is not None:
            raise StreamClosed(self._failure.reason)
        if self._closed_by_host:
            raise StreamClosed(f"socket {self.connect_id} was closed by this host")
        if self._peer_closed or self._eof:
            raise StreamClosed(
                f'{self.CLOSED_URC}: "closed",{self.connect_id}: {self.host}:{self.port} '
                "closed the connection"
            )

    async def _release(self) -> None:
        if self._released:
            return
        self._released = True
        try:
            await self._free()
        except ATError as exc:  # port gone or modem wedged: nothing left to free
            self.release_unsure = True
            log.warning("socket %d not closed in the modem: %s", self.connect_id, exc)
