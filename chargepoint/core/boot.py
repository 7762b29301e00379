"""The session's state: an explicit machine for OCPP 1.6 §4.2 (BootNotification).

Offline: no link.  Booting: BootNotification sent (or about to be).  Pending:
only what a TriggerMessage asks for may be sent, and no transaction may be
started or stopped remotely.  Rejected: send nothing and answer nothing until
the interval has passed.  Accepted: everything.  A transition not in the table
is a bug, and raises :class:`BootTransitionError`.
"""

from __future__ import annotations

from enum import Enum


class SessionState(Enum):
    OFFLINE = "Offline"
    BOOTING = "Booting"
    PENDING = "Pending"
    REJECTED = "Rejected"
    ACCEPTED = "Accepted"


_S = SessionState
TRANSITIONS: dict[SessionState, frozenset[SessionState]] = {
    _S.OFFLINE: frozenset({_S.BOOTING}),
    _S.BOOTING: frozenset({_S.OFFLINE, _S.PENDING, _S.REJECTED, _S.ACCEPTED, _S.BOOTING}),
    _S.PENDING: frozenset({_S.OFFLINE, _S.BOOTING, _S.PENDING, _S.REJECTED, _S.ACCEPTED}),
    _S.REJECTED: frozenset({_S.OFFLINE, _S.BOOTING}),
    # Accepted -> Booting: a TriggerMessage(BootNotification), or a Reset's reboot.
    _S.ACCEPTED: frozenset({_S.OFFLINE, _S.BOOTING, _S.ACCEPTED, _S.PENDING, _S.REJECTED}),
}

DEFAULT_RETRY_S = 30
"""A Pending/Rejected answer with interval 0: "the charger chooses" (§4.2)."""
NO_ANSWER_RETRY_S = 10
"""A BootNotification answered with a CALLERROR, or not at all."""


class BootTransitionError(RuntimeError):
    """The core tried a session transition that §4.2 does not allow."""


def check_transition(old: SessionState, new: SessionState) -> SessionState:
    if new not in TRANSITIONS[old]:
        raise BootTransitionError(f"session {old.value} -> {new.value} is not allowed")
    return new
