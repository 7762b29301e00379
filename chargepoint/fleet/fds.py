"""File descriptors: one socket per charger, so a fleet raises RLIMIT_NOFILE first.

A default soft limit of 1,024 stops a fleet near 1,000 chargers with EMFILE in the
middle of the ramp; the soft limit is raised to the hard one before anything
starts, and a fleet that would not fit even then is refused with the numbers.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

OVERHEAD = 64
"""Descriptors a fleet process needs besides its chargers' sockets: stdio, the loop's
epoll and self-pipe, the SQLite database, its WAL and shm, the state dir's lock, the
report files, and headroom for a reconnect's socket opened before the old one closed."""


@dataclass(frozen=True)
class FdBudget:
    needed: int
    soft: int
    hard: int

    @property
    def enough(self) -> bool:
        return self.needed <= self.soft

    def problem(self, count: int) -> str | None:
        if self.enough:
            return None
        return (
            f"{count:,} chargers need about {self.needed:,} file descriptors "
            f"({count:,} + {OVERHEAD}); the hard limit is {self.hard:,}: raise it "
            f"(`ulimit -Hn`, LimitNOFILE= in systemd, nofile in /etc/security/limits.conf, "
            f"or the container runtime's --ulimit nofile=) or split the fleet with --shard"
        )


def needed_fds(count: int, per_charger: int = 1) -> int:
    return count * per_charger + OVERHEAD


def raise_fd_limit(count: int, per_charger: int = 1) -> FdBudget:
    """Raise the soft RLIMIT_NOFILE to the hard limit (when it is needed) and say
    whether ``count`` chargers fit."""
    needed = needed_fds(count, per_charger)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and needed > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(needed, soft)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass  # keep the soft limit; the budget says it is not enough
    big = 1 << 62
    return FdBudget(
        needed,
        big if soft == resource.RLIM_INFINITY else soft,
        big if hard == resource.RLIM_INFINITY else hard,
    )
