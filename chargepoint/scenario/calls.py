"""Steps about calls and their answers: the charger ``send``s, the local CSMS calls
(``csms``) or is told how to answer, a remote CSMS's call is awaited (``expect_call``).

A call's answer is matched on the frame log (what went over the wire), and
the cursor moves to it, so what a TriggerMessage triggers is looked for after
the TriggerMessage was answered; an ``unanswered`` call leaves the cursor.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from ocpp.exceptions import OCPPError

from chargepoint.csms.framelog import Frame
from chargepoint.csms.handlers import AnswerRule
from chargepoint.csms.server import LocalCsms, NotConnected
from chargepoint.station import CallFailed, Offline, Station

from .context import StepFailed, StepRunner, message_text
from .files import with_local_urls
from .matchers import Fields
from .messages import CsmsAnswer, CsmsCall, ErrorMatch, ExpectCall, Send
from .observe import (
    CHARGER_TO_CSMS,
    CSMS_TO_CHARGER,
    describe_answer,
    explain_missing,
    matches,
    until_changed,
)
from .report import written
from .security import with_pki_files
from .tap import Override


def answer_rule(spec: CsmsAnswer, charge_point: str | None) -> AnswerRule:
    error = (spec.error.code, spec.error.description, spec.error.details) if spec.error else None
    return AnswerRule(spec.answer, spec.result, error, spec.ignore, spec.times, charge_point)


class Calls(StepRunner):
    async def send(self, spec: Send, timeout: float) -> None:
        station = await self._connected(timeout)
        payload = spec.payload if spec.payload is not None else self._built(spec)
        unique_id = str(uuid.uuid4())
        error: CallFailed | None = None
        try:
            async with asyncio.timeout(self.ctx.time.window(timeout)):
                await station.request(spec.action, payload, unique_id=unique_id)
        except CallFailed as exc:
            error = exc
        except TimeoutError:
            raise StepFailed(
                f"the CSMS did not answer {spec.action} {self.within(timeout)}", *self.link_state()
            ) from None
        except Offline as exc:
            raise StepFailed(f"the link closed while sending {spec.action}: {exc}") from None
        answer = self.ctx.observer.answer_to(unique_id, CSMS_TO_CHARGER)
        problems = check_answer(spec.result, spec.error, answer, "the CSMS", error)
        if problems:
            raise StepFailed(*problems)
        if answer is not None:
            self.ctx.cursor = max(self.ctx.cursor, answer.seq)

    def _built(self, spec: Send) -> dict[str, Any]:
        """The payload the charger itself would send (only for triggerable messages)."""
        core = self.ctx.station.core
        if spec.action == "BootNotification":
            return core.boot_payload()
        if spec.action == "StatusNotification":
            return core.status_payload(core.connectors[spec.connector or 0])
        if spec.action == "MeterValues":
            connector = core.connectors[spec.connector if spec.connector is not None else 1]
            return core.meter_values_payload(connector, "Other")
        if spec.action in ("DiagnosticsStatusNotification", "FirmwareStatusNotification"):
            return {"status": "Idle"}
        return {}

    async def csms(self, spec: CsmsCall | CsmsAnswer, timeout: float) -> None:
        csms = self.ctx.csms
        assert csms is not None, "Scenario.conflicts() keeps csms steps off a remote CSMS"
        if isinstance(spec, CsmsAnswer):
            csms.policy.set_answer(answer_rule(spec, self.ctx.charge_point))
            return
        await self.csms_call(csms, spec, timeout)

    async def csms_call(self, csms: LocalCsms, spec: CsmsCall, timeout: float) -> None:
        cp, time = self.ctx.charge_point, self.ctx.time
        if cp not in csms.sessions:
            try:
                await csms.wait_connected(cp, time.window(timeout))
            except TimeoutError:
                raise StepFailed(
                    f"the charger did not connect {self.within(timeout)} for "
                    f"the CSMS to send {spec.call}",
                    *self.link_state(),
                ) from None
        try:
            payload = with_pki_files(self.ctx.security, spec.payload)  # local:pki/ca.pem
        except ValueError as exc:
            raise StepFailed(f"the CSMS could not send {spec.call}: {exc}") from None
        override = None
        if spec.charger_reply is not None or spec.charger_error is not None:
            override = self._arm(spec.call, None, spec.charger_reply, spec.charger_error)
        unique_id = str(uuid.uuid4())
        wait = time.exact(timeout) if spec.unanswered else time.window(timeout)
        error: OCPPError | None = None
        try:
            payload = with_local_urls(csms, payload)  # local:firmware/<name>
            await csms.call(cp, spec.call, payload, timeout=wait, unique_id=unique_id)
        except OCPPError as exc:
            error = exc
        except TimeoutError:
            if not spec.unanswered:
                raise StepFailed(
                    f"the charger did not answer {spec.call} {self.within(timeout)}",
                    *self.link_state(),
                ) from None
        except NotConnected as exc:
            raise StepFailed(f"the CSMS could not send {spec.call}: {exc}") from None
        finally:
            if override is not None and override in self.ctx.tap.overrides:
                self.ctx.tap.overrides.remove(override)
        answer = self.ctx.observer.answer_to(unique_id, CHARGER_TO_CSMS)
        if spec.unanswered:
            if answer is not None:
                raise StepFailed(
                    f"expected no answer to {spec.call} within {written(timeout)}, "
                    f"the charger answered {describe_answer(answer)}"
                )
        else:
            problems = check_answer(spec.result, spec.error, answer, "the charger", error)
            if problems:
                raise StepFailed(*problems)
        if spec.unanswered:
            # Nothing was answered, so nothing the charger sends is "after" this call: the
            # cursor stays, and an expect_never next still covers what came before the call.
            return
        sent = answer or self.ctx.observer.call_with_id(unique_id, CSMS_TO_CHARGER)
        if sent is not None:
            self.ctx.cursor = max(self.ctx.cursor, sent.seq)

    async def expect_call(self, spec: ExpectCall, timeout: float) -> None:
        obs, start, window = self.ctx.observer, self.ctx.cursor, self.ctx.time.window(timeout)
        frame: Frame | None
        if spec.reply is not None or spec.reply_error is not None:
            override = self._arm(spec.action, spec.payload, spec.reply, spec.reply_error)
            try:
                async with asyncio.timeout(window):
                    unique_id = await asyncio.shield(override.used)
                frame = await obs.until(
                    lambda: obs.call_with_id(unique_id, CSMS_TO_CHARGER), window
                )
            except TimeoutError:
                frame = None
            finally:
                if override in self.ctx.tap.overrides:
                    self.ctx.tap.overrides.remove(override)
        else:
            frame = await obs.until(
                lambda: next(
                    (
                        f
                        for f in obs.calls_after(start, CSMS_TO_CHARGER)
                        if matches(spec.action, spec.payload, f)
                    ),
                    None,
                ),
                window,
            )
        if frame is None:
            raise StepFailed(
                f"the CSMS did not call {message_text(spec.action, spec.payload)} "
                f"{self.within(timeout)}",
                *explain_missing(
                    spec.action,
                    spec.payload,
                    obs.calls_after(start, CSMS_TO_CHARGER),
                    sender="the CSMS",
                ),
                *self.link_state(),
            )
        self.ctx.cursor = max(self.ctx.cursor, frame.seq)

    def _arm(
        self, action: str, payload: Fields | None, reply: dict[str, Any] | None, error: Any
    ) -> Override:
        override = Override(action, payload, reply, error)
        self.ctx.tap.overrides.append(override)
        return override

    async def _connected(self, timeout: float) -> Station:
        station = self.ctx.station
        if not await until_changed(
            station, lambda: station.connected, self.ctx.time.window(timeout)
        ):
            raise StepFailed(
                f"the charger is not connected ({self.within(timeout)})", *self.link_state()
            )
        return station


def check_answer(
    result: Fields | None,
    error: ErrorMatch | None,
    answer: Frame | None,
    who: str,
    raised: Exception | None = None,
) -> list[str]:
    """What is wrong with the answer to a call; empty when it is what the step expects."""
    if answer is None:
        return [f"{who} did not answer" + (f" ({raised})" if raised else "")]
    if answer.message_type == 4:
        if error is None:
            return [f"{who} answered {describe_answer(answer)}"]
        problems = []
        if error.code is not None and answer.message[2] != error.code:
            problems.append(
                f"expected CALLERROR {error.code}, {who} answered {describe_answer(answer)}"
            )
        if error.description is not None:
            text = answer.message[3] if len(answer.message) > 3 else ""
            problems += [
                f"CALLERROR {m}" for m in error.description.mismatches(text, "description")
            ]
        return problems
    if error is not None:
        code = f" {error.code}" if error.code else ""
        return [f"expected a CALLERROR{code}, {who} answered {describe_answer(answer)}"]
    if raised is not None:  # a CALLRESULT the other side's schema check refused
        return [f"{who} answered {describe_answer(answer)}, which is not valid OCPP 1.6: {raised}"]
    if result is not None:
        wrong = result.mismatches(answer.payload)
        if wrong:
            return [f"{who} answered {describe_answer(answer)}", *(f"  {m}" for m in wrong)]
    return []
