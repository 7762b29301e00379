"""From a scenario's ``link:`` to a running link: the direct WebSocket, or a modem.

Link creation goes through :func:`link_spec` alone, so a new modem plugs in
by adding one branch there (and its dialect to the emulator).  A link this
build cannot make raises :class:`LinkUnavailable` *before* anything starts:
the CLI exits 2 with the reason, the pytest plugin skips the item.

``port: emulator`` starts the bundled modem emulator in-process for the run;
its fault injection is what ``link_fault`` steps use (:class:`LinkFaults`).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chargepoint.assembly import LinkSpec

from .config import (
    DirectLinkConfig,
    Ec200uLinkConfig,
    EspAtLinkConfig,
    LinkConfig,
    expand_env,
    uses_emulator,
)
from .tap import Tap
from .timebase import DIRECT_ALLOWANCE, MODEM_ALLOWANCE

if TYPE_CHECKING:
    from chargepoint.csms.server import LocalCsms
    from modem.emulator import Emulator


class LinkUnavailable(Exception):
    """This build (or this machine) cannot make the link a scenario asks for."""


def _emulator_dialects() -> tuple[str, ...]:
    try:
        from modem.emulator import DIALECTS
    except ImportError:
        return ()
    return tuple(DIALECTS)


_TRANSPORTS = {"ec200u": "chargepoint.transport.ec200u", "esp-at": "chargepoint.transport.espat"}
"""The module each modem link lives in; a build without it cannot run that link."""

EMULATOR_WIFI = ("cpsim-emulator", "")
"""SSID and password given to an emulated ESP-AT module (it joins any access point)."""


def unavailable_reason(config: LinkConfig) -> str | None:
    """Why ``config`` cannot run here, or None when it can."""
    module = _TRANSPORTS.get(config.type)
    if module is not None:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            return f"{config.type}: the link ({module}) cannot be imported: {exc}"
    if uses_emulator(config) and config.type not in _emulator_dialects():
        return f"{config.type}: the modem emulator has no {config.type} dialect"
    return None


def allowance(config: LinkConfig) -> float:
    """Real seconds a waiting step gets at least over this link (see :mod:`.timebase`)."""
    return DIRECT_ALLOWANCE if isinstance(config, DirectLinkConfig) else MODEM_ALLOWANCE


def link_spec(
    config: LinkConfig,
    url: str,
    emulator: Emulator | None = None,
    environ: Mapping[str, str] | None = None,
) -> LinkSpec:
    """What :func:`chargepoint.assembly.build_link` needs for ``config``; a modem on
    ``port: emulator`` needs ``emulator``.

    Raises LinkUnavailable (this build cannot make it).
    """
    reason = unavailable_reason(config)
    if reason is not None:
        raise LinkUnavailable(reason)
    if isinstance(config, DirectLinkConfig):
        return LinkSpec("direct", url)
    port = config.port
    if port == "emulator":
        if emulator is None:
            raise LinkUnavailable(f"{config.type} on port emulator needs the emulator running")
        port = emulator.port_url
    env = environ or {}
    if isinstance(config, Ec200uLinkConfig):
        from chargepoint.transport.ec200u import ModemSettings

        apn = config.apn
        settings = ModemSettings(
            port,
            config.baudrate,
            apn.name,
            apn.user,
            expand_env(apn.password, env),
            apn_auth=apn.auth,
            context=config.context,
        )
        return LinkSpec("ec200u", url, modem=settings)
    from chargepoint.transport.espat import EspAtSettings

    ssid, password = (
        (config.wifi.ssid, expand_env(config.wifi.password, env)) if config.wifi else EMULATOR_WIFI
    )
    return LinkSpec("esp-at", url, modem=EspAtSettings(port, ssid, password, baud=config.baudrate))


@contextlib.asynccontextmanager
async def emulator_for(config: LinkConfig, virtual: bool = False) -> AsyncIterator[Emulator | None]:
    """The bundled modem emulator when the link uses it, for the duration of a run.

    Under virtual time it listens on loopback TCP instead of a pty: a pty hands bytes
    over in the kernel's own time, so the loop could not tell "idle" from "in transit";
    loopback TCP is readable at once (see chargepoint.virtualtime)."""
    if not uses_emulator(config):
        yield None
        return
    assert not isinstance(config, DirectLinkConfig)
    from modem.emulator import run_emulator

    listen = "socket://127.0.0.1:0" if virtual else None
    async with run_emulator(config.type, listen=listen, baud=config.baudrate) as emu:
        yield emu


@dataclass
class LinkFaults:
    """``link_fault`` steps: the emulator breaks a modem link; a direct link is cut at the CSMS."""

    config: LinkConfig
    tap: Tap
    emulator: Emulator | None = None
    csms: LocalCsms | None = None

    async def inject(self, kind: str) -> None:
        """Break the link now; raises LinkUnavailable when this setup cannot do ``kind``."""
        if self.emulator is not None:
            self._modem_fault(kind, self.emulator)
        elif kind != "drop_tcp":
            raise LinkUnavailable(f"{kind} needs the modem emulator")
        elif self.csms is not None:
            if not self.csms.drop(self.tap.charge_point):
                raise LinkUnavailable("drop_tcp: the charger is not connected to the local CSMS")
        elif self.tap.current is not None:
            # A remote CSMS: the best a direct link can do is close from the charger's side.
            await self.tap.current.close(1001, "link fault: drop_tcp")
        else:
            raise LinkUnavailable("drop_tcp: the charger is not connected")

    def _modem_fault(self, kind: str, emulator: Emulator) -> None:
        from modem.emulator import FaultError

        faults = emulator.faults
        try:
            if kind == "drop_tcp":
                faults.drop_tcp(None)
            elif kind == "pdp_deactivate" and isinstance(self.config, Ec200uLinkConfig):
                faults.pdp_deactivate(self.config.context)
            elif kind == "wifi_disconnect" and isinstance(self.config, EspAtLinkConfig):
                faults.wifi_drop()
            elif kind == "modem_reboot":
                faults.reboot()
            else:
                raise LinkUnavailable(f"{kind}: the {self.config.type} emulator cannot do it")
        except FaultError as exc:
            raise LinkUnavailable(f"{kind}: {exc}") from exc
