"""Running one step: dispatch on its kind to the code that does it.

Steps act on the charger (:mod:`.actions`), call or steer the CSMS
(:mod:`.calls`), or check what the CSMS received (:mod:`.expect`).
Everything else the charger does by itself: it answers every CSMS call with
its own behaviour, so a scenario names only what it cares about.  Every wait
is bounded by the step's ``within`` or the scenario's ``timeout``.
"""

from __future__ import annotations

from typing import Any

from .actions import Actions
from .calls import Calls, answer_rule, check_answer
from .connection_check import Connections
from .context import Context, ScenarioSkipped, StepFailed
from .expect import Expectations
from .offer import FirmwareFiles
from .steps import StepBase


class Executor(Expectations, Calls, Actions, FirmwareFiles, Connections):
    async def run(self, index: int, step: StepBase) -> None:
        spec: Any = step.spec
        timeout = self.ctx.scenario.timeout_of(step)
        if step.kind == "expect_never":
            await self.expect_never(index, spec, timeout)
        else:
            await getattr(self, step.kind)(spec, timeout)


__all__ = ["Context", "Executor", "ScenarioSkipped", "StepFailed", "answer_rule", "check_answer"]
