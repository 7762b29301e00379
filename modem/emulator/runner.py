"""Start and stop an emulator: in-process for tests, or from the CLI."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, TypedDict, Unpack

from modem.emulator.config import EmulatorConfig, Timing
from modem.emulator.control import ControlServer
from modem.emulator.dialect import Dialect
from modem.emulator.ec200u import Ec200u
from modem.emulator.engine import DialectFactory, Engine
from modem.emulator.espat import EspAt
from modem.emulator.faults import Faults
from modem.emulator.link import SerialLink, open_link

# Each dialect registers its factory here.
DIALECTS: dict[str, DialectFactory] = {"ec200u": Ec200u, "esp-at": EspAt}


class Emulator:
    """One running emulated modem.

    ``port_url`` is what the host opens with pyserial (a pty path or a
    ``socket://`` URL); ``faults`` injects faults; ``dialect`` exposes the
    modelled state (e.g. ``emu.dialect.state.sockets`` for the EC200U).
    """

    def __init__(
        self, config: EmulatorConfig, listen: str | None = None, control: str | None = None
    ) -> None:
        if config.dialect not in DIALECTS:
            raise ValueError(f"unknown dialect {config.dialect!r}; known: {', '.join(DIALECTS)}")
        self.config = config
        self._listen = listen
        self._control_url = control
        self._link: SerialLink | None = None
        self._engine: Engine | None = None
        self._control: ControlServer | None = None

    async def start(self) -> None:
        self._link = await open_link(self._listen)
        try:
            self._engine = Engine(self._link, self.config, DIALECTS[self.config.dialect])
            self._engine.start()
            if self._control_url is not None:
                self._control = ControlServer(Faults(self._engine), self._control_url)
                await self._control.start()
        except BaseException:
            await self.aclose()
            raise

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("emulator not started")
        return self._engine

    @property
    def port_url(self) -> str:
        if self._link is None:
            raise RuntimeError("emulator not started")
        return self._link.url

    @property
    def control_url(self) -> str | None:
        return None if self._control is None else self._control.url

    @property
    def faults(self) -> Faults:
        return Faults(self.engine)

    @property
    def dialect(self) -> Dialect:
        return self.engine.dialect

    async def aclose(self) -> None:
        if self._control is not None:
            await self._control.aclose()
            self._control = None
        if self._engine is not None:
            await self._engine.aclose()
            self._engine = None
        if self._link is not None:
            await self._link.aclose()


class Options(TypedDict, total=False):
    """Keyword options of :func:`run_emulator` (defaults: :class:`EmulatorConfig`)."""

    baud: int | None
    latency_ms: int
    profile: str
    good_apns: Sequence[str]
    prompt: bytes | None
    timing: Timing
    wifi_ssid: str | None
    wifi_password: str | None
    wifi_failure: int | None
    ws_commands: bool
    ws_auto_reconnect: bool
    ws_piece_seed: int | None


def make_config(dialect: str = "ec200u", **options: Unpack[Options]) -> EmulatorConfig:
    fields: dict[str, Any] = {**options, "good_apns": tuple(options.get("good_apns", ()))}
    return EmulatorConfig(dialect=dialect, **fields)


@contextlib.asynccontextmanager
async def run_emulator(
    dialect: str = "ec200u",
    *,
    listen: str | None = None,
    control: str | None = None,
    **options: Unpack[Options],
) -> AsyncIterator[Emulator]:
    """``async with run_emulator("ec200u", baud=115200) as emu: serial_for_url(emu.port_url)``.

    ``listen=None`` creates a pty; ``"socket://127.0.0.1:0"`` a TCP port
    (``emu.port_url`` tells which).  ``options``: see :class:`Options`.
    """
    emu = Emulator(make_config(dialect, **options), listen=listen, control=control)
    await emu.start()
    try:
        yield emu
    finally:
        await emu.aclose()


class ThreadedEmulator:
    """An emulator on its own event loop thread, for synchronous (plain pyserial) tests.

    ``call(fn, *args)`` runs ``fn`` on the emulator's loop and returns its
    result; use it for faults: ``emu.call(lambda: emu.faults.drop_tcp(0))``.
    """

    def __init__(self, emulator: Emulator, loop: asyncio.AbstractEventLoop) -> None:
        self.emulator = emulator
        self._loop = loop

    @property
    def port_url(self) -> str:
        return self.emulator.port_url

    @property
    def control_url(self) -> str | None:
        return self.emulator.control_url

    @property
    def faults(self) -> Faults:
        return self.emulator.faults

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)


@contextlib.contextmanager
def run_emulator_in_thread(
    dialect: str = "ec200u",
    *,
    listen: str | None = None,
    control: str | None = None,
    **options: Unpack[Options],
) -> Iterator[ThreadedEmulator]:
    """Like :func:`run_emulator`, for code that is not async."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="modem-emulator", daemon=True)
    thread.start()
    emu = Emulator(make_config(dialect, **options), listen=listen, control=control)
    try:
        asyncio.run_coroutine_threadsafe(emu.start(), loop).result(timeout=10)
        yield ThreadedEmulator(emu, loop)
    finally:
        with contextlib.suppress(concurrent.futures.TimeoutError, RuntimeError):
            asyncio.run_coroutine_threadsafe(emu.aclose(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
