"""What can go wrong with a state dir, as one-line messages a user can act on.

Every message names the file and the command that inspects, fixes or resets it, and
never holds a configuration value (the AuthorizationKey is one).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path


def state_command(verb: str, state_dir: Path) -> str:
    """```cpsim state VERB --state-dir DIR```, quoted ready to paste."""
    return f"`cpsim state {verb} --state-dir {shlex.quote(str(state_dir))}`"


def commands(state_dir: Path) -> str:
    return (
        f"inspect it with {state_command('show', state_dir)} "
        f"or reset it with {state_command('reset', state_dir)}"
    )


def set_aside_advice(state_dir: Path) -> str:
    return (
        f"move it aside (kept, not deleted) and start afresh with "
        f"{state_command('reset', state_dir)}"
    )


class StoreError(Exception):
    """A state dir or its database cannot be used; the message is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.splitlines()))


class StoreFull(StoreError):
    """The disk (or the database's size limit) is full: nothing of the change was written,
    so the caller may keep its actions and apply them again later."""


class StoreLocked(StoreError):
    """Another process holds the state dir (or this process has it open already): two
    cores on one dir would number the same transactions and queued messages."""

    def __init__(self, state_dir: Path, pid: int | None) -> None:
        if pid is None:
            holder = "another process (a running cpsim?); stop it first"
        elif pid == os.getpid():
            holder = f"process {pid} (this one: its store is open already); close that first"
        else:
            holder = f"process {pid} (a running cpsim?); stop it first"
        super().__init__(f"{state_dir} is in use by {holder}")
        self.state_dir = state_dir
        self.pid = pid


class StoreUnreadable(StoreError):
    """A file of the state dir that cannot be read: corrupt, or written by a newer cpsim.

    ``cpsim state reset`` moves it aside (:func:`chargepoint.store.set_aside`) under
    ``<name>.<tag>-<timestamp>``: it is never deleted.
    """

    def __init__(self, path: Path, reason: str, tag: str = "corrupt", advice: str = "") -> None:
        super().__init__(f"{path}: {reason}; {advice or set_aside_advice(path.parent)}")
        self.path = path
        self.reason = reason
        self.tag = tag
