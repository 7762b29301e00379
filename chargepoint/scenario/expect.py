"""Steps that check what the CSMS received: ``expect_received``, ``expect_unordered``,
``expect_never``.

They look at the charger's CALLs after the *cursor*, the last frame an
expectation matched (or the last frame before a ``link_fault``), so
``expect_received`` steps in a row must arrive in that order (other messages
in between are fine).  ``expect_never`` looks from
the cursor too, for ``during`` or, without it, until the scenario ends.

``within`` and ``during`` are judged in charger time at the charger's end of
the link (:meth:`~.observe.Observer.at_charger`): a message counts as sent
when the charger sent it, not when a slow modem delivered it.  The real wait
is longer (the link's allowance, :mod:`.timebase`) only so that a message
sent in time has time to arrive.  Without ``within`` a step just waits up to
the scenario's ``timeout``: a bound on waiting, not a timing claim.

Both ends are included, to the millisecond: a message sent at exactly
``within: 60s`` is in time, and one sent at exactly +60 s breaks ``during:
60s`` (so ``during`` is exactly what ``within`` is not).  At a speed-up the
time base's tolerance loosens both; under virtual time it is 0.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from chargepoint.csms.framelog import Frame

from .context import StepFailed, StepRunner, Watch, message_text
from .messages import ExpectNever, ExpectReceived, ExpectUnordered, MessageMatch
from .observe import assign, describe_frame, explain_missing, matches
from .report import written
from .timebase import RESOLUTION


class Expectations(StepRunner):
    async def expect_received(self, spec: ExpectReceived, timeout: float) -> None:
        obs, start = self.ctx.observer, self.ctx.cursor
        frame = await obs.until(
            lambda: next(
                (f for f in obs.calls_after(start) if matches(spec.action, spec.payload, f)), None
            ),
            self.ctx.time.window(timeout),
        )
        if frame is None:
            raise StepFailed(
                f"no {message_text(spec.action, spec.payload)} {self.within(timeout)}",
                *explain_missing(spec.action, spec.payload, obs.calls_after(start)),
                *self.link_state(),
            )
        self.timed([frame], spec.within, message_text(spec.action, spec.payload))
        await self._answered(frame)
        self.ctx.cursor = frame.seq

    async def _answered(self, *frames: Frame) -> None:
        """Let the answer to what was matched reach the charger before the next step acts.

        The log shows a call as soon as the CSMS reads it; a ``csms`` step right after
        must not overtake the answer (a CALL ahead of the BootNotification's Rejected
        would reach a charger that does not know yet it must keep silent), and the next
        step's clock must start where the charger's own timers start: when the charger
        got the answer, not when the CSMS sent it.  Bounded by the link's allowance,
        since an answer rule may hold the answer back for good.
        """
        obs = self.ctx.observer

        def reached(unique_id: str) -> bool | None:
            return obs.reached_charger(unique_id) or None

        for frame in frames:
            await obs.until(partial(reached, str(frame.message[1])), self.ctx.time.allowance)

    async def expect_unordered(self, spec: ExpectUnordered, timeout: float) -> None:
        obs, start = self.ctx.observer, self.ctx.cursor
        found = await obs.until(
            lambda: assign(spec.messages, obs.calls_after(start)), self.ctx.time.window(timeout)
        )
        if found is None:
            raise StepFailed(
                *self._unordered_failure(spec.messages, obs.calls_after(start), timeout),
                *self.link_state(),
            )
        self.timed(found, spec.within, f"each of the {len(found)} messages")
        await self._answered(*found)
        self.ctx.cursor = max(f.seq for f in found)

    def _unordered_failure(
        self, wanted: list[MessageMatch], frames: list[Frame], timeout: float
    ) -> list[str]:
        missing = [w for w in wanted if not any(matches(w.action, w.payload, f) for f in frames)]
        if not missing:
            return [
                f"each of the {len(wanted)} messages arrived, but not as {len(wanted)} "
                "different messages (two expectations match the same message)"
            ]
        lines = [f"{len(missing)} of {len(wanted)} messages did not arrive {self.within(timeout)}:"]
        for w in missing:
            lines.append(f"missing {message_text(w.action, w.payload)}")
            lines += ["  " + line for line in explain_missing(w.action, w.payload, frames)]
        return lines

    def _never_hit(self, spec: ExpectNever, since: int, limit: float | None = None) -> Frame | None:
        """The first frame after ``since`` that breaks ``spec``: with ``limit``, one the
        charger sent at most ``limit`` charger seconds after the step began (or before it)."""
        actions, obs = spec.action, self.ctx.observer
        for frame in obs.calls_after(since):
            if (
                (actions is None or frame.action in actions)
                and (spec.payload is None or spec.payload.matches(frame.payload))
                and (limit is None or self.since_began(obs.at_charger(frame)) <= limit)
            ):
                return frame
        return None

    async def expect_never(self, index: int, spec: ExpectNever, timeout: float) -> None:
        since, obs, time = self.ctx.cursor, self.ctx.observer, self.ctx.time
        if spec.during is None:
            self.ctx.watches.append(Watch(index, since, spec))
            hit = self._never_hit(spec, since)
        else:
            # The window includes its last instant: what the charger sends at exactly
            # +during breaks it (as it would be in time for a `within` of the same length).
            # What it sends after the window (less the tolerance) does not count, however
            # early it reaches the CSMS; what it sent inside may still be on its way.
            limit = max(0.0, spec.during - time.tolerance)
            hit = await obs.until(
                lambda: self._never_hit(spec, since, limit), time.exact(spec.during)
            )
            if hit is None:
                sent_by = self.ctx.began + timedelta(seconds=limit + RESOLUTION / 2)
                await obs.until(lambda: not obs.in_flight(sent_by) or None, time.allowance)
                hit = self._never_hit(spec, since, limit)
        if hit is not None:
            raise StepFailed(*self.never_failure(spec, hit))

    def never_failure(self, spec: ExpectNever, hit: Frame) -> list[str]:
        what = " or ".join(spec.action) if spec.action else "message at all"
        during = f" for {written(spec.during)}" if spec.during is not None else ""
        after = self.since_began(self.ctx.observer.at_charger(hit))
        sent = f" (sent at {self.offset(after)} charger time)" if spec.during is not None else ""
        return [
            f"expected no {what}{during}, but the CSMS received{sent}:",
            "  " + describe_frame(hit),
        ]

    def check_watches(self) -> dict[int, list[str]]:
        """Standing ``expect_never`` steps that were broken before the end: index -> lines."""
        broken: dict[int, list[str]] = {}
        for watch in self.ctx.watches:
            hit = self._never_hit(watch.spec, watch.since)
            if hit is not None:
                broken[watch.index] = self.never_failure(watch.spec, hit)
        return broken
