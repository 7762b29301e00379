"""What every check does the same way: ask one command, survive an odd answer.

A field tester must keep going when one diagnostic command is missing from a
firmware or times out, so those become a ``skip`` or ``warn`` row here; only a
lost port (:class:`ATPortError`) ends the run, since nothing after it can work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from modem.at import ATCommandError, ATDriver, ATTimeout

from .result import CheckResult, Status


async def query(driver: ATDriver, command: str, prefix: str) -> str | None:
    """The value after ``prefix`` in ``command``'s answer, or None if no such line."""
    return (await driver.command(command)).value(prefix)


async def guarded(name: str, check: Callable[[], Awaitable[CheckResult]]) -> CheckResult:
    """Run ``check``; a refused command is a skip, a timeout a warning, a bad answer too."""
    try:
        return await check()
    except ATCommandError as exc:
        return CheckResult(
            name,
            Status.SKIP,
            "not answered",
            f"{exc}: this firmware does not support it (or not in this state)",
            reason="unsupported",
        )
    except ATTimeout as exc:
        return CheckResult(name, Status.WARN, "no answer", str(exc), reason="timeout")
    except ValueError as exc:
        return CheckResult(name, Status.WARN, "unreadable", str(exc), reason="malformed")
