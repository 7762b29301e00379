"""Results of a scenario run, and the three ways they are shown.

* text: a line per step as it finishes (``  ✓ 0.42s  expect_received ...``),
  with the file:line, the expectation and what arrived instead on a failure;
* ``--report DIR``: one JSON file per scenario and its frame log (JSON lines);
* ``--junit FILE``: JUnit XML for CI dashboards (the pytest plugin leaves this
  to pytest's own ``--junitxml``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import junitparser

from chargepoint.logmask import mask_data

from .errors import flow
from .fields import Shorthand
from .steps import StepBase

StepStatus = Literal["passed", "failed", "skipped"]
ScenarioStatus = Literal["passed", "failed", "skipped", "error"]

MARKS = {"passed": "✓", "failed": "✗", "skipped": "-"}


@dataclass
class StepResult:
    index: int
    kind: str
    text: str
    """The step as written, on one line (``StepBase.describe``)."""
    where: str | None
    status: StepStatus
    real_seconds: float
    charger_seconds: float
    details: list[str] = field(default_factory=list)
    """Why it failed or was skipped: the expectation, then what arrived instead."""
    sent_after: float | None = None
    """For an expectation that matched: charger seconds from the step's start to when the
    charger sent the message (the last one, for ``expect_unordered``); negative when it was
    sent before the step began."""


@dataclass
class ScenarioResult:
    file: str
    title: str
    status: ScenarioStatus
    link: str = ""
    csms: str = ""
    time_scale: float | str = 1.0
    """The speed-up, or ``virtual`` (virtual time)."""
    reason: str = ""
    """For failed/skipped/error: one line."""
    steps: list[StepResult] = field(default_factory=list)
    real_seconds: float = 0.0
    charger_seconds: float = 0.0
    frames: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    """The charger's timeline: every state change and message, on its clock."""
    """The frame log (charger's frames only), each with ``charger_time``."""
    warnings: list[str] = field(default_factory=list)
    """Why the run's timing checks are coarse (the time scale against the link), if they are."""

    @property
    def failed_step(self) -> StepResult | None:
        return next((s for s in self.steps if s.status == "failed"), None)


def duration(seconds: float) -> str:
    """``0.42s``, ``25s``, ``6m``, ``1h30m``: short and exact enough to read."""
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s" if secs else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"


def span(seconds: float, digits: int = 1) -> str:
    """A measured span of charger time: ``14.9s``, ``-2.0s``, ``6m03s``; with ``digits=3``
    (virtual time, where checks are exact) in seconds to the millisecond under an hour:
    ``60.04s``, ``60.0s``, ``-0.005s``."""
    seconds = round(seconds, digits) + 0.0  # no "-0.0s"
    if abs(seconds) < (60 if digits <= 1 else 3600):
        text = f"{seconds:.{digits}f}".rstrip("0")
        return (text + "0" if text.endswith(".") else text) + "s"
    return ("-" if seconds < 0 else "") + duration(abs(seconds))


def offset(seconds: float, digits: int = 1) -> str:
    """A charger-time offset from a step's start: ``+14.9s``, ``-2.0s``."""
    return ("+" if round(seconds, digits) >= 0 else "") + span(seconds, digits)


def written(seconds: float) -> str:
    """A charger-time duration as a scenario author writes it: ``90s``, ``10m``, ``1h30m``."""
    if seconds < 60 or not float(seconds).is_integer():
        # every digit the author gave (":g" would write 3599.994 as 3599.99)
        return f"{seconds:.6f}".rstrip("0").rstrip(".") + "s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    parts = [
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
        f"{secs}s" if secs else "",
    ]
    return "".join(parts)


_DURATIONS = ("within", "during", "seconds", "duration")
_SUBJECTS = ("action", "call", "answer")


def step_text(step: StepBase) -> str:
    """A step on one line, subject first: ``expect_received StatusNotification {status: Charging}
    within 2m``, ``csms call TriggerMessage {requestedMessage: Heartbeat} result {...}``.

    Secrets are masked: ``csms call ChangeConfiguration {key: AuthorizationKey, value: '***'}``."""
    data = mask_data(step.spec.model_dump(mode="json", exclude_unset=True))
    for key in _DURATIONS:
        if isinstance(data.get(key), int | float):
            data[key] = written(data[key])
    words = [step.kind]
    for key in _SUBJECTS:
        if key in data:
            words += ([key] if key != "action" else []) + [flow(data.pop(key))]
            break
    if "payload" in data:
        words.append(flow(data.pop("payload")))
    short = next(
        (m.key for m in type(step).model_fields[step.kind].metadata if isinstance(m, Shorthand)),
        None,
    )
    if short in data:
        words.append(flow(data.pop(short)))
    words += [f"{key} {flow(value)}" for key, value in data.items()]
    return " ".join(words)


def _speed(time_scale: float | str) -> str:
    return "virtual time" if time_scale == "virtual" else f"time x{time_scale:g}"


def header(result: ScenarioResult) -> str:
    scale = (
        ""
        if result.time_scale == 1
        else f", {_speed(result.time_scale)} (charger time in [brackets])"
    )
    return f"{result.title} ({result.file}) - {result.link} link, CSMS {result.csms}{scale}"


def step_line(step: StepResult, time_scale: float | str = 1.0) -> str:
    clock = "" if time_scale == 1 else f" [{duration(step.charger_seconds)}]"
    sent = ""
    if step.sent_after is not None:  # charger time, from the step's start to the charger's send
        sent = f"  (sent at {offset(step.sent_after, 3 if time_scale == 'virtual' else 1)})"
    lines = [f"  {MARKS[step.status]} {duration(step.real_seconds)}{clock}  {step.text}{sent}"]
    if step.status != "passed":
        if step.where:
            lines.append(f"      at {step.where}")
        lines += [f"      {line}" for line in step.details]
    return "\n".join(lines)


def footer(result: ScenarioResult) -> str:
    word = result.status.upper()
    charger = (
        "" if result.time_scale == 1 else f" (charger time {duration(result.charger_seconds)})"
    )
    text = f"{word} {result.title} in {duration(result.real_seconds)}{charger}"
    return f"{text}: {result.reason}" if result.reason else text


def warning_lines(result: ScenarioResult) -> list[str]:
    return [f"  ! warning: {w}" for w in result.warnings]


def render(result: ScenarioResult) -> str:
    """The whole scenario as text (what the CLI prints step by step)."""
    return "\n".join(
        [
            header(result),
            *(step_line(s, result.time_scale) for s in result.steps),
            *warning_lines(result),
            footer(result),
        ]
    )


def summary(results: Sequence[ScenarioResult]) -> str:
    counts = {
        s: sum(r.status == s for r in results) for s in ("passed", "failed", "skipped", "error")
    }
    total = sum(r.real_seconds for r in results)
    parts = [f"{n} {s}" for s, n in counts.items() if n or s in ("passed", "failed")]
    return f"{', '.join(parts)} in {duration(total)}"


# --- files --------------------------------------------------------------------------------


def write_report(result: ScenarioResult, directory: Path, stem: str) -> Path:
    """``DIR/<stem>.json`` (the result), ``DIR/<stem>.frames.jsonl`` (the frame log) and
    ``DIR/<stem>.timeline.jsonl`` (the charger's timeline)."""
    directory.mkdir(parents=True, exist_ok=True)
    data = asdict(result)
    for name in ("frames", "timeline"):
        lines_path = directory / f"{stem}.{name}.jsonl"
        with lines_path.open("w", encoding="utf-8") as out:
            for line in data.pop(name):
                out.write(json.dumps(line, separators=(",", ":")) + "\n")
        data[f"{name}_file"] = lines_path.name
    path = directory / f"{stem}.json"
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


class ScenarioCase(junitparser.TestCase):
    """A JUnit testcase with the ``file`` attribute CI dashboards link to the scenario."""

    file = junitparser.Attr()


def junit_xml(
    results: Sequence[ScenarioResult], suite: str = "cpsim scenarios"
) -> junitparser.JUnitXml:
    """JUnit XML (junitparser: the schema's element and attribute names, its counts)."""
    element = junitparser.TestSuite(suite)
    for result in results:
        case = ScenarioCase(result.title, Path(result.file).stem, round(result.real_seconds, 3))
        case.file = result.file
        text = render(result)
        if result.status in ("failed", "error"):
            kind = junitparser.Failure if result.status == "failed" else junitparser.Error
            outcome = kind(result.reason)
            outcome.text = text
            case.result = [outcome]
        elif result.status == "skipped":
            case.result = [junitparser.Skipped(result.reason)]
        case.system_out = text
        element.add_testcase(case)
    element.update_statistics()
    element.time = round(sum(r.real_seconds for r in results), 3)
    root = junitparser.JUnitXml()
    root.add_testsuite(element)
    return root


def write_junit(results: Sequence[ScenarioResult], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    junit_xml(results).write(str(path), pretty=True)
