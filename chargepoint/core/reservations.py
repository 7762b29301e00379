"""Reservation (§5.1, §5.13): ReserveNow, CancelReservation, and every way a
reservation ends.

A reservation holds one connector (shown Reserved, §4.9) or, on connector 0, any one
of them: then enough connectors stay free for all connector-0 reservations (as
MicroOcpp does; no connector shows Reserved for them, which the spec leaves open).
Only the reserved idTag, or one with the reservation's parentIdTag, may charge there
(:meth:`may_charge`).  It ends (§4.4 of the reference):

- used: a transaction starts for it, whose StartTransaction names it (§4.8,
  :meth:`start_extras`); any other transaction starting on its connector ends it too;
- expired: its expiryDate (wall time) reached on the charger's clock;
- the charger or its connector goes Faulted or Unavailable;
- CancelReservation.

Reservations are kept in the store (SaveReservation / DeleteReservation); one whose
expiryDate passed while the charger was off ends at start.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from ocpp.exceptions import PropertyConstraintViolationError
from ocpp.routing import on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from chargepoint.timefmt import parse_epoch

from .actions import ArmTimer, CancelTimer, DeleteReservation, SaveReservation
from .authorization import ID_TAG_MAX_LENGTH, same_id_tag
from .connectors import Connector
from .csms_calls import CsmsCalls
from .records import ReservationRecord, StoredState, TransactionRecord
from .settings import CoreSettings, Identity
from .smart.profiles import MAX_INT32

log = logging.getLogger("cpsim.core")

RESERVATION_TIMER: Final = "reservation:"
"""Timer ``reservation:<reservationId>``: its expiryDate."""
OCCUPIED: Final = frozenset({"Preparing", "Charging", "SuspendedEV", "SuspendedEVSE", "Finishing"})
"""Statuses in which a connector cannot be reserved (§5.13: Occupied)."""
ENDING_STATUSES: Final = frozenset({"Faulted", "Unavailable"})
"""A connector (or the charger, connector 0) entering these ends its reservations (§5.13)."""


class ReservationCalls(CsmsCalls):
    def __init__(
        self, identity: Identity, settings: CoreSettings, stored: StoredState, now: float
    ) -> None:
        # before the lower layers start: their start-up may already refresh a status
        self.reservations: dict[int, ReservationRecord] = {}
        super().__init__(identity, settings, stored, now)
        for record in stored.reservations:
            self._restore_reservation(record)

    # --- restore (what comes from disk is checked) ------------------------------------

    def _restore_reservation(self, record: ReservationRecord) -> None:
        problem = self._stored_problem(record)
        if problem is not None:
            log.warning(
                "%s: stored reservation %d dropped: %s",
                self.identity.charge_point_id,
                record.reservation_id,
                problem,
            )
            self.emit(DeleteReservation(record.reservation_id))
            return
        expiry = parse_epoch(record.expiry)
        if expiry is not None and expiry <= self.wall():
            self.emit(DeleteReservation(record.reservation_id))
            self.timeline(
                "reservation",
                record.connector_id or None,
                ended=record.reservation_id,
                reason="Expired",
            )
            return
        self.reservations[record.reservation_id] = record
        if record.connector_id:
            connector = self.connectors[record.connector_id]
            connector.reserved = record.reservation_id
            connector.status = connector.derived_status()
        self._arm_expiry(record)

    def _stored_problem(self, record: ReservationRecord) -> str | None:
        if record.connector_id not in self.connectors:
            return f"this charger has no connector {record.connector_id}"
        if record.connector_id and self.connectors[record.connector_id].transaction is not None:
            return f"connector {record.connector_id} has a transaction"
        if record.connector_id and self.connectors[record.connector_id].reserved is not None:
            return f"connector {record.connector_id} is reserved twice"
        if not 0 < len(record.id_tag) <= ID_TAG_MAX_LENGTH:
            return "its idTag is not 1 to 20 characters"
        if record.parent_id_tag is not None and not (
            0 < len(record.parent_id_tag) <= ID_TAG_MAX_LENGTH
        ):
            return "its parentIdTag is not 1 to 20 characters"
        if parse_epoch(record.expiry) is None:
            return "its expiryDate is not an OCPP dateTime"
        return None

    # --- ReserveNow (§5.13) and CancelReservation (§5.1) ------------------------------

    @on(Action.reserve_now)
    def on_reserve_now(
        self,
        connector_id: int,
        expiry_date: str,
        id_tag: str,
        reservation_id: int,
        parent_id_tag: str | None = None,
        **_: Any,
    ) -> Any:
        if not -MAX_INT32 - 1 <= reservation_id <= MAX_INT32:
            # the schema's integer is a 32-bit int (OCPP-J §4.2.3); a larger id could not
            # be kept in the store, so it is refused before anything changes
            raise PropertyConstraintViolationError(
                description=f"reservationId {reservation_id} is not a 32-bit integer"
            )
        self._end_expired()
        status, reason = self._reserve_status(connector_id, expiry_date, reservation_id)
        if status != "Accepted":
            log.info("ReserveNow %d %s: %s", reservation_id, status, reason)
            self.timeline(
                "reservation",
                connector_id or None,
                refused=reservation_id,
                status=status,
                reason=reason,
            )
            return call_result.ReserveNow(status=status)
        record = ReservationRecord(reservation_id, connector_id, id_tag, parent_id_tag, expiry_date)
        self._install(record)
        return call_result.ReserveNow(status="Accepted")

    def _reserve_status(
        self, connector_id: int, expiry_date: str, reservation_id: int
    ) -> tuple[str, str]:
        """ReserveNow's answer in the reference's §4.2 order (MicroOcpp's), and why.  A
        reservation with the same id is replaced (§5.13): it does not count against its
        successor, but the successor must pass the same checks."""
        if connector_id == 0 and not self.config.get_bool("ReserveConnectorZeroSupported"):
            return "Rejected", "ReserveConnectorZeroSupported is false (§5.13)"
        if connector_id not in self.connectors:
            return "Rejected", f"this charger has no connector {connector_id}"
        expiry = parse_epoch(expiry_date)
        if expiry is None:
            return "Rejected", "expiryDate is not an OCPP dateTime"
        if expiry <= self.wall():
            return "Rejected", "expiryDate has already passed"
        station = self.connectors[0]
        others = [r for r in self.reservations.values() if r.reservation_id != reservation_id]
        zero = sum(1 for r in others if r.connector_id == 0)
        if connector_id == 0:
            plugs = [c for cid, c in self.connectors.items() if cid]
            if station.error_code != "NoError" or all(c.error_code != "NoError" for c in plugs):
                return "Faulted", "the charger is Faulted"
            if not station.operative or not any(c.operative for c in plugs):
                return "Unavailable", "the charger is Unavailable"
            if len(self._free_connectors(others)) <= zero:
                return "Occupied", "no connector is left free for another reservation"
            return "Accepted", ""
        target = self.connectors[connector_id]
        if station.error_code != "NoError" or target.error_code != "NoError":
            return "Faulted", f"connector {connector_id} or the charger is Faulted"
        if not station.operative or not target.operative:
            return "Unavailable", f"connector {connector_id} or the charger is Unavailable"
        if target.transaction is not None or target.status in OCCUPIED:
            return "Occupied", f"connector {connector_id} is {target.status}"
        if any(r.connector_id == connector_id for r in others):
            return "Occupied", f"connector {connector_id} is already reserved"
        free = self._free_connectors(others) - {connector_id}
        if len(free) < zero:
            return "Occupied", "the other connectors are held by connector 0 reservations"
        return "Accepted", ""

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, reservation_id: int, **_: Any) -> Any:
        record = self.reservations.get(reservation_id)
        if record is None:
            return call_result.CancelReservation(status="Rejected")
        self._end(record, "Cancelled")
        return call_result.CancelReservation(status="Accepted")

    # --- the hooks station_ops consults ----------------------------------------------

    def may_charge(self, connector_id: int, id_tag: str, parent_id_tag: str | None) -> bool:
        """§5.13: a reserved connector is for its idTag or its parentIdTag only; with
        connector-0 reservations, as many connectors stay free as they need."""
        self._end_expired()
        allowed = super().may_charge(connector_id, id_tag, parent_id_tag)
        connector = self.connectors.get(connector_id)
        held = (
            self.reservations.get(connector.reserved) if connector and connector.reserved else None
        )
        if held is not None:
            return allowed and self._holds(held, id_tag, parent_id_tag)
        zero = [r for r in self.reservations.values() if r.connector_id == 0]
        if not zero or any(self._holds(r, id_tag, parent_id_tag) for r in zero):
            return allowed
        free_elsewhere = self._free_connectors(list(self.reservations.values())) - {connector_id}
        return allowed and len(free_elsewhere) >= len(zero)

    def start_extras(self, connector_id: int, id_tag: str) -> dict[str, Any]:
        """The reservation this transaction uses: its id goes in StartTransaction (§4.8)
        and it ends (§5.13).  The connector's own first, else a connector-0 one."""
        extras = super().start_extras(connector_id, id_tag)
        self._end_expired()
        parent = self.known_parent(id_tag)
        connector = self.connectors[connector_id]
        mine = (
            [self.reservations[connector.reserved]]
            if connector.reserved in self.reservations
            else []
        )
        mine += [r for r in self.reservations.values() if r.connector_id == 0]
        used = next((r for r in mine if self._holds(r, id_tag, parent)), None)
        if used is not None:
            extras["reservationId"] = used.reservation_id
            # no status of its own: the transaction's (Preparing/Charging) follows at once
            self._end(used, "Used", refresh=False)
        return extras

    def transaction_started(self, tx: TransactionRecord) -> None:
        """Any transaction on a reserved connector ends its reservation (as MicroOcpp)."""
        super().transaction_started(tx)
        connector = self.connectors[tx.connector_id]
        held = self.reservations.get(connector.reserved) if connector.reserved else None
        if held is not None:
            self._end(held, "Occupied", refresh=False)
        connector.reserved = None

    def refresh_status(self, connector: Connector) -> None:
        """A connector (connector 0: the charger) gone Faulted or Unavailable ends its
        reservations (§5.13; G8, G9 of §4.9)."""
        super().refresh_status(connector)
        if connector.status not in ENDING_STATUSES:
            return
        for record in list(self.reservations.values()):
            if connector.id == 0 or record.connector_id == connector.id:
                self._end(record, connector.status)

    def layer_timer(self, name: str) -> bool:
        if not name.startswith(RESERVATION_TIMER):
            return super().layer_timer(name)
        record = self.reservations.get(int(name.removeprefix(RESERVATION_TIMER)))
        if record is not None:
            self._end_expired()
            if record.reservation_id in self.reservations:
                self._arm_expiry(record)  # early: the CSMS's clock moved back since
        return True

    # --- installing and ending --------------------------------------------------------

    def _holds(self, record: ReservationRecord, id_tag: str, parent: str | None) -> bool:
        return same_id_tag(record.id_tag, id_tag) or same_id_tag(record.parent_id_tag, parent)

    def _free_connectors(self, reservations: list[ReservationRecord]) -> set[int]:
        """Connectors that could take a transaction now and that none of ``reservations``
        holds."""
        held = {r.connector_id for r in reservations}
        return {
            cid
            for cid, c in self.connectors.items()
            if cid
            and cid not in held
            and c.operative
            and c.error_code == "NoError"
            and c.transaction is None
            and c.status not in OCCUPIED
        }

    def _install(self, record: ReservationRecord) -> None:
        touched: set[int] = set()
        old = self.reservations.pop(record.reservation_id, None)
        if old is not None:
            self.emit(CancelTimer(f"{RESERVATION_TIMER}{old.reservation_id}"))
            if old.connector_id:
                self.connectors[old.connector_id].reserved = None
                touched.add(old.connector_id)
            self.timeline(
                "reservation", old.connector_id or None, ended=old.reservation_id, reason="Replaced"
            )
        self.reservations[record.reservation_id] = record
        self.emit(SaveReservation(record))
        if record.connector_id:
            self.connectors[record.connector_id].reserved = record.reservation_id
            touched.add(record.connector_id)
        self._arm_expiry(record)
        self.timeline(
            "reservation",
            record.connector_id or None,
            reserved=record.reservation_id,
            idTag=record.id_tag,
            expiryDate=record.expiry,
        )
        for cid in sorted(touched):
            self.refresh_status(self.connectors[cid])  # Reserved (§4.9 A7), or Available

    def _end(self, record: ReservationRecord, reason: str, refresh: bool = True) -> None:
        if self.reservations.pop(record.reservation_id, None) is None:
            return
        self.emit(DeleteReservation(record.reservation_id))
        self.emit(CancelTimer(f"{RESERVATION_TIMER}{record.reservation_id}"))
        self.timeline(
            "reservation", record.connector_id or None, ended=record.reservation_id, reason=reason
        )
        connector = self.connectors.get(record.connector_id)
        if record.connector_id and connector and connector.reserved == record.reservation_id:
            connector.reserved = None
            if refresh:
                self.refresh_status(connector)  # G1: Available (or what else it now is)

    def _arm_expiry(self, record: ReservationRecord) -> None:
        """expiryDate is wall time: the timer is on the charger's clock (``at = expiry -
        offset``).  Should the offset change, the timer is checked when it fires, and every
        decision about the reservation checks its expiry first."""
        expiry = parse_epoch(record.expiry)
        if expiry is not None:
            at = max(self.now, expiry - self.offset)
            self.emit(ArmTimer(f"{RESERVATION_TIMER}{record.reservation_id}", at))

    def _end_expired(self) -> None:
        wall = self.wall()
        for record in list(self.reservations.values()):
            expiry = parse_epoch(record.expiry)
            if expiry is not None and expiry <= wall:
                self._end(record, "Expired")
