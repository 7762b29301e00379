"""What a field check reports: one typed record per check, collected in order.

A technician reads the ``figure`` (the measured value) and the ``detail`` (what
it means); the verdict reads ``status`` and ``reason`` (a stable code such as
``sim-pin``), so wording can change without breaking the mapping to a fix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"  # works, but worth fixing (weak signal, roaming, no ping replies)
    FAIL = "fail"  # the charger will not get through because of this
    SKIP = "skip"  # not run; ``detail`` says why


@dataclass(frozen=True)
class CheckResult:
    """One row of the report.

    ``reason`` is set on warnings and failures (``denied``, ``apn-refused``...);
    ``data`` holds the figures as numbers and strings for ``--json``.
    """

    name: str
    status: Status
    figure: str = ""
    detail: str = ""
    reason: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Passed or only warned: the later checks that depend on it make sense."""
        return self.status in (Status.PASS, Status.WARN)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": str(self.status),
            "figure": self.figure,
            "detail": self.detail,
            "reason": self.reason,
            "data": self.data,
        }


def skipped(name: str, why: str) -> CheckResult:
    return CheckResult(
        name, Status.SKIP, detail=f"skipped: {why}", reason="skipped", data={"why": why}
    )


Listener = Callable[[CheckResult], None]
Notes = Callable[[str], None]


class Report:
    """The results so far; ``listener`` sees each one as it is added and ``notes``
    gets what happens during a long check (progress lines for the technician)."""

    def __init__(self, listener: Listener | None = None, notes: Notes | None = None) -> None:
        self.results: list[CheckResult] = []
        self._listener = listener
        self._notes = notes

    def note(self, text: str) -> None:
        if self._notes is not None:
            self._notes(text)

    def add(self, result: CheckResult) -> CheckResult:
        self.results.append(result)
        if self._listener is not None:
            self._listener(result)
        return result

    def skip(self, names: Iterable[str], why: str) -> None:
        """Record each of ``names`` not reported yet as skipped because of ``why``."""
        done = {r.name for r in self.results}
        for name in names:
            if name not in done:
                self.add(skipped(name, why))

    def get(self, name: str) -> CheckResult | None:
        for result in self.results:
            if result.name == name:
                return result
        return None

    @property
    def failed(self) -> bool:
        return any(r.status is Status.FAIL for r in self.results)
