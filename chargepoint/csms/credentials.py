"""The HTTP Basic passwords the local CSMS checks (security profiles 1 and 2), and the
AuthorizationKey changes it adopts.

A charger's password is its AuthorizationKey (WP§7.2).  When the CSMS sets a new one
with ChangeConfiguration and the charger answers Accepted, that answer is final: the
charger reconnects with the new key and the CSMS stops accepting the old one (WP
A01.FR.03, ocpp16-profiles.md 6.2).  No grace period for the old key: the charger stored
the new key before it answered, and the point of a new key is that the old one (perhaps
leaked) no longer opens the door.  Rejected, NotSupported or a CALLERROR leave the old
key valid (A01.FR.04).  RebootRequired (OCPP 1.6 §5.3: accepted, in force after a reboot)
is the one case where both keys are accepted, until the charger connects with the new one.

No key is ever in a log line or a ``repr``.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chargepoint.logmask import SECRET_KEYS

log = logging.getLogger("cpsim.csms")


@dataclass
class Credentials:
    """A password for all chargers, or one per charge-point id; then the keys set over
    OCPP, per charger, which take the place of either."""

    shared: str | None = field(default=None, repr=False)
    per_charger: dict[str, str] | None = field(default=None, repr=False)
    changed: dict[str, str] = field(default_factory=dict, repr=False)
    """Keys a charger Accepted (WP A01.FR.03): the only ones it gets in with."""
    pending: dict[str, str] = field(default_factory=dict, repr=False)
    """Keys a charger answered RebootRequired to: accepted beside the current one until
    the charger first connects with it."""

    @classmethod
    def from_file(cls, path: Path) -> Credentials:
        """Lines ``CP001:password``; blank lines and ``#`` comments ignored."""
        table: dict[str, str] = {}
        for number, line in enumerate(path.read_text().splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            cp_id, sep, password = line.partition(":")
            if not sep:
                raise ValueError(f"{path}:{number}: expected 'chargePointId:password'")
            table[cp_id.strip()] = password.strip()
        return cls(per_charger=table)

    def current(self, charge_point_id: str) -> str | None:
        """The key this charger must present (None: it cannot get in)."""
        if charge_point_id in self.changed:
            return self.changed[charge_point_id]
        if self.per_charger is not None:
            return self.per_charger.get(charge_point_id)
        return self.shared

    def check(self, charge_point_id: str, user: str, password: str) -> bool:
        """Whether ``user:password`` lets this charger in; its first connection with a
        pending key makes that key its only one."""
        if user != charge_point_id:
            return False
        pending = self.pending.get(charge_point_id)
        if pending is not None and _same(pending, password):
            self.changed[charge_point_id] = self.pending.pop(charge_point_id)
            log.info("%s: connected with its new AuthorizationKey; the old one is void", user)
            return True
        expected = self.current(charge_point_id)
        return expected is not None and _same(expected, password)

    def adopt(self, charge_point_id: str, payload: dict[str, Any], answer: dict[str, Any]) -> None:
        """Take in the answer to a ChangeConfiguration the CSMS sent this charger."""
        key, value = payload.get("key"), payload.get("value")
        if not isinstance(key, str) or key.lower() not in SECRET_KEYS:
            return
        if not isinstance(value, str):
            return
        status = answer.get("status")
        if status == "Accepted":  # A01.FR.03: final, the old key is void now
            self.changed[charge_point_id] = value
            self.pending.pop(charge_point_id, None)
            log.info("%s: new AuthorizationKey Accepted; only it is accepted now", charge_point_id)
        elif status == "RebootRequired":
            self.pending[charge_point_id] = value
            log.info(
                "%s: new AuthorizationKey in force after a reboot; both accepted till then",
                charge_point_id,
            )
        else:  # A01.FR.04
            log.info("%s: new AuthorizationKey %s; the old one stays", charge_point_id, status)


def _same(expected: str, given: str) -> bool:
    """Constant-time comparison (a password check must not tell how much matched)."""
    return hmac.compare_digest(expected.encode(), given.encode())
