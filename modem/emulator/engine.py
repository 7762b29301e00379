"""The command loop shared by all dialects: echo, latency, framing, faults, reboot.

One line is handled at a time, as on a real module: while a command runs
(QIACT can take seconds) later input waits in the buffer.  Anything a dialect
starts in the background goes through :meth:`Engine.spawn`, so a reboot or a
shutdown can cancel all of it in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from modem.emulator.config import EmulatorConfig
from modem.emulator.dialect import CommandIO, Dialect, Reply
from modem.emulator.link import Pacer, SerialLink
from modem.emulator.wire import InputBuffer, Output, edit_line, pump_input

log = logging.getLogger("modem.emulator")

DialectFactory = Callable[["Engine", EmulatorConfig], Dialect]
T = TypeVar("T")


class _LineIO(CommandIO):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.deferred: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self.prompted = False

    async def prompt(self, data: bytes, delay: float = 0.0) -> None:
        output = self._engine.output
        if delay > 0:
            # The payload phase starts now; only the prompt is late.
            self._engine.inbuf.stash()
            self.prompted = True
            log.info("prompt delayed by %g s (late-prompt fault)", delay)
            await asyncio.sleep(delay)
            await output.written(output.send(data))
            return
        await output.written(output.send(data))
        self._engine.inbuf.stash()
        self.prompted = True

    async def read_exact(self, n: int, idle_timeout: float | None) -> bytes | None:
        return await self._engine.inbuf.read_exact(n, idle_timeout)

    async def read_until(
        self, stops: bytes, idle_timeout: float | None
    ) -> tuple[bytes, int] | None:
        return await self._engine.inbuf.read_until(stops, idle_timeout)

    def send_raw(self, data: bytes) -> None:
        self._engine.output.send(data)

    def after_reply(self, action: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.deferred.append(action)

    async def blocking(self, work: Awaitable[T]) -> T:
        engine = self._engine
        busy = engine.dialect.busy_reply
        task = asyncio.ensure_future(work)
        if busy is None:
            return await task
        try:
            while not task.done():
                arrival = asyncio.ensure_future(engine.inbuf.wait_input())
                await asyncio.wait({task, arrival}, return_when=asyncio.FIRST_COMPLETED)
                if arrival.done():
                    log.info("busy: %d byte(s) of input ignored", engine.inbuf.discard())
                    engine.output.send(engine.dialect.framing.urc(busy))
                else:
                    arrival.cancel()
            return task.result()
        finally:
            task.cancel()


class Engine:
    """Runs one dialect over one serial link."""

    def __init__(self, link: SerialLink, config: EmulatorConfig, factory: DialectFactory) -> None:
        self.link = link
        self.config = config
        self.baud = config.baud
        self.in_pacer = Pacer(config.baud)
        self.out_pacer = Pacer(config.baud)
        self.inbuf = InputBuffer()
        self.output = Output(link, self.out_pacer)
        self.echo = True
        self.slow_ms = 0
        self.hung = False  # fault: no answer to anything but a reset command
        # (bytes, framed): URCs are framed as the dialect frames them, noise is raw.
        self._inserts: list[tuple[bytes, bool]] = []
        self._input_taps: list[Callable[[bytes], None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._cmd_task: asyncio.Task[None] | None = None
        self._boot_task: asyncio.Task[None] | None = None
        self._io_tasks: list[asyncio.Task[None]] = []
        self.dialect = factory(self, config)

    # -- lifecycle -------------------------------------------------------
    def start(self) -> None:
        self._io_tasks = [
            asyncio.create_task(self.output.run(), name="emu-output"),
            asyncio.create_task(
                pump_input(self.link, self.in_pacer, self.inbuf, self._input_taps),
                name="emu-input",
            ),
        ]
        self._cmd_task = asyncio.create_task(self._command_loop(), name="emu-commands")

    async def aclose(self) -> None:
        stopped = self._cancel_work()
        if self._boot_task is not None:
            self._boot_task.cancel()
            stopped.append(self._boot_task)
        await asyncio.gather(*stopped, return_exceptions=True)
        await self.dialect.aclose()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await self.output.drain()
        for task in self._io_tasks:
            task.cancel()
        await asyncio.gather(*self._io_tasks, return_exceptions=True)

    def _cancel_work(self) -> list[asyncio.Task[Any]]:
        """Cancel the running command and all background work; returns what was cancelled."""
        stopped = list(self._tasks)
        self._tasks.clear()
        if self._cmd_task is not None:
            stopped.append(self._cmd_task)
            self._cmd_task = None
        for task in stopped:
            task.cancel()
        return stopped

    # -- services for dialects -------------------------------------------
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Background work that a reboot must cancel (connects, DNS, delayed URCs)."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("emulator task failed", exc_info=task.exception())

    def tap_input(self, tap: Callable[[bytes], None]) -> Callable[[], None]:
        """Call ``tap`` with every chunk the host writes, exactly as received.

        Returns a function that removes the tap.
        """
        self._input_taps.append(tap)
        return lambda: self._input_taps.remove(tap)

    def urc(self, text: str | bytes) -> None:
        data = text.encode("latin-1") if isinstance(text, str) else text
        self.output.send(self.dialect.framing.urc(data))

    def set_baud(self, baud: int | None) -> None:
        self.baud = baud
        self.in_pacer.set_baud(baud)
        self.out_pacer.set_baud(baud)

    def reboot(self) -> None:
        """Power-cycle: abort the running command, drop all state, boot again.

        Synchronous so it can be called from a fault, a control client or a
        command's own background task (which it cancels too).
        """
        self._cancel_work()
        self.dialect.power_off()
        self.echo = True
        self.hung = False
        self._inserts.clear()
        if self._boot_task is not None:
            self._boot_task.cancel()
        self._boot_task = asyncio.create_task(self._boot(), name="emu-boot")

    async def _boot(self) -> None:
        await self.dialect.boot()
        self.inbuf.clear()  # whatever the host sent while the module was down is lost
        self._cmd_task = asyncio.create_task(self._command_loop(), name="emu-commands")

    # -- faults -----------------------------------------------------------
    def hang(self) -> None:
        """The firmware stops answering: every line is swallowed without echo or
        answer, except a reset command (AT+CFUN=1,1), which reboots the module."""
        self.hung = True

    def insert_in_next_response(self, text: bytes, *, raw: bool = False) -> None:
        """Put ``text`` in the next response, after its lines and before its final:
        as a URC (framed), or ``raw`` as it is (line noise)."""
        self._inserts.append((text, not raw))

    # -- the loop -----------------------------------------------------------
    async def _command_loop(self) -> None:
        while True:
            raw = await self.inbuf.read_line(self.dialect.line_end)
            if self.hung:
                line = edit_line(raw).decode("latin-1").strip(" \r\n\x00").upper()
                if line in self.dialect.reset_commands:
                    log.info("hung module reset by %s", line)
                    self.reboot()  # cancels this task too
                    return
                log.info("hung: %r swallowed", raw[:40])
                continue
            if self.echo:
                self.output.send(self.dialect.framing.echo(raw))
            line = edit_line(raw).decode("latin-1")
            if not line.strip(" \r\x00"):
                continue
            delay = (self.config.latency_ms + self.slow_ms) / 1000
            if delay > 0:
                await asyncio.sleep(delay)
            await self._run_line(line)

    async def _run_line(self, line: str) -> None:
        io = _LineIO(self)
        blocks: list[list[bytes]] = []
        final: bytes | None = b"ERROR"
        commands = self.dialect.parse(line)
        if commands is None:
            log.info("rejected command line %r", line)
        try:
            for cmd in commands or ():
                reply: Reply = await self.dialect.execute(cmd, io)
                if reply.lines:
                    blocks.append(reply.lines)
                final = reply.final
                if not reply.ok:
                    break
        except Exception:  # an emulator bug must not leave the modem mute
            log.exception("command %r crashed", line)
            final = b"ERROR"
        finally:
            if io.prompted:
                self.inbuf.unstash()
        self._write_reply(blocks, final)
        for action in io.deferred:
            self.spawn(action())

    def _write_reply(self, blocks: list[list[bytes]], final: bytes | None) -> None:
        framing = self.dialect.framing
        out = b"".join(framing.info(lines) for lines in blocks)
        if final is not None:
            out += b"".join(framing.urc(text) if framed else text for text, framed in self._inserts)
            self._inserts.clear()
            out += framing.final(final)
        self.output.send(out)
