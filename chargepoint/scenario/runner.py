"""Run one scenario: a local CSMS (or a remote one), a link, a charger, then the steps.

The charger is the real station (:class:`~chargepoint.station.Station`, built by
:func:`~chargepoint.assembly.assemble`, run by
:func:`~chargepoint.station.runner.run_station`), so it boots,
heartbeats, reconnects and answers every CSMS call by its own behaviour; the
steps only act on it and check what the CSMS received.

``run_scenario`` raises :class:`RunError` when the run cannot start (a link
this build cannot make, an unset ``${ENV}``, a ``--csms``/``--link`` override
that conflicts with the steps); a run that starts always ends in a
:class:`~.report.ScenarioResult`, within the scenario's ``time_limit``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from chargepoint.aio import real_timeout
from chargepoint.assembly import ChargerSpec, build_link, build_station
from chargepoint.clocks import Clock
from chargepoint.core.profiles import parse_profiles
from chargepoint.core.settings import Identity
from chargepoint.csms.framelog import FrameLog
from chargepoint.csms.handlers import CsmsPolicy
from chargepoint.csms.server import Credentials, LocalCsms
from chargepoint.logmask import SECRET_KEYS, Scrubber, mask_data
from chargepoint.station import Station, StationOptions
from chargepoint.station.runner import Backoff, run_station
from chargepoint.store import StoreError
from chargepoint.timefmt import ocpp_time
from chargepoint.virtualtime import VirtualTimeLoop, run_virtual

from .config import (
    Csms,
    DirectLinkConfig,
    Ec200uLinkConfig,
    EspAtLinkConfig,
    MissingEnv,
    expand_env,
    uses_emulator,
)
from .errors import Located
from .execute import Context, Executor, ScenarioSkipped, StepFailed, answer_rule
from .linkfactory import (
    LinkConfig,
    LinkFaults,
    LinkUnavailable,
    allowance,
    emulator_for,
    link_spec,
    unavailable_reason,
)
from .messages import ExpectNever, ExpectReceived, ExpectUnordered
from .model import Scenario
from .observe import Observer
from .report import ScenarioResult, StepResult, duration, step_text
from .security import RunSecurity, run_security
from .steps import StepBase
from .tap import Tap, TappedLink
from .timebase import TimeBase, is_virtual, scale_of, timing_warnings

log = logging.getLogger("cpsim.scenario")

LINK_TYPES = ("direct", "ec200u", "esp-at")
STOP_TIMEOUT = 10.0
"""Real seconds the charger gets to close its link when the scenario ends."""


class RunError(Exception):
    """The run could not start; ``unavailable`` when this build or machine lacks the link."""

    def __init__(self, message: str, unavailable: bool = False) -> None:
        super().__init__(message)
        self.unavailable = unavailable


@dataclass
class RunOptions:
    csms: str | None = None
    """``local`` or a ws:// URL instead of the file's ``csms``."""
    link: str | None = None
    """``direct``, ``ec200u`` or ``esp-at`` instead of the file's ``link``."""
    time_scale: float | str | None = None
    """``virtual`` or a speed-up instead of the file's ``charger.time_scale``."""
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    on_step: Callable[[StepResult], None] | None = None
    """Called as each step finishes (the CLI prints it)."""


@dataclass(frozen=True)
class Plan:
    """What a run will use once the command-line overrides are applied."""

    csms: Csms
    link: LinkConfig
    scale: float
    virtual: bool = False
    """True virtual time: the run jumps over idle time (needs the local CSMS)."""


def plan(scenario: Scenario, options: RunOptions) -> Plan:
    """Apply the overrides and check the scenario can run with them; raise RunError if not."""
    link: LinkConfig = scenario.link
    if options.link is not None and options.link != link.type:
        link = _default_link(options.link)
    csms = scenario.csms
    if options.csms is not None and options.csms != csms.url:
        if options.csms != "local" and csms.answers:
            raise RunError(
                f"{scenario.file}: csms.answers steer the local CSMS, so this "
                f"scenario cannot run against {options.csms}"
            )
        csms = Csms(url=options.csms)
    conflicts = scenario.conflicts(csms, link)
    if conflicts:
        # A link fault this link cannot have makes the scenario not apply to it (pytest skips);
        # csms steps against a remote CSMS are a mistake in the command line.
        only_faults = all("link_fault" in c.path for c in conflicts)
        raise RunError(
            "\n".join(_where(scenario, c) + c.message for c in conflicts), unavailable=only_faults
        )
    reason = unavailable_reason(link)
    if reason is not None:
        raise RunError(reason, unavailable=True)
    time_scale = options.time_scale or scenario.charger.time_scale
    virtual = is_virtual(time_scale)
    if virtual and not csms.is_local:
        raise RunError(
            f"{scenario.file}: time_scale: virtual needs the local CSMS (a remote CSMS "
            "lives in real time); use a number, e.g. time_scale: 60"
        )
    if virtual and not isinstance(link, DirectLinkConfig) and not uses_emulator(link):
        raise RunError(
            f"{scenario.file}: time_scale: virtual needs everything in this process, the "
            f"local CSMS and a modem on port: emulator (a modem on {link.port} lives in real "
            "time); use a number, e.g. time_scale: 60"
        )
    return Plan(csms, link, scale_of(time_scale), virtual)


def _default_link(link_type: str) -> LinkConfig:
    """A link of this type with its defaults (a modem on the bundled emulator)."""
    if link_type == "ec200u":
        return Ec200uLinkConfig(type="ec200u")
    if link_type == "esp-at":
        return EspAtLinkConfig(type="esp-at")
    if link_type == "direct":
        return DirectLinkConfig()
    raise RunError(f"unknown link {link_type!r} (expected {', '.join(LINK_TYPES)})")


def _where(scenario: Scenario, found: Located) -> str:
    index = found.path[1] if len(found.path) > 1 and found.path[0] == "steps" else None
    step = scenario.steps[index] if isinstance(index, int) else None
    if step is not None and step.where is not None:
        return f"{step.where}: "
    return f"{scenario.file}: " if scenario.file else ""


def new_result(scenario: Scenario, planned: Plan | None) -> ScenarioResult:
    return ScenarioResult(
        file=scenario.file or "<scenario>",
        title=scenario.title,
        status="passed",
        link=planned.link.type if planned else scenario.link.type,
        csms=(planned.csms if planned else scenario.csms).url,
        time_scale=_shown_scale(planned, scenario),
    )


def _shown_scale(planned: Plan | None, scenario: Scenario) -> float | str:
    if planned is not None:
        return "virtual" if planned.virtual else planned.scale
    written = scenario.charger.time_scale
    return written if is_virtual(written) else scale_of(written)


def error_result(scenario: Scenario, exc: RunError, planned: Plan | None = None) -> ScenarioResult:
    """The result of a run that could not start: ``skipped`` when this setup lacks what it
    needs (``exc.unavailable``: a link, a link fault), else ``error``."""
    result = new_result(scenario, planned)
    result.status = "skipped" if exc.unavailable else "error"
    result.reason = str(exc)
    return result


async def run_scenario(scenario: Scenario, options: RunOptions | None = None) -> ScenarioResult:
    """Run ``scenario``; raises RunError when it cannot start."""
    options = options or RunOptions()
    planned = plan(scenario, options)
    return await run_planned(scenario, planned, options)


def run_blocking(scenario: Scenario, planned: Plan, options: RunOptions) -> ScenarioResult:
    """Run on an event loop of its own: a virtual-time loop when the plan says so."""
    if planned.virtual:
        return run_virtual(run_planned(scenario, planned, options))
    return asyncio.run(run_planned(scenario, planned, options))


async def run_planned(scenario: Scenario, planned: Plan, options: RunOptions) -> ScenarioResult:
    if planned.virtual and not isinstance(asyncio.get_running_loop(), VirtualTimeLoop):
        # Virtual time is a property of the whole loop: give the run a loop of its own.
        return await asyncio.to_thread(run_blocking, scenario, planned, options)
    result = new_result(scenario, planned)
    started = time.monotonic()
    try:
        await _run(scenario, planned, options, result)
    finally:
        result.real_seconds = time.monotonic() - started
    return result


# --- setting up -----------------------------------------------------------------------------


def _expand(value: str | None, what: str, environ: Mapping[str, str]) -> str | None:
    if value is None:
        return None
    try:
        return expand_env(value, environ)
    except MissingEnv as exc:
        raise RunError(f"{what}: {exc}") from None


def _station(
    scenario: Scenario,
    state_dir: Path,
    clock: Clock,
    password: str | None,
    tls_files: frozenset[str] = frozenset(),
) -> Station:
    charger = scenario.charger
    extra = {"firmware": charger.firmware} if charger.firmware else {}
    identity = Identity(charger.id, charger.vendor, charger.model, charger.serial, **extra)
    options = StationOptions(
        connectors=charger.connectors,
        state_dir=state_dir,
        config_overrides=dict(charger.configuration),
        feature_profiles=parse_profiles(charger.feature_profiles),
        tls_files=tls_files,  # what a SecurityProfile raise finds installed (WP A05)
    )
    try:
        return build_station(ChargerSpec(identity, options, clock, password or None))
    except (KeyError, ValueError) as exc:
        raise RunError(f"charger.configuration: the station cannot take it: {exc}") from None
    except StoreError as exc:
        raise RunError(str(exc)) from None


def _local_csms(
    config: Csms,
    clock: Clock,
    cp_id: str,
    password: str | None,
    security: RunSecurity | None = None,
) -> LocalCsms:
    """The scenario's own CSMS: on a free port, on the scenario's clock, answering as told;
    on wss:// (and ws://) as ``csms.tls`` or the charger's profile 2 or 3 asks, signing
    CSRs with the run's CA when ``csms.signing_ca`` says so."""
    security = security or RunSecurity()
    policy = CsmsPolicy(clock=clock.now, signing_ca=security.signing_ca)
    for answer in config.answers:
        policy.set_answer(answer_rule(answer, cp_id))
    credentials = Credentials(shared=password) if password else None
    return LocalCsms(port=0, credentials=credentials, policy=policy, **security.csms_options)


async def _run(
    scenario: Scenario, planned: Plan, options: RunOptions, result: ScenarioResult
) -> None:
    env = options.environ
    password = _expand(scenario.charger.password, "charger.password", env)
    url = _expand(planned.csms.url, "csms.url", env) or "local"
    # One clock for the charger, the local CSMS and the steps: the loop's time, sped up
    # (a number) or jumping over idle time (virtual: the loop itself is virtual).
    loop = asyncio.get_running_loop()
    clock = Clock(
        1.0 if planned.virtual else planned.scale,
        scenario.charger.start_time,
        source=loop.time,
        kind="virtual" if planned.virtual else None,
    )
    cp_id = scenario.charger.id
    async with contextlib.AsyncExitStack() as stack:
        csms: LocalCsms | None = None
        try:
            security = run_security(scenario.charger, planned.csms, stack)
        except ValueError as exc:
            raise RunError(f"charger.security_profile: {exc}") from None
        if planned.csms.is_local:
            csms = await stack.enter_async_context(
                _local_csms(planned.csms, clock, cp_id, password, security)
            )
            url = csms.url
        try:
            emulator = await stack.enter_async_context(emulator_for(planned.link, planned.virtual))
        except (OSError, ValueError) as exc:
            raise RunError(f"the {planned.link.type} emulator could not start: {exc}") from None
        state_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cpsim-scn-")))
        station = _station(scenario, state_dir, clock, password, security.tls_files)
        station.timeline.listen(lambda event: result.timeline.append(mask_data(event)))
        tap = Tap(cp_id, clock)
        try:
            # the link reads the key and the ping interval at every connect
            spec = link_spec(planned.link, url, emulator, env)
            if security.settings is not None:
                spec = dataclasses.replace(spec, tls=security.settings)
            inner = build_link(spec, station)
        except LinkUnavailable as exc:
            raise RunError(str(exc), unavailable=True) from None
        except ValueError as exc:
            raise RunError(f"link: {exc}") from None
        observer = Observer(csms.frames if csms else tap.log, cp_id, clock, tap)
        scrub = _scrubber(scenario, password, {observer.log, tap.log})
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_station(station, TappedLink(inner, tap), stop, Backoff(0.1, 1.0)),
            name=f"station-{cp_id}",
        )
        stack.push_async_callback(_stop, stop, task)
        ctx = Context(
            scenario,
            station,
            TimeBase(
                1.0 if planned.virtual else planned.scale,
                allowance(planned.link),
                virtual=planned.virtual,
            ),
            observer,
            tap,
            LinkFaults(planned.link, tap, emulator, csms),
            csms,
            scrub=scrub,
            security=security,
        )
        await _steps(ctx, clock, options, result)
        result.warnings = timing_warnings(ctx.time, tap.round_trip(), shortest_check(scenario))
        # what the report files keep: no secret (an AuthorizationKey set over OCPP) in them
        result.frames = [
            {
                **mask_data(f.as_dict()),
                "charger_time": _iso(observer.charger_times.get(f.seq)),
                "at_charger": ocpp_time(observer.at_charger(f)),
            }
            for f in observer.after(0)
        ]


def _scrubber(scenario: Scenario, password: str | None, logs: set[FrameLog]) -> Scrubber:
    """What keeps the run's secrets out of its step lines: the values the scenario sets or
    matches, its password, and, as the frames come, any AuthorizationKey set over the link."""
    scrub = Scrubber()
    scrub.add(password)
    for key, value in scenario.charger.configuration.items():
        if key.lower() in SECRET_KEYS:
            scrub.add(str(value))
    for step in scenario.steps:
        scrub.learn(step.spec.model_dump(mode="json"))
    for frames in logs:
        frames.listeners.append(lambda frame: scrub.learn(frame.message))
    return scrub


def shortest_check(scenario: Scenario) -> tuple[float, str] | None:
    """The shortest ``within``/``during`` the scenario checks (charger seconds), and where."""
    found: list[tuple[float, str]] = []
    for index, step in enumerate(scenario.steps):
        spec = step.spec
        limit = None
        if isinstance(spec, ExpectReceived | ExpectUnordered):
            limit = spec.within
        elif isinstance(spec, ExpectNever):
            limit = spec.during
        if limit:
            found.append((limit, str(step.where) if step.where else f"step {index + 1}"))
    return min(found, key=lambda f: f[0]) if found else None


def _iso(when: datetime | None) -> str | None:
    return ocpp_time(when) if when else None


async def _stop(stop: asyncio.Event, task: asyncio.Task[object]) -> None:
    stop.set()
    try:
        async with asyncio.timeout(STOP_TIMEOUT):
            await asyncio.shield(task)
    except TimeoutError:
        log.warning("the charger did not stop within %ss; cancelled", STOP_TIMEOUT)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    except Exception:  # the run's verdict is already made; a crash on the way out is logged
        log.exception("the charger failed while stopping")


# --- the steps ------------------------------------------------------------------------------


async def _steps(ctx: Context, clock: Clock, options: RunOptions, result: ScenarioResult) -> None:
    executor = Executor(ctx)
    began = clock.now()
    running: StepResult | None = None
    marks = (time.monotonic(), began)
    try:
        async with real_timeout(ctx.scenario.time_limit):
            for index, step in enumerate(ctx.scenario.steps):
                where = f"{step.where.file}:{step.where.line}" if step.where else None
                running = StepResult(index, step.kind, step_text(step), where, "passed", 0, 0)
                marks = (time.monotonic(), clock.now())
                ctx.began, ctx.sent_after = marks[1], None
                await _one(executor, index, step, running)
                running.sent_after = ctx.sent_after
                _finish(running, marks, clock, result, options, ctx.scrub)
                if running.status != "passed":
                    break
                running = None
    except TimeoutError:
        if running is None:
            raise
        running.status = "failed"
        running.details = [
            f"the scenario's time_limit ({duration(ctx.scenario.time_limit)} "
            "real time) ran out during this step"
        ]
        _finish(running, marks, clock, result, options, ctx.scrub)
    if all(s.status == "passed" for s in result.steps):
        for index, lines in executor.check_watches().items():
            broken = result.steps[index]
            broken.status = "failed"
            broken.details = [ctx.scrub.text(line) for line in lines]
            broken.details.append("(checked when the scenario ended)")
            if options.on_step:
                options.on_step(broken)
    result.charger_seconds = (clock.now() - began).total_seconds()
    _verdict(ctx, result)


async def _one(executor: Executor, index: int, step: StepBase, outcome: StepResult) -> None:
    try:
        await executor.run(index, step)
    except StepFailed as exc:
        outcome.status, outcome.details = "failed", exc.lines
    except ScenarioSkipped as exc:
        outcome.status, outcome.details = "skipped", [str(exc)]
    except Exception as exc:  # a bug in the runner or the station: the step fails, the run ends
        log.exception("step %d (%s) crashed", index + 1, step.kind)
        outcome.status = "failed"
        outcome.details = [f"internal error: {type(exc).__name__}: {exc}"]


def _finish(
    outcome: StepResult,
    marks: tuple[float, datetime],
    clock: Clock,
    result: ScenarioResult,
    options: RunOptions,
    scrub: Scrubber,
) -> None:
    outcome.real_seconds = time.monotonic() - marks[0]
    outcome.charger_seconds = (clock.now() - marks[1]).total_seconds()
    # the step as written and what arrived instead, with any secret in them masked
    outcome.text = scrub.text(outcome.text)
    outcome.details = [scrub.text(line) for line in outcome.details]
    result.steps.append(outcome)
    if options.on_step:
        options.on_step(outcome)


def headline(details: list[str]) -> str:
    """A step's failure on one line: its first line, with the line it introduces (``...
    received:`` then the message) when it ends in a colon."""
    if not details:
        return "failed"
    first = details[0]
    if first.endswith(":") and len(details) > 1:
        return f"{first} {details[1].strip()}"
    return first


def _verdict(ctx: Context, result: ScenarioResult) -> None:
    failed = result.failed_step
    skipped = next((s for s in result.steps if s.status == "skipped"), None)
    if failed is not None:
        where = f" ({failed.where})" if failed.where else ""
        result.status = "failed"
        result.reason = f"step {failed.index + 1} {failed.kind}{where}: {headline(failed.details)}"
        if ctx.tap.connections == 0:
            last = f": {ctx.scrub.text(ctx.tap.last_error)}" if ctx.tap.last_error else ""
            result.status = "error"
            result.reason = f"the charger never connected{last}"
    elif skipped is not None:
        result.status, result.reason = "skipped", skipped.details[0]
