"""Charge-point ids of a fleet and the shard of them one process runs.

``--id-template 'CP{:05d}'`` is a :meth:`str.format` template with one integer
field, filled with 1..N; ``--shard I/K`` (0 <= I < K, the numbering of a Kubernetes
Indexed Job's ``JOB_COMPLETION_INDEX``) takes the I-th of K contiguous slices of that
range, so K processes run every id exactly once.  Every problem is a
:class:`FleetUsageError` naming the option and the rule, before anything starts.
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass

MAX_COUNT = 1_000_000
"""More chargers than any one fleet run is meant for; a bound on user input."""
MAX_ID_LENGTH = 48
"""OCPP-J 1.6 §3.1 puts the id in the URL path without a bound; OCPP 2.0.1's
identifierString (48 characters) is the bound CSMSs keep, so a longer one is refused."""
ID_CHARS = re.compile(r"[A-Za-z0-9*\-_=:+|@.]+")
"""OCPP 2.0.1 identifierString, the safe set for a URL path segment."""
MAX_TEMPLATE = 200
"""A bound on ``--id-template``'s text before it is parsed."""


class FleetUsageError(ValueError):
    """A fleet option that can never work; the message names the option and the rule."""


@dataclass(frozen=True)
class ShardSpec:
    """Slice ``index`` of ``count`` (``--shard index/count``)."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> ShardSpec:
        match = re.fullmatch(r"\s*(\d{1,6})\s*/\s*(\d{1,6})\s*", text)
        if match is None:
            raise FleetUsageError(f"--shard {text!r}: expected I/K, e.g. 0/3 (I from 0 to K-1)")
        spec = cls(int(match.group(1)), int(match.group(2)))
        spec.check()
        return spec

    def check(self) -> None:
        if self.count < 1:
            raise FleetUsageError(f"--shard {self}: K must be at least 1")
        if not 0 <= self.index < self.count:
            raise FleetUsageError(
                f"--shard {self}: I must be from 0 to {self.count - 1} (K-1); "
                "shards count from 0 like JOB_COMPLETION_INDEX"
            )

    def slice(self, total: int) -> range:
        """The numbers 1..total of this shard: contiguous, sizes differ by one at most."""
        if self.count > total:
            raise FleetUsageError(
                f"--shard {self}: {self.count} shards for {total} chargers leaves some empty"
            )
        start = total * self.index // self.count
        stop = total * (self.index + 1) // self.count
        return range(start + 1, stop + 1)

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def shard_from_env(count: int, environ: Mapping[str, str] | None = None) -> ShardSpec:
    """``--shard-from-env K``: the index from ``JOB_COMPLETION_INDEX`` (Kubernetes
    Indexed Job), so every pod of the Job runs its own slice."""
    env = os.environ if environ is None else environ
    raw = env.get("JOB_COMPLETION_INDEX")
    if raw is None:
        raise FleetUsageError(
            "--shard-from-env: JOB_COMPLETION_INDEX is not set (it is set in the pods of a "
            "Kubernetes Indexed Job); give --shard I/K instead"
        )
    if not raw.strip().isdigit() or len(raw.strip()) > 6:
        raise FleetUsageError(
            f"--shard-from-env: JOB_COMPLETION_INDEX={raw[:20]!r} is not a number"
        )
    spec = ShardSpec(int(raw), count)
    if not 0 <= spec.index < count:
        raise FleetUsageError(
            f"--shard-from-env {count}: JOB_COMPLETION_INDEX={spec.index} must be from 0 to "
            f"{count - 1} (the Job's completions must be {count}, the K given here)"
        )
    return spec


@dataclass(frozen=True)
class IdTemplate:
    """A checked ``str.format`` template with exactly one integer field."""

    text: str

    @classmethod
    def parse(cls, text: str) -> IdTemplate:
        if len(text) > MAX_TEMPLATE:
            raise FleetUsageError(f"--id-template: longer than {MAX_TEMPLATE} characters")
        try:
            parts = [(f, spec) for _, f, spec, _ in string.Formatter().parse(text) if f is not None]
        except ValueError as exc:
            raise FleetUsageError(f"--id-template {text!r}: {exc}") from None
        fields = [f for f, _ in parts]
        for _, spec in parts:
            # a width or precision is filled before the id's length can be checked
            if any(int(n) > MAX_ID_LENGTH for n in re.findall(r"\d+", spec or "")):
                raise FleetUsageError(
                    f"--id-template {text!r}: a field width or precision above "
                    f"{MAX_ID_LENGTH} makes ids longer than {MAX_ID_LENGTH} characters"
                )
        if len(fields) != 1 or fields[0] not in ("", "0"):
            raise FleetUsageError(
                f"--id-template {text!r}: needs exactly one field for the number, "
                "like 'CP{:05d}' or 'site-a-{}'"
            )
        template = cls(text)
        template.format(1)  # a bad format spec ('{:s}') is named here
        return template

    def format(self, number: int) -> str:
        try:
            return self.text.format(number)
        except (ValueError, IndexError, KeyError) as exc:
            raise FleetUsageError(f"--id-template {self.text!r}: {exc}") from None


def fleet_ids(template: IdTemplate, total: int, numbers: range) -> list[str]:
    """The ids for ``numbers`` (a shard of 1..total), checked over the WHOLE range so every
    shard refuses a template that makes duplicates, not only the one that meets them."""
    if not 1 <= total <= MAX_COUNT:
        raise FleetUsageError(f"--count {total}: must be from 1 to {MAX_COUNT:,}")
    seen: dict[str, int] = {}
    for number in range(1, total + 1):
        cp = template.format(number)
        _check_id(template, cp)
        first = seen.setdefault(cp, number)
        if first != number:
            raise FleetUsageError(
                f"--id-template {template.text!r} makes duplicate ids: {first} and {number} "
                f"are both {cp!r} (widen the field, e.g. 'CP{{:0{len(str(total))}d}}')"
            )
    return [template.format(n) for n in numbers]


def _check_id(template: IdTemplate, cp: str) -> None:
    if not ID_CHARS.fullmatch(cp) or len(cp) > MAX_ID_LENGTH:
        raise FleetUsageError(
            f"--id-template {template.text!r} makes {cp[:60]!r}: a charge-point id is at "
            "most 48 of A-Z a-z 0-9 * - _ = : + | @ . (it goes in the URL path)"
        )
