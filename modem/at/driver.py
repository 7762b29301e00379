"""asyncio AT driver: one command in flight, URCs dispatched whenever they arrive.

One reader task owns the port and feeds the Sans-I/O parser; each event goes
either to the command waiting for it or to the URC handlers.  Commands are
serialised by a lock because an AT modem answers one command at a time, and a
command runs to its end even if its caller is cancelled: abandoning
``AT+QISEND`` between the prompt and the payload would make the modem swallow
the next command line as payload bytes.

Payload discipline (the port's :class:`PortState` and its transition table,
:data:`TRANSITIONS`): once a command that answers ``>`` is written, nothing is
written until its prompt arrives (then exactly the announced bytes) or its
final result shows that the module has left its payload phase, even after
the command timed out.  A write that breaks the rule raises
:class:`CommandDuringPayloadPhase` or :class:`UnannouncedPayload` instead of
reaching the port.  A module silent in that phase for ``"silent payload
phase"`` seconds (timeout table; Quectel's 60 s reboot advice) is given up on:
commands may be written again, and a watchdog above may reset the module.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .dialect import GENERIC, Dialect
from .errors import ATCommandError, ATError, ATPortError, ATRestarted, ATTimeout, describe
from .events import Error, Event, Final, Garbage, Line, Ok, Payload, Prompt, SendResult, Urc
from .parser import ATParser
from .trace import ATTrace

log = logging.getLogger(__name__)

UrcHandler = Callable[[Urc], None]
LostHandler = Callable[[str], None]

# Timeout-table key: how long the driver stays silent for a send that timed out
# before its prompt (the module may still be about to ask for the payload).
SILENT_PAYLOAD_PHASE = "silent payload phase"
SILENT_PAYLOAD_PHASE_DEFAULT = 60.0  # Quectel: reboot if nothing arrives within 60 s


class PortState(enum.Enum):
    """What the module may be doing, as far as writing to it is concerned."""

    IDLE = "idle"  # nothing outstanding: a command may be written
    COMMAND = "command"  # a command line is out; its final result is due
    AWAITING_PROMPT = "awaiting prompt"  # a send is out: no byte until its prompt or final
    PAYLOAD = "payload"  # the prompt came: exactly the announced bytes, once
    SENT = "sent"  # the payload is out; the send's final result is due
    ABANDONED_SEND = "abandoned send"  # a send timed out before its prompt: still silent
    STALE = "stale"  # a command timed out outside any payload phase: resync with AT
    CLOSED = "closed"  # the port is gone


class PortEvent(enum.Enum):
    WRITE_COMMAND = "write command"
    WRITE_SEND = "write send"  # a command that answers with a prompt
    PROMPT = "prompt"
    WRITE_PAYLOAD = "write payload"
    FINAL = "final"
    TIMEOUT = "timeout"
    SILENCE = "silence"  # no prompt nor final for the silent-payload-phase limit
    RESTART = "restart"  # RDY: nothing is outstanding any more
    LOST = "lost"


S, E = PortState, PortEvent
TRANSITIONS: Mapping[tuple[PortState, PortEvent], PortState] = {
    (S.IDLE, E.WRITE_COMMAND): S.COMMAND,
    (S.IDLE, E.WRITE_SEND): S.AWAITING_PROMPT,
    (S.STALE, E.WRITE_COMMAND): S.COMMAND,  # the resynchronising AT, or a probe
    (S.STALE, E.WRITE_SEND): S.AWAITING_PROMPT,
    (S.STALE, E.FINAL): S.STALE,  # late answers; resync decides when it is over
    (S.COMMAND, E.FINAL): S.IDLE,
    (S.COMMAND, E.TIMEOUT): S.STALE,
    (S.AWAITING_PROMPT, E.PROMPT): S.PAYLOAD,
    (S.AWAITING_PROMPT, E.FINAL): S.IDLE,  # refused before any prompt: no payload phase
    (S.AWAITING_PROMPT, E.TIMEOUT): S.ABANDONED_SEND,
    (S.PAYLOAD, E.WRITE_PAYLOAD): S.SENT,
    (S.PAYLOAD, E.FINAL): S.IDLE,  # the module's own input timeout ended the phase
    (S.SENT, E.FINAL): S.IDLE,
    (S.SENT, E.TIMEOUT): S.STALE,
    (S.ABANDONED_SEND, E.PROMPT): S.PAYLOAD,  # late prompt: the announced bytes, nothing else
    (S.ABANDONED_SEND, E.FINAL): S.IDLE,
    (S.ABANDONED_SEND, E.SILENCE): S.STALE,
    **{(state, E.RESTART): S.IDLE for state in S if state is not S.CLOSED},
    **{(state, E.LOST): S.CLOSED for state in S},
}
# States in which the module is, or may be about to be, reading payload bytes.
PAYLOAD_PHASE = frozenset({S.AWAITING_PROMPT, S.PAYLOAD, S.ABANDONED_SEND})
del S, E


class CommandDuringPayloadPhase(ATError):
    """Rule broken: a command line written while the module reads (or may be about to
    read) payload bytes, which it would take as payload."""


class UnannouncedPayload(ATError):
    """Rule broken: payload bytes written without a prompt, or not exactly those the
    command announced."""


@dataclass(frozen=True)
class Response:
    """Everything a command got back before its final result."""

    command: str
    lines: list[str]
    payloads: list[Payload]
    final: Final

    def values(self, prefix: str) -> list[str]:
        """Lines starting with ``prefix``, without it: ``values("+CSQ:")`` -> ``["20,99"]``."""
        return [ln[len(prefix) :].strip() for ln in self.lines if ln.startswith(prefix)]

    def value(self, prefix: str) -> str | None:
        found = self.values(prefix)
        return found[0] if found else None


@dataclass
class _Pending:
    command: str
    payload: bytes | None
    seconds: float
    loop: asyncio.AbstractEventLoop
    note: str | None = None  # what the payload is, for the trace
    lines: list[str] = field(default_factory=list)
    payloads: list[Payload] = field(default_factory=list)
    echo_possible: bool = True
    prompted: bool = False  # the futures may be cancelled by a timeout; this is not
    payload_written: bool = False
    prompt: asyncio.Future[bool] = field(init=False)
    done: asyncio.Future[Final] = field(init=False)

    def __post_init__(self) -> None:
        self.prompt = self.loop.create_future()
        self.done = self.loop.create_future()

    @property
    def wants_prompt(self) -> bool:
        return self.payload is not None

    def fail(self, exc: Exception) -> None:
        for fut in (self.prompt, self.done):
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()  # the other one may never be awaited

    def owns(self, urc_text: str) -> bool:
        """``+CPIN: READY`` answers ``AT+CPIN?`` even though ``+CPIN:`` is also a URC."""
        name = self.command[2:].split("=", 1)[0].split("?", 1)[0]
        return name.startswith("+") and urc_text.startswith(name + ":")


class ATDriver:
    """Talks AT over an asyncio (reader, writer) pair: a serial port, pty or socket."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        dialect: Dialect = GENERIC,
        port: str = "modem",
        trace: ATTrace | None = None,
        timeouts: Mapping[str, float] | None = None,
    ) -> None:
        if timeouts:
            dialect = dataclasses.replace(dialect, timeouts={**dialect.timeouts, **timeouts})
        self.dialect = dialect
        self.port = port
        self.trace = trace or ATTrace(port)
        self.garbage_bytes = 0
        self.bytes_received = 0
        self._reader = reader
        self._writer = writer
        self._parser = ATParser(dialect)
        self._lock = asyncio.Lock()
        self._pending: _Pending | None = None
        self._urc_handlers: list[UrcHandler] = []
        self._lost_handlers: list[LostHandler] = []
        self._read_task: asyncio.Task[None] | None = None
        self._exchanges: set[asyncio.Task[Response]] = set()
        # A command that timed out and whose answer has not come yet: its late
        # output must not be taken as the answer of the next command.
        self._stale: _Pending | None = None
        self._finals_seen = 0  # finals received, for the resynchronisation
        self._last_rx = 0.0  # loop time of the last bytes read
        self.lost: str | None = None
        self.state = PortState.IDLE
        self._send: _Pending | None = None  # the send the PAYLOAD state belongs to
        self._writable = asyncio.Event()  # set when out of any payload phase
        self._writable.set()
        self.transitions: list[tuple[PortState, PortEvent, PortState]] = []

    # -- life cycle --------------------------------------------------------

    def start(self) -> None:
        """Start reading the port (URCs flow from here on); idempotent."""
        if self._read_task is None:
            self._read_task = asyncio.get_running_loop().create_task(
                self._read_loop(), name=f"at-reader {self.port}"
            )

    async def aclose(self) -> None:
        """Stop reading and close the port; safe to call twice."""
        self._set_lost("driver closed")  # first: the cancelled reader must not say "lost"
        tasks = [t for t in (self._read_task, *self._exchanges) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        if not self._writer.is_closing():
            self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()
        self.trace.close()

    def add_urc_handler(self, handler: UrcHandler) -> Callable[[], None]:
        """Call ``handler`` for every URC.

        Handlers run on the reader task: they must not block; schedule work
        instead.  Returns a function that removes the handler.
        """
        self._urc_handlers.append(handler)
        return lambda: self._urc_handlers.remove(handler)

    def urc_queue(self, prefix: str = "") -> asyncio.Queue[Urc]:
        """An unbounded queue receiving every URC whose text starts with ``prefix``."""
        queue: asyncio.Queue[Urc] = asyncio.Queue()

        def put(urc: Urc) -> None:
            if urc.text.startswith(prefix):
                queue.put_nowait(urc)

        self.add_urc_handler(put)
        return queue

    def add_lost_handler(self, handler: LostHandler) -> None:
        """Call ``handler(reason)`` once when the port goes away (EOF, read error, aclose)."""
        self._lost_handlers.append(handler)

    # -- commands ----------------------------------------------------------

    def timeout_for(self, command: str) -> float:
        return self.dialect.timeout_for(command)

    async def command(self, command: str, timeout: float | None = None) -> Response:
        """Send ``command`` (without line ending) and return its response.

        Raises :class:`ATCommandError` on ``ERROR``/``+CME ERROR``/``SEND FAIL``,
        :class:`ATTimeout` without a final result in time, :class:`ATPortError`
        if the port is gone.
        """
        return await self._submit(command, None, timeout)

    async def send_payload(
        self, command: str, payload: bytes, timeout: float | None = None, note: str | None = None
    ) -> Response:
        """Send a command that answers ``>``, then ``payload`` (only after the prompt).

        ``note`` is shown in the trace instead of the raw bytes (what they carry).
        """
        return await self._submit(command, payload, timeout, note=note)

    async def probe(self, within: float = 4.0, attempt: float = 0.5) -> None:
        """Send ``AT`` until ``OK``; raise :class:`ATPortError` if nothing sensible answers.

        ``within`` stays under the 5 s in which a wrong port or baud rate must be
        reported.  Any byte received counts: a port that talks but never says
        ``OK`` is blamed on the baud rate rather than called silent.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        received_before = self.bytes_received
        sent = 0
        while (left := deadline - loop.time()) > 0:
            try:
                sent += 1
                await self._submit("AT", None, min(attempt, left), resync=False)
            except (ATTimeout, ATRestarted):
                continue
            except ATCommandError:
                pass  # something that speaks AT is there
            if sent > 1:  # answers to the earlier ATs may still be on their way
                await self._quiet(attempt, deadline=loop.time() + 2 * attempt)
            return
        self._stale = None
        heard = self.bytes_received - received_before
        held = self._parser.held()
        if held:  # noise without a line end never became an event: show it now
            self.trace.received(Garbage(held, "no line end: not AT output"))
        raise ATPortError(
            self.port,
            f"no OK to AT within {within:g} s: "
            + (
                f"the port answers with unreadable bytes: wrong baud rate? ({heard} bytes "
                "received, no OK among them)"
                if heard
                else "nothing answered; check the port name, the baud rate and that "
                "the modem is powered"
            ),
        )

    async def _submit(
        self,
        command: str,
        payload: bytes | None,
        timeout: float | None,
        resync: bool = True,
        note: str | None = None,
    ) -> Response:
        if self.lost is not None:
            raise ATPortError(self.port, self.lost)
        self.start()
        seconds = self.timeout_for(command) if timeout is None else timeout
        task = asyncio.get_running_loop().create_task(
            self._exchange(command, payload, seconds, resync, note)
        )
        self._exchanges.add(task)
        task.add_done_callback(self._exchange_done)
        return await asyncio.shield(task)

    def _exchange_done(self, task: asyncio.Task[Response]) -> None:
        self._exchanges.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved here in case the caller was cancelled

    async def _exchange(
        self, command: str, payload: bytes | None, seconds: float, resync: bool, note: str | None
    ) -> Response:
        async with self._lock:
            if self.lost is not None:
                raise ATPortError(self.port, self.lost)
            await self._leave_payload_phase(command)
            if not resync:
                self._stale = None
            elif self._stale is not None:
                await self._resync(command)
            pending = _Pending(command, payload, seconds, asyncio.get_running_loop(), note)
            self._pending = pending
            try:
                async with asyncio.timeout(seconds):
                    self.trace.sent(command)
                    await self._write_command(command, send=payload is not None)
                    if payload is not None and await pending.prompt:
                        await self._write_payload(pending)
                    final = await pending.done
            except TimeoutError:
                self._stale = pending
                if self.state is PortState.PAYLOAD and self._send is pending:
                    # The prompt beat the deadline but not the payload: the module reads
                    # payload now, so the announced bytes go, or the next line would.
                    self._write_payload_now(pending, "prompt came at the deadline")
                if self.state in (
                    PortState.COMMAND,
                    PortState.AWAITING_PROMPT,
                    PortState.SENT,
                ):
                    self._move(PortEvent.TIMEOUT)
                if self.state is PortState.ABANDONED_SEND:
                    self.trace.note(
                        f"timeout after {seconds:g} s waiting for the prompt of {command}; "
                        "nothing is written until its prompt (then exactly the announced "
                        "bytes) or its final result"
                    )
                else:
                    self.trace.note(
                        f"timeout after {seconds:g} s waiting for {command}; a late answer "
                        "will be discarded"
                    )
                raise ATTimeout(command, seconds, self.port) from None
            finally:
                self._pending = None
        if isinstance(final, Ok) or (isinstance(final, SendResult) and final.ok):
            return Response(command, pending.lines, pending.payloads, final)
        raise ATCommandError(
            command,
            final,
            describe(final, self.dialect.cme_texts),
            lines=pending.lines,
            prompted=pending.prompted,
        )

    # -- the port state machine -------------------------------------------

    def _move(self, event: PortEvent) -> PortState:
        before = self.state
        after = TRANSITIONS.get((before, event))
        if after is None:
            rule = (
                CommandDuringPayloadPhase
                if event in (PortEvent.WRITE_COMMAND, PortEvent.WRITE_SEND)
                else UnannouncedPayload
                if event is PortEvent.WRITE_PAYLOAD
                else ATError
            )
            raise rule(f"{self.port}: {event.value} not allowed in state {before.value}")
        self.state = after
        self.transitions.append((before, event, after))
        del self.transitions[:-64]
        if after in PAYLOAD_PHASE or after is PortState.SENT:
            self._writable.clear()
        else:
            self._writable.set()
            if after is not PortState.SENT:
                self._send = None
        return after

    async def _write_command(self, command: str, *, send: bool = False) -> None:
        self._move(PortEvent.WRITE_SEND if send else PortEvent.WRITE_COMMAND)
        await self._write(command.encode() + self.dialect.line_ending)

    async def _write_payload(self, pending: _Pending) -> None:
        self._check_payload(pending)
        assert pending.payload is not None
        self.trace.sent_payload(pending.payload, pending.note)
        pending.payload_written = True
        self._move(PortEvent.WRITE_PAYLOAD)
        await self._write(pending.payload)

    def _write_payload_now(self, pending: _Pending, why: str) -> None:
        """The announced bytes, from the reader task (a late prompt) or a timeout."""
        self._check_payload(pending)
        assert pending.payload is not None
        self.trace.sent_payload(pending.payload, pending.note)
        self.trace.note(f"exactly the {len(pending.payload)} announced bytes: {why}")
        pending.payload_written = True
        self._move(PortEvent.WRITE_PAYLOAD)
        with contextlib.suppress(OSError, RuntimeError):
            self._writer.write(pending.payload)

    def _check_payload(self, pending: _Pending) -> None:
        if self.state is not PortState.PAYLOAD or self._send is not pending:
            raise UnannouncedPayload(
                f"{self.port}: payload of {pending.command} in state {self.state.value}"
            )
        if pending.payload_written:
            raise UnannouncedPayload(f"{self.port}: payload of {pending.command} written twice")

    async def _leave_payload_phase(self, before: str) -> None:
        """Wait, writing nothing, until no send is in (or may enter) its payload phase,
        and a late payload has had its final result."""
        if self._writable.is_set():
            return
        limit = self.timeout_for(SILENT_PAYLOAD_PHASE)
        if SILENT_PAYLOAD_PHASE not in self.dialect.timeouts:
            limit = SILENT_PAYLOAD_PHASE_DEFAULT
        send = self._send or self._stale
        what = send.command if send is not None else "a send"
        self.trace.note(
            f"{before} waits: {what} may still be in its payload phase; nothing is written "
            f"until its prompt or final result (at most {limit:g} s)"
        )
        try:
            async with asyncio.timeout(limit):
                await self._writable.wait()
        except TimeoutError:
            if self.state is PortState.ABANDONED_SEND:
                self._move(PortEvent.SILENCE)
                self._stale = None  # it showed nothing: nothing of it can be told apart
                self.trace.note(
                    f"no prompt and no final result for {what} within {limit:g} s: the "
                    "modem is not answering; commands may be written again"
                )
                raise ATTimeout(f"{before} (after {what})", limit, self.port) from None
            if self.state is PortState.SENT:  # the payload is out: commands are safe again
                self._move(PortEvent.TIMEOUT)
                return
            raise ATTimeout(f"{before} (payload of {what})", limit, self.port) from None
        if self.lost is not None:
            raise ATPortError(self.port, self.lost)

    async def _resync(self, before: str) -> None:
        """After a timeout, make sure the next command gets its own answer.

        The modem answers in order, so the timed-out command's late output (still
        routed to it) comes before the answer to an ``AT`` sent now; that ``AT``
        is in sync once its ``OK`` is followed by a quiet line.  A single ``AT``
        only: a second one would leave an answer behind if the modem is slow.
        """
        stale = self._stale
        assert stale is not None
        loop = asyncio.get_running_loop()
        base = self.dialect.default_timeout
        budget = base + min(stale.seconds, 2 * base)
        self.trace.note(
            f"resynchronising before {before}: {stale.command} timed out and its answer "
            f"has not come; AT until a quiet OK (at most {budget:g} s)"
        )
        finals_before = self._finals_seen
        probe = _Pending("AT", None, budget, loop)
        self._pending = probe
        try:
            async with asyncio.timeout(budget):
                self.trace.sent("AT")
                await self._write_command("AT")
                while not isinstance(await probe.done, Ok):
                    self.trace.note("that final is not the OK to AT; still waiting")
                    probe = _Pending("AT", None, budget, loop)
                    self._pending = probe  # (the port stays IDLE: the lock is held)
            await self._quiet(0.2, deadline=loop.time() + base)
            self._stale = None
            self.trace.note(f"in sync again; sending {before}")
        except ATRestarted as exc:  # nothing is outstanding after a restart
            raise ATRestarted(before, exc.urc, self.port) from None
        except TimeoutError:
            if self._finals_seen > finals_before:
                # Output came, then silence: whatever was outstanding has answered or
                # was lost (an AT eaten as payload); nothing is left to arrive.
                self._stale = None
                if self.state is PortState.COMMAND:  # that AT was eaten: owed nothing
                    self._move(PortEvent.TIMEOUT)  # STALE: commands may be written
                self.trace.note(f"line quiet after the late answers; sending {before}")
                return
            self._stale = probe
            if self.state is PortState.COMMAND:
                self._move(PortEvent.TIMEOUT)
            raise ATTimeout(f"AT (resynchronising before {before})", budget, self.port) from None
        finally:
            self._pending = None

    async def _quiet(self, seconds: float, deadline: float) -> None:
        """Wait until nothing has been read for ``seconds`` (or until ``deadline``)."""
        loop = asyncio.get_running_loop()
        # A timer restarted by every read, not an event: polling is the plain form.
        while (now := loop.time()) < deadline and now - self._last_rx < seconds:  # noqa: ASYNC110
            await asyncio.sleep(min(seconds - (now - self._last_rx), deadline - now))

    async def _write(self, data: bytes) -> None:
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (OSError, RuntimeError) as exc:  # RuntimeError: transport closed
            self._set_lost(f"write failed: {exc}")
            raise ATPortError(self.port, f"write failed: {exc}") from exc

    # -- reading -----------------------------------------------------------

    async def _read_loop(self) -> None:
        reason = "port closed (EOF): modem unplugged, reset or port taken?"
        loop = asyncio.get_running_loop()
        try:
            while data := await self._reader.read(4096):
                self.bytes_received += len(data)
                self._last_rx = loop.time()
                self._parser.receive_data(data)
                for event in self._parser.events():
                    self._dispatch(event)
        except OSError as exc:
            reason = f"read failed: {exc}"
        except asyncio.CancelledError:
            # Nobody reads the port any more: commands waiting (or sent later) must fail
            # now rather than wait out their timeouts, e.g. while a link closes at exit.
            self._set_lost("AT reader stopped (cancelled)")
            raise
        self._parser.receive_eof()
        for event in self._parser.events():
            self._dispatch(event)
        self._set_lost(reason)

    def _set_lost(self, reason: str) -> None:
        if self.lost is not None:
            return
        self.lost = reason
        self._move(PortEvent.LOST)
        self.trace.note(f"port lost: {reason}")
        if self._pending is not None:
            self._pending.fail(ATPortError(self.port, reason))
        for handler in list(self._lost_handlers):
            try:
                handler(reason)
            except Exception:
                log.exception("lost-port handler failed on %s", self.port)

    def _restarted(self, urc: str) -> None:
        """The modem rebooted: nothing sent before will be answered."""
        self._stale = None
        if self.state is not PortState.CLOSED:
            self._move(PortEvent.RESTART)
        pending = self._pending
        if pending is not None and not pending.done.done():
            self.trace.note(f"{pending.command} abandoned: the modem restarted ({urc})")
            pending.fail(ATRestarted(pending.command, urc, self.port))

    def _dispatch(self, event: Event) -> None:
        if isinstance(event, Ok | Error | SendResult):
            self._finals_seen += 1
        match event:
            case Garbage(data=data, reason=reason):
                self._skip(event, data, reason, "skipped")
                return
            case Urc(data=None, text=text) if text in self.dialect.restart_urcs:
                self._restarted(text)
        stale = self._stale
        if stale is not None and self._late(stale, event):
            return
        pending = self._pending
        if pending is not None and pending.done.done():
            pending = None
        match event:
            case Urc(data=None, text=text) if pending is not None and pending.owns(text):
                self.trace.received(Line(text))  # a response here, not a URC
                pending.lines.append(text)
            case Urc():
                self.trace.received(event)
                self._deliver(event)
            case Line(text=text) if pending is None:
                # Not a known URC and no command asked: line noise that happened to be
                # printable (wrong baud rate, a glitch), or a URC this dialect lacks.
                reason = "unsolicited line that is no known URC"
                self._skip(event, text.encode(), reason, f"skipped as garbage: {reason}")
            case Line(text=text) if pending is not None:
                if pending.echo_possible and text == pending.command:
                    self.trace.received(event, "echo")
                else:
                    self.trace.received(event)
                    pending.lines.append(text)
                pending.echo_possible = False
            case Payload() if pending is not None:
                self.trace.received(event)
                pending.payloads.append(event)
            case Prompt() if (
                pending is not None
                and pending.wants_prompt
                and not pending.prompted
                and self.state is PortState.AWAITING_PROMPT
            ):
                self.trace.received(event)
                pending.prompted = True
                self._send = pending
                self._move(PortEvent.PROMPT)
                if not pending.prompt.done():
                    pending.prompt.set_result(True)
            case Ok() | Error() | SendResult() if pending is not None:
                if pending.wants_prompt and not pending.prompt.done():
                    if isinstance(event, Ok):
                        # ESP-AT says OK, then the prompt.
                        self.trace.received(event, "before prompt")
                        return
                    pending.prompt.set_result(False)
                self.trace.received(event)
                self._final()
                pending.done.set_result(event)
            case _:
                self.trace.received(event, "no command waiting for it; dropped")

    def _final(self) -> None:
        if (self.state, PortEvent.FINAL) in TRANSITIONS:
            self._move(PortEvent.FINAL)

    def _skip(self, event: Event, data: bytes, reason: str, note: str) -> None:
        self.garbage_bytes += len(data)
        self.trace.received(event, note)
        log.warning("%s: skipped %d bytes: %s: %r", self.port, len(data), reason, data[:64])

    def _late(self, stale: _Pending, event: Event) -> bool:
        """Output of the timed-out ``stale`` command: consumed here (True), never passed on.

        A late prompt gets exactly the announced payload and nothing else: the
        module reads payload now, so any other byte (an ``AT``) would become part
        of the TCP stream.
        """
        why = f"late answer to {stale.command}, which timed out; discarded"
        match event:
            case Urc(data=None, text=text) if stale.owns(text):
                self.trace.received(Line(text), why)
            case Urc():
                return False
            case Line() | Payload():
                self.trace.received(event, why)
            case Prompt() if (
                stale.payload is not None
                and not stale.prompted
                and self.state is PortState.ABANDONED_SEND
            ):
                stale.prompted = True
                self.trace.received(event, f"late prompt for {stale.command}")
                self._send = stale
                self._move(PortEvent.PROMPT)
                self._write_payload_now(
                    stale, "the module reads payload now; anything else would become payload"
                )
            case Ok() if stale.wants_prompt and not stale.prompted:
                self.trace.received(event, f"{why} (before its prompt)")
            case Ok() | Error() | SendResult():
                self.trace.received(event, why)
                if self.state is not PortState.COMMAND:  # not the resynchronising AT's
                    self._final()
                self._stale = None
            case _:
                return False
        return True

    def _deliver(self, urc: Urc) -> None:
        for handler in list(self._urc_handlers):
            try:
                handler(urc)
            except Exception:
                log.exception("URC handler failed on %r", urc.text)
