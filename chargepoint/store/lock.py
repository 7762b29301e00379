"""One process at a time per state dir: an exclusive ``flock`` on ``<state-dir>/cpsim.lock``.

SQLite's own locks only make each transaction atomic; they do not stop a second
``cpsim run`` on the same dir (two cores numbering the same transactions and queued
messages) or a ``cpsim state reset`` under a running charger (dropping its open
transaction while the charger goes on).  So :meth:`Store.open
<chargepoint.store.Store.open>` takes this lock and holds it until ``close()``.

Why ``flock`` on a file of its own: the kernel drops it when the process ends, however
it ends (SIGKILL, a power loss): there is no stale lock to clean up.  It is tied to the
open file description, so a second lock of the same dir in the SAME process conflicts
too; a forked child shares the description and closing its copy does not release it.
The file holds the PID of the holder, only for the message; it is never deleted
(deleting a lock file races with the next process locking it).  Linux emulates
``flock`` on NFS with byte-range locks, which do not conflict within one process.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from .errors import StoreError, StoreLocked

LOCK_NAME = "cpsim.lock"


def prepare_dir(state_dir: Path) -> None:
    """Create ``state_dir`` 0700 when it is missing; a one-line StoreError if it is not a
    directory or not writable."""
    if state_dir.exists() and not state_dir.is_dir():
        raise StoreError(
            f"{state_dir}: not a directory; give --state-dir a directory "
            "(the charger state goes in it)"
        )
    if not state_dir.exists():
        try:
            state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            state_dir.chmod(0o700)
        except OSError as exc:
            raise StoreError(
                f"{state_dir}: cannot create the state dir ({exc.strerror}); "
                "choose another --state-dir"
            ) from None
    if not os.access(state_dir, os.R_OK | os.W_OK | os.X_OK):
        raise StoreError(
            f"{state_dir}: state dir not writable; fix it with `chmod u+rwx "
            f"{state_dir}` (as its owner) or choose another --state-dir"
        )


class StateDirLock:
    """The exclusive lock of one state dir, held until :meth:`release` (or the process
    ends).  ``Store.open`` takes one itself; take one with :meth:`acquire` to keep the
    dir across several opens (``cpsim state reset`` does, while it moves files aside)."""

    def __init__(self, state_dir: Path, file: BinaryIO) -> None:
        self.state_dir = state_dir
        self.path = state_dir / LOCK_NAME
        self._file: BinaryIO | None = file

    @classmethod
    def acquire(cls, state_dir: Path) -> StateDirLock:
        """Lock ``state_dir`` (created 0700 if missing) or raise :class:`StoreLocked`,
        naming the process that holds it; never waits."""
        state_dir = Path(state_dir)
        prepare_dir(state_dir)
        path = state_dir / LOCK_NAME
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StoreError(
                f"{path}: cannot open the state dir's lock file ({exc.strerror}); "
                "fix its permissions or choose another --state-dir"
            ) from None
        file = os.fdopen(fd, "r+b", buffering=0)  # closed (and unlocked) if it is ever dropped
        try:
            with contextlib.suppress(OSError):  # not ours to chmod: it still locks
                os.fchmod(fd, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder(fd)
            file.close()
            raise StoreLocked(state_dir, pid) from None
        except OSError as exc:
            file.close()
            raise StoreError(
                f"{path}: cannot lock the state dir ({exc.strerror}); choose another --state-dir"
            ) from None
        with contextlib.suppress(OSError):  # only for the message of whoever comes next
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(state_dir, file)

    @property
    def held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        """Unlock (closing the file is what releases a flock); a second call does nothing."""
        file, self._file = self._file, None
        if file is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(file.fileno(), 0)  # no PID left behind of a process that let go
        file.close()

    def __enter__(self) -> StateDirLock:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _holder(fd: int) -> int | None:
    """The PID the holder wrote (None if it has not yet, in the instant after locking)."""
    try:
        return int(os.pread(fd, 32, 0).decode("ascii").strip())
    except (OSError, ValueError):
        return None
