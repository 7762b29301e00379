"""The asyncio shell around the charger core: it only moves bytes and fires timers.

Events go in through :meth:`Station.feed`; the core's actions come back and are
carried out here, in order: persist actions are committed to the store first
(one SQLite transaction per event), then frames go to the link (see
:class:`LinkSession`), timers are armed on the loop at the clock's time for their
deadline, and timeline events are written.  Nothing here decides anything about OCPP.

A session on a :class:`~chargepoint.transport.push.PushConnection` (the direct
ws:// link) runs on callbacks, with no task: what a fleet of 10,000 runs on.  One
on a send/recv connection (websockets' client, the modems) has a reader and a
writer task.  Either way it is the same session logic, for ``cpsim run``,
scenarios and fleets alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import itertools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from chargepoint.clocks import Clock
from chargepoint.core import ChargerCore, CoreSettings, Identity, StoredState
from chargepoint.core import actions as act
from chargepoint.core import events as ev
from chargepoint.core.certificates import charger_certificate
from chargepoint.core.config import Configuration
from chargepoint.core.connectors import Connector
from chargepoint.logmask import mask_text
from chargepoint.security.identityfiles import write_charger_identity, write_installed_roots
from chargepoint.security.tlsfiles import TlsFileError, TlsIdentity
from chargepoint.store import Store, StoreError
from chargepoint.transport.base import Connection, LinkClosed, MessageTooLarge
from chargepoint.transport.push import PushConnection, pushes

from .diagnostics import LogSource
from .timeline import Timeline
from .transfers import IMAGE_SPACE, TransferRunner

log = logging.getLogger("cpsim.station")
ocpp_log = logging.getLogger("cpsim.ocpp")


class Offline(Exception):
    """The CSMS cannot be asked right now (no link, or boot Rejected)."""


class CallFailed(Exception):
    """The CSMS answered a request with a CALLERROR, or not at all."""

    def __init__(self, code: str, description: str = "") -> None:
        super().__init__(f"{code}: {description}" if description else code)
        self.code = code
        self.description = description


@dataclass
class StationOptions(CoreSettings):
    state_dir: Path | None = None
    timeline_path: Path | None = None
    """Default: ``timeline.jsonl`` in the state dir."""
    log_files: tuple[Path, ...] = ()
    """The charger's own logs (the OCPP message log) that GetDiagnostics uploads, with the
    timeline and the AT trace."""
    image_space: int = IMAGE_SPACE
    """Bytes free for a firmware image: a larger one fails to download (§5.19)."""


@dataclass
class SessionEnd:
    reason: str
    rebooting: bool = False
    """The charger ended it itself (a Reset, new credentials): reconnect at once, as a
    reboot would."""
    was_accepted: bool = False
    reset: bool = False
    """It was a Reset (the charger reboots), not a reconnect on the same boot."""


@functools.lru_cache(maxsize=1024)
def _timer_event(name: str) -> ev.TimerFired:
    """One (frozen) TimerFired per timer name, shared by every charger's armed timer."""
    return ev.TimerFired(name)


class LinkSession:
    """One connected session: the connection, the frames not yet handed to it, its end.

    On a :class:`~chargepoint.transport.push.PushConnection` it runs with no task:
    messages arrive by callback (:meth:`message_received`), and frames go out from
    one loop callback per tick (:meth:`Station._write_pending`), after the fleet's
    group commit.  On a plain ``Connection`` (websockets' client, the modems' links)
    a reader and a writer task move the messages.  Either way :attr:`ended` resolves
    with the :class:`LinkClosed` that ended it (or the exception of a bug).
    """

    __slots__ = (
        "accepted",
        "closing",
        "connection",
        "down",
        "ended",
        "must_close",
        "pending",
        "push",
        "reset",
        "scheduled",
        "station",
        "tasks",
        "wakeup",
    )

    def __init__(self, station: Station, connection: Connection) -> None:
        self.station = station
        self.connection = connection
        self.ended: asyncio.Future[LinkClosed] = asyncio.get_running_loop().create_future()
        self.pending: list[tuple[str, str] | None] = []
        """Frames (and unique ids) for the link, in order; None: close it after them."""
        self.scheduled = False
        self.closing: tuple[int, str] | None = None
        self.reset = False
        """The charger closes it for a Reset (its CloseLink says so)."""
        self.must_close = False
        """The charger closes the link (a CloseLink) when the session ends."""
        self.accepted = False
        """Boot was Accepted during this session."""
        self.down = False
        """LinkDown was fed: at once when the link ends, so the charger knows while
        its owner is still busy (stopping transactions), as a session task's end did."""
        self.ended.add_done_callback(self._ended)
        self.push = pushes(connection)
        """Messages come by callback and frames go out from a loop callback: no task."""
        self.tasks: list[asyncio.Task[None]] = []
        self.wakeup: asyncio.Future[None] | None = None
        """What the writer task awaits when there is nothing to send (pull mode)."""

    # --- MessageSink: what a PushConnection calls ------------------------------------

    def message_received(self, text: str) -> None:
        if self.ended.done():
            return
        try:
            self.station._received(text)
        except Exception as exc:  # a bug must end the session, not the transport
            log.exception("handling a message failed")
            self.end_with(exc)

    def link_closed(self, closed: LinkClosed) -> None:
        self.end_with(closed)

    def end_with(self, outcome: LinkClosed | BaseException) -> None:
        if self.ended.done():
            return
        if isinstance(outcome, LinkClosed):
            self.ended.set_result(outcome)
        else:
            self.ended.set_exception(outcome)

    def _ended(self, _ended: asyncio.Future[LinkClosed]) -> None:
        if not self.must_close:  # a close by the charger: LinkDown once it is done
            self.station._link_down(self)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.end_with(exc)


class Station:
    """One charger: its core, its store rows, its clock, and the link it is given."""

    def __init__(
        self,
        identity: Identity,
        options: StationOptions,
        clock: Clock,
        store: Store | None = None,
        owns_store: bool = False,
    ) -> None:
        self.identity = identity
        self.options = options
        self.clock = clock
        self.store = store
        cp = identity.charge_point_id
        stored = store.load(cp) if store is not None else StoredState()
        timeline_path = options.timeline_path or (
            options.state_dir / "timeline.jsonl" if options.state_dir else None
        )
        self.timeline = Timeline(timeline_path)
        self._owns_store = owns_store
        """The store is this station's alone: it closes it at shutdown."""
        logs = [LogSource("timeline.jsonl", timeline_path, "timeline")] if timeline_path else []
        logs += [LogSource(path.name, path) for path in options.log_files]
        settings = options if logs else dataclasses.replace(options, diagnostics_available=False)
        self.core = ChargerCore(identity, settings, stored, clock.time())
        self._transfers: TransferRunner | None = None
        self._transfer_link: object | None = None
        self._log_sources = logs
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._answer_timer: asyncio.TimerHandle | None = None
        self._waiting: dict[str, asyncio.Future[Any]] = {}
        self._tokens = itertools.count(1)
        self._unsaved: list[act.Persist] = []
        self._session: LinkSession | None = None
        self._change_waiters: list[asyncio.Future[None]] = []
        self._started = False
        self._pending_start = self.core.take_actions()

    @property
    def transfers(self) -> TransferRunner:
        """Firmware and diagnostics transfers, built at their first use (most chargers of
        a fleet never transfer a file, and the runner is ~0.5 KiB)."""
        if self._transfers is None:
            runner = TransferRunner(
                self.feed,
                self.identity.charge_point_id,
                self.options.state_dir,
                self.core.wall,
                self._transfer_secrets,
                self.options.image_space,
            )
            for source in self._log_sources:
                runner.add_source(source)
            if self._transfer_link is not None:
                runner.use_link(self._transfer_link)
            self._transfers = runner
        return self._transfers

    def _transfer_secrets(self) -> list[str]:
        return [self.config.get("AuthorizationKey") or ""]

    # --- what users read --------------------------------------------------------------

    @property
    def connectors(self) -> dict[int, Connector]:
        return self.core.connectors

    @property
    def config(self) -> Configuration:
        return self.core.config

    @property
    def online(self) -> bool:
        """Boot Accepted on a live link."""
        return self.core.accepted

    @property
    def connected(self) -> bool:
        return self._session is not None

    @property
    def session_state(self) -> str:
        return self.core.state.value

    @property
    def queued(self) -> int:
        """Transaction messages not yet answered by the CSMS."""
        return len(self.core.outbox.persisted())

    def authorization_key(self) -> str | None:
        """The Basic auth password for the next connect (links call this at every connect,
        so a key the CSMS sets with ChangeConfiguration is used from the next link on)."""
        return self.config.get("AuthorizationKey") or None

    def set_authorization_key(self, key: str) -> None:
        """The key given on the command line (or by a scenario): kept like one set over OCPP."""
        self._execute(self.core.handle(ev.SetKey("AuthorizationKey", key), self.clock.time()))

    def security_profile(self) -> int:
        """SecurityProfile for the next connect (links read it, like the key)."""
        return self.config.get_int("SecurityProfile")

    def set_security_profile(self, profile: int) -> None:
        """Set at the charger (the command line), or the fallback to the profile that
        last connected (WP A05.FR.08): kept in the store either way."""
        self._execute(
            self.core.handle(ev.SetKey("SecurityProfile", str(profile)), self.clock.time())
        )

    def installed_identity(self) -> TlsIdentity | None:
        """The charger certificate and key a CertificateSigned installed (WP A02), as files
        under the state dir for a link's TLS; None before one, or without a state dir."""
        pair = charger_certificate(self.core.security_objects)
        if pair is None or self.options.state_dir is None:
            return None
        try:
            return write_charger_identity(self.options.state_dir, *pair)
        except (TlsFileError, OSError) as exc:
            log.warning(
                "%s: installed certificate unusable: %s", self.identity.charge_point_id, exc
            )
            return None

    def installed_roots(self) -> Path | None:
        """The CSMS roots InstallCertificate installed (WP M05), as a CA file under the state
        dir; None when there are none, or without a state dir."""
        roots = self.core.installed_roots_pem()
        if not roots or self.options.state_dir is None:
            return None
        try:
            return write_installed_roots(self.options.state_dir, roots)
        except OSError as exc:
            log.warning("%s: installed roots unusable: %s", self.identity.charge_point_id, exc)
            return None

    def ping_interval(self) -> float:
        """WebSocketPingInterval for the next connect (0: no pings); links read it likewise."""
        return float(self.config.get_int("WebSocketPingInterval"))

    # --- feeding the core -------------------------------------------------------------

    def feed(self, event: ev.Event) -> None:
        self.feed_start()
        self._execute(self.core.handle(event, self.clock.time()))

    def feed_start(self) -> None:
        """Carry out what the core did when it was built (a power loss's StopTransactions,
        a resumed transaction's sampling timer) once a loop runs, so timers can be armed."""
        if not self._started:
            self._started = True
            pending, self._pending_start = self._pending_start, []
            self._execute(pending)

    def _execute(self, actions: list[act.Action]) -> None:
        persist = [a for a in actions if isinstance(a, act.Persist)]
        if persist or self._unsaved:
            self._save(persist)  # before any frame of this step can reach the wire
        for action in actions:
            if isinstance(action, act.Persist):
                continue
            if isinstance(action, act.Send):
                self._send(action)
            elif isinstance(action, act.AwaitAnswer):
                self._await_answer(action)
            elif isinstance(action, act.ArmTimer):
                self._arm(action.name, action.at)
            elif isinstance(action, act.CancelTimer):
                handle = self._timers.pop(action.name, None)
                if handle is not None:
                    handle.cancel()
            elif isinstance(action, act.Emit):
                self.timeline.write(action.as_dict())
                session = self._session
                if session is not None and action.kind == "session":
                    session.accepted |= action.detail.get("state") == "Accepted"
            elif isinstance(action, act.Outcome):
                future = self._waiting.pop(action.token, None)
                if future is not None and not future.done():
                    future.set_result(action.value)
            elif isinstance(action, act.CloseLink):
                self._close(action.code, action.reason, action.reset)
            elif isinstance(action, act.StartTransfer):
                self.transfers.start(action)
            elif isinstance(action, act.CancelTransfer):
                self.transfers.cancel(action.transfer_id)
            elif isinstance(action, act.InstallFirmware):
                self.transfers.install(action)
            elif isinstance(action, act.VerifyFirmwareSignature):
                self.transfers.verify_signature(action)
        self.timeline.flush()
        # wake whoever waits for the charger's state to change (scenario steps)
        if self._change_waiters:
            waiters, self._change_waiters = self._change_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    async def changed(self) -> None:
        """Return after the charger's next step (an event it was fed, and what it did)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._change_waiters.append(waiter)
        await waiter

    def _save(self, persist: list[act.Persist]) -> None:
        if self.store is None:
            return
        batch = [*self._unsaved, *persist]
        if self.store.group_commit:  # a fleet: committed this loop tick, before any send
            self.store.defer(self.identity.charge_point_id, batch)
            self._unsaved = []
            return
        try:
            self.store.apply(self.identity.charge_point_id, batch)
        except StoreError as exc:
            if not self._unsaved:
                log.error("%s; the charger goes on and keeps its state in memory", exc)
                self.timeline.write({"time": self.core.timestamp(), "kind": "store_error"})
            self._unsaved = batch
            return
        if self._unsaved:
            log.warning("state saved again (%d changes kept in memory meanwhile)", len(batch))
        self._unsaved = []

    def _arm(self, name: str, at: float) -> None:
        old = self._timers.pop(name, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        self._timers[name] = loop.call_at(self.clock.source_time(at), self.feed, _timer_event(name))

    def _await_answer(self, action: act.AwaitAnswer) -> None:
        if self._answer_timer is not None:
            self._answer_timer.cancel()
        loop = asyncio.get_running_loop()
        # Link time, not charger time: a round trip does not get faster with the clock.
        self._answer_timer = loop.call_later(
            action.seconds, self.feed, ev.AnswerTimedOut(action.unique_id)
        )

    def _send(self, action: act.Send) -> None:
        session = self._session
        if session is None:
            return  # the core learns of the drop from LinkDown
        self._queue(session, (action.frame, action.unique_id))

    def _close(self, code: int, reason: str, reset: bool) -> None:
        session = self._session
        if session is not None and session.closing is None:
            session.closing = (code, reason)
            session.reset = reset
            self._queue(session, None)

    def _queue(self, session: LinkSession, item: tuple[str, str] | None) -> None:
        session.pending.append(item)
        if not session.scheduled:
            session.scheduled = True
            if session.push:  # once per tick, after every charger of this tick persisted
                asyncio.get_running_loop().call_soon(self._write_pending, session)
            elif session.wakeup is not None and not session.wakeup.done():
                session.wakeup.set_result(None)

    # --- a connected session ----------------------------------------------------------

    async def run_session(
        self, connection: Connection, sim: dict[str, str] | None = None
    ) -> SessionEnd:
        """Run one WebSocket session until the link drops or the charger ends it."""
        return await self.end_session(self.open_session(connection, sim))

    def open_session(
        self, connection: Connection, sim: dict[str, str] | None = None
    ) -> LinkSession:
        """Start a session on ``connection`` (LinkUp fed); :meth:`end_session` ends it."""
        sim = sim or {}
        session = LinkSession(self, connection)
        self._session = session
        if not session.push:  # send/recv only: a reader and a writer task
            for work, name in (
                (self._reader(session), "ocpp-recv"),
                (self._writer(session), "ocpp-send"),
            ):
                task = asyncio.create_task(work, name=name)
                task.add_done_callback(session._task_done)
                session.tasks.append(task)
        self.feed(ev.LinkUp(sim.get("iccid"), sim.get("imsi")))
        if session.push:  # what came with the handshake first, then the rest
            cast(PushConnection, connection).deliver_to(session)
        return session

    async def end_session(self, session: LinkSession) -> SessionEnd:
        """Wait for ``session`` to end (a dropped link, a CloseLink); LinkDown fed."""
        try:
            closed = await session.ended
            if session.must_close:
                code, why = session.closing or (1000, "")
                await session.connection.close(code, why)
        finally:
            for task in session.tasks:
                task.cancel()
            if session.tasks:
                await asyncio.gather(*session.tasks, return_exceptions=True)
            self._link_down(session)
        return SessionEnd(str(closed), session.closing is not None, session.accepted, session.reset)

    def _link_down(self, session: LinkSession) -> None:
        if session.down:
            return
        session.down = True
        if self._session is session:
            self._session = None
        if self._answer_timer is not None:
            self._answer_timer.cancel()
            self._answer_timer = None
        ended = session.ended
        done = ended.done() and not ended.cancelled() and ended.exception() is None
        self.feed(ev.LinkDown(str(ended.result()) if done else "closed"))

    def _received(self, text: str) -> None:
        if ocpp_log.isEnabledFor(logging.INFO):  # masking costs time per message
            ocpp_log.info("%s <- %s", self.identity.charge_point_id, mask_text(text))
        self.feed(ev.FrameReceived(text))

    def _write_pending(self, session: LinkSession) -> None:
        """Hand the session's frames to its PushConnection (a loop callback)."""
        session.scheduled = False
        if session.ended.done():
            return
        if self.store is not None and self.store.has_deferred:
            with contextlib.suppress(StoreError):  # the store logs it; state in memory
                self.store.flush()  # group commit: persisted before this send
        connection = cast(PushConnection, session.connection)
        pending = session.pending
        while pending:
            item = pending.pop(0)
            if item is None:
                session.must_close = True
                code, reason = session.closing or (1000, "")
                session.end_with(LinkClosed(reason, code))
                return
            frame, unique_id = item
            if ocpp_log.isEnabledFor(logging.INFO):
                ocpp_log.info("%s -> %s", self.identity.charge_point_id, mask_text(frame))
            try:
                connection.send_now(frame)
            except MessageTooLarge as exc:
                log.error("message %s too large for the link: %s", unique_id, exc)
                self.feed(ev.FrameTooLarge(unique_id, str(exc)))
            except LinkClosed as exc:
                session.end_with(exc)
                return
            except Exception as exc:  # a bug must end the session, not the loop callback
                log.exception("sending a message failed")
                session.end_with(exc)
                return

    async def _reader(self, session: LinkSession) -> None:
        while True:
            text = await session.connection.recv()
            if session.ended.done():
                return  # the writer ended it (a close): LinkDown may be in already
            self._received(text)

    async def _writer(self, session: LinkSession) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not session.pending:
                session.scheduled = False
                session.wakeup = loop.create_future()
                await session.wakeup
                continue
            item = session.pending.pop(0)
            if item is None:
                code, reason = session.closing or (1000, "")
                await session.connection.close(code, reason)
                raise LinkClosed(reason, code)
            frame, unique_id = item
            if self.store is not None and self.store.has_deferred:
                with contextlib.suppress(StoreError):  # the store logs it; state in memory
                    self.store.flush()  # group commit: persisted before this send
            if ocpp_log.isEnabledFor(logging.INFO):
                ocpp_log.info("%s -> %s", self.identity.charge_point_id, mask_text(frame))
            try:
                await session.connection.send(frame)
            except MessageTooLarge as exc:
                log.error("message %s too large for the link: %s", unique_id, exc)
                self.feed(ev.FrameTooLarge(unique_id, str(exc)))

    # --- what a person (or a scenario) does at the charger ----------------------------

    def plug_in(self, connector_id: int) -> None:
        self._check_connector(connector_id)
        self.feed(ev.PlugIn(connector_id))

    def unplug(self, connector_id: int) -> None:
        self._check_connector(connector_id)
        self.feed(ev.Unplug(connector_id))

    def fault(self, connector_id: int, error_code: str = "OtherError") -> None:
        self._check_connector(connector_id, zero=True)
        self.feed(ev.Fault(connector_id, error_code))

    def clear_fault(self, connector_id: int) -> None:
        self._check_connector(connector_id, zero=True)
        self.feed(ev.ClearFault(connector_id))

    def suspend(
        self, connector_id: int, suspended: bool = True, power_w: float | None = None
    ) -> None:
        self._check_connector(connector_id)
        self.feed(ev.EvSuspend(connector_id, suspended, power_w))

    def set_ev(
        self,
        connector_id: int,
        capacity_wh: float | None = None,
        soc: float | None = None,
        max_current_a: float | None = None,
        phases: int | None = None,
        power_w: float | None = None,
        paused: bool | None = None,
    ) -> None:
        """Change the EV at the connector (see ``chargepoint.core.events.SetEv``)."""
        self._check_connector(connector_id)
        self.feed(ev.SetEv(connector_id, capacity_wh, soc, max_current_a, phases, power_w, paused))

    def stop_transaction(self, connector_id: int, reason: str = "Local") -> None:
        self._check_connector(connector_id)
        self.feed(ev.StopCharging(connector_id, reason))

    def start_transaction(self, connector_id: int, id_tag: str) -> None:
        self._check_connector(connector_id)
        self.feed(ev.StartCharging(connector_id, id_tag))

    async def present_id_tag(self, connector_id: int, id_tag: str) -> str:
        """A card at the reader; the authorization's status (Accepted, Invalid, ...)."""
        self._check_connector(connector_id)
        token, future = self._new_waiter()
        self.feed(ev.PresentIdTag(connector_id, id_tag, token))
        return str(await future)

    def present_card(self, connector_id: int, id_tag: str) -> None:
        """A card at the reader, not waiting for the decision (the reader does not)."""
        self._check_connector(connector_id)
        self.feed(ev.PresentIdTag(connector_id, id_tag))

    async def request(
        self, action: str, payload: dict[str, Any], unique_id: str | None = None
    ) -> dict[str, Any]:
        """Send any CALL now; its CALLRESULT payload, or :class:`CallFailed` / :class:`Offline`."""
        token, future = self._new_waiter()
        self.feed(ev.UserCall(action, payload, token, unique_id))
        value = await future
        if isinstance(value, act.OutcomeError):
            if value.code == "link down":
                raise Offline(f"{action}: not connected")
            raise CallFailed(value.code, value.description)
        return dict(value)

    def _new_waiter(self) -> tuple[str, asyncio.Future[Any]]:
        token = f"w{next(self._tokens)}"
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[token] = future
        return token, future

    def _check_connector(self, connector_id: int, zero: bool = False) -> None:
        if connector_id not in self.connectors or (connector_id == 0 and not zero):
            raise ValueError(
                f"no connector {connector_id} (this charger has {self.options.connectors})"
            )

    def use_link(self, link: object) -> None:
        """Transfer files (firmware, diagnostics) over this link, as real firmware does."""
        self._transfer_link = link
        if self._transfers is not None:
            self._transfers.use_link(link)

    def add_diagnostics_log(self, path: Path, secrets: tuple[str, ...] = ()) -> None:
        """One more log for GetDiagnostics (the AT trace), with secrets of its own to mask."""
        self.transfers.add_source(LogSource(path.name, path))
        self.transfers.known_secrets.extend(s for s in secrets if s)
        self.core.settings.diagnostics_available = self.options.diagnostics_available

    async def shutdown(self) -> None:
        if self._transfers is not None:
            await self._transfers.aclose()
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        if self._answer_timer is not None:
            self._answer_timer.cancel()
        for future in self._waiting.values():
            future.cancel()
        self._waiting.clear()
        with contextlib.suppress(Exception):
            self.timeline.close()
        if self.store is not None and self._owns_store:
            if self._unsaved:
                log.error("%d changes could not be saved in the state dir", len(self._unsaved))
            self.store.close()
