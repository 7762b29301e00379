"""Reservation (§5.1, §5.13): ReserveNow, CancelReservation, and every way a
reservation ends."""

from __future__ import annotations

from .csms_calls import CsmsCalls


class ReservationCalls(CsmsCalls):
    pass
