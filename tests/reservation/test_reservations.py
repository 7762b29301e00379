"""Reservation through the core (§5.13, §5.1): every status of ReserveNow and
CancelReservation, the Reserved status, who may charge on a reserved connector,
reservationId in StartTransaction (§4.8), and every way a reservation ends."""

from __future__ import annotations

from typing import Any

import pytest
from core.harness import Harness, MemoryStore, iso  # tests/ is on sys.path (rootdir packages)

from chargepoint.core import events as ev
from chargepoint.core.profiles import parse_profiles
from chargepoint.core.records import ReservationRecord


def online(connectors: int = 2, store: MemoryStore | None = None, **config: str) -> Harness:
    h = Harness(connectors=connectors, config=config, store=store)
    h.boot(interval=3600)
    return h


def reserve(
    h: Harness,
    connector: int = 1,
    id_tag: str = "ME",
    rid: int = 1,
    expires_in: float = 600,
    parent: str | None = None,
) -> str:
    payload: dict[str, Any] = {
        "connectorId": connector,
        "expiryDate": iso(h.now + expires_in),
        "idTag": id_tag,
        "reservationId": rid,
    }
    if parent is not None:
        payload["parentIdTag"] = parent
    answer = h.csms_call("ReserveNow", payload, uid=f"rn{len(h.sent)}")
    assert answer[0] == 3, answer
    return str(answer[2]["status"])


def cancel(h: Harness, rid: int) -> str:
    answer = h.csms_call("CancelReservation", {"reservationId": rid}, uid=f"cr{len(h.sent)}")
    return str(answer[2]["status"])


def statuses(h: Harness, connector: int) -> list[str]:
    """Every status the CSMS was told for ``connector``, in order."""
    return [
        c[3]["status"] for c in h.calls("StatusNotification") if c[3]["connectorId"] == connector
    ]


def started(h: Harness) -> list[dict[str, Any]]:
    return [c[3] for c in h.calls("StartTransaction")]


def authorize_with(h: Harness, parent: str | None = None) -> None:
    """Answer everything; Authorize says Accepted with this parentIdTag."""
    while (flight := h.in_flight()) is not None:
        answer = h.default_answer(flight[2])
        if flight[2] == "Authorize" and parent is not None:
            answer["idTagInfo"]["parentIdTag"] = parent
        h.answer(answer)


# --- ReserveNow's statuses --------------------------------------------------------------


def test_accepted_the_connector_is_reserved_and_the_reservation_kept() -> None:
    h = online()
    assert reserve(h, 1, "ME", 7) == "Accepted"
    h.answer_all()
    assert statuses(h, 1)[-1] == "Reserved"
    assert h.store.reservations == {7: ReservationRecord(7, 1, "ME", None, iso(h.now + 600))}
    assert h.timers["reservation:7"] == h.now + 600


def faulted(h: Harness) -> None:
    h.feed(ev.Fault(1))


def unavailable(h: Harness) -> None:
    h.csms_call("ChangeAvailability", {"connectorId": 1, "type": "Inoperative"}, uid="ca")


def station_unavailable(h: Harness) -> None:
    h.csms_call("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}, uid="ca")


def charging(h: Harness) -> None:
    h.feed(ev.StartCharging(1, "OTHER"))


def plugged(h: Harness) -> None:
    h.feed(ev.PlugIn(1))


def reserved_by_another(h: Harness) -> None:
    assert reserve(h, 1, "OTHER", 99) == "Accepted"


@pytest.mark.parametrize(
    ("setup", "status"),
    [
        (faulted, "Faulted"),
        (unavailable, "Unavailable"),
        (station_unavailable, "Unavailable"),
        (charging, "Occupied"),
        (plugged, "Occupied"),  # Preparing
        (reserved_by_another, "Occupied"),
    ],
)
def test_a_connector_that_cannot_be_reserved(setup: Any, status: str) -> None:
    h = online()
    setup(h)
    kept = dict(h.store.reservations)
    assert reserve(h, 1, "ME", 1) == status
    assert h.store.reservations == kept and "reservation:1" not in h.timers


@pytest.mark.parametrize(
    ("connector", "expires_in", "config"),
    [
        (0, 600, {"ReserveConnectorZeroSupported": "false"}),  # §5.13
        (3, 600, {}),  # no such connector
        (1, -1, {}),  # expiryDate already passed
    ],
)
def test_rejected(connector: int, expires_in: float, config: dict[str, str]) -> None:
    h = online(**config)
    assert reserve(h, connector, "ME", 1, expires_in) == "Rejected"
    assert h.store.reservations == {}


def test_without_the_profile_reserve_now_is_not_supported() -> None:
    h = Harness(feature_profiles=parse_profiles("Core"))
    h.boot(interval=3600)
    payload = {"connectorId": 1, "expiryDate": iso(h.now + 60), "idTag": "ME", "reservationId": 1}
    assert h.csms_call("ReserveNow", payload, uid="rn")[:3] == [4, "rn", "NotSupported"]


def test_the_same_reservation_id_replaces_the_reservation() -> None:
    h = online()
    reserve(h, 1, "ME", 5)
    assert reserve(h, 2, "ME", 5, expires_in=900) == "Accepted"
    h.answer_all()
    assert (statuses(h, 1)[-1], statuses(h, 2)[-1]) == ("Available", "Reserved")
    assert list(h.store.reservations) == [5] and h.store.reservations[5].connector_id == 2
    assert "reservation:5" in h.timers and h.timers["reservation:5"] == h.now + 900


# --- who may charge, and the reservation used -------------------------------------------


def test_the_reserved_tag_charges_and_start_transaction_names_the_reservation() -> None:
    h = online()
    reserve(h, 1, "ME", 3)
    h.feed(ev.PresentIdTag(1, "me", "card"))
    authorize_with(h)
    assert h.outcomes == {"card": "Accepted"}
    assert started(h)[0]["reservationId"] == 3
    assert h.store.reservations == {} and "reservation:3" not in h.timers
    assert statuses(h, 1)[-3:] == ["Reserved", "Preparing", "Charging"]  # G2, no Available


def test_another_tag_is_refused_one_with_the_same_parent_charges() -> None:
    h = online()
    reserve(h, 1, "ME", 3, parent="FAMILY")
    h.feed(ev.PresentIdTag(1, "STRANGER", "stranger"))
    authorize_with(h, parent="OTHERS")
    assert h.outcomes == {"stranger": "Reserved"} and started(h) == []
    h.feed(ev.PresentIdTag(1, "SPOUSE", "spouse"))
    authorize_with(h, parent="FAMILY")
    assert h.outcomes["spouse"] == "Accepted"
    assert started(h)[0]["idTag"] == "SPOUSE" and started(h)[0]["reservationId"] == 3


def test_a_forced_start_on_a_reserved_connector_ends_the_reservation() -> None:
    h = online()
    reserve(h, 1, "ME", 3)
    h.feed(ev.StartCharging(1, "OTHER"))
    h.answer_all()
    assert "reservationId" not in started(h)[0] and h.store.reservations == {}


def test_remote_start_for_another_tag_on_a_reserved_connector_is_rejected() -> None:
    h = online(connectors=1)
    reserve(h, 1, "ME", 3)
    answer = h.csms_call("RemoteStartTransaction", {"idTag": "OTHER", "connectorId": 1})
    assert answer[2] == {"status": "Rejected"}
    answer = h.csms_call("RemoteStartTransaction", {"idTag": "ME"}, uid="c2")
    assert answer[2] == {"status": "Accepted"}
    h.answer_all()
    assert started(h)[0]["reservationId"] == 3


def test_remote_start_without_a_connector_takes_the_one_reserved_for_the_tag() -> None:
    h = online(connectors=2)
    reserve(h, 2, "ME", 3)
    assert h.csms_call("RemoteStartTransaction", {"idTag": "ME"})[2] == {"status": "Accepted"}
    h.answer_all()
    assert started(h)[0]["connectorId"] == 2 and started(h)[0]["reservationId"] == 3


# --- connector 0 --------------------------------------------------------------------------


def test_a_connector_0_reservation_keeps_one_connector_free_for_its_tag() -> None:
    h = online(connectors=2)
    assert reserve(h, 0, "ME", 9) == "Accepted"
    h.answer_all()
    assert statuses(h, 1)[-1] == statuses(h, 2)[-1] == "Available"
    h.feed(ev.PresentIdTag(1, "A", "a"))
    authorize_with(h)
    h.feed(ev.PresentIdTag(2, "B", "b"))
    authorize_with(h)
    assert h.outcomes == {"a": "Accepted", "b": "Reserved"}
    h.feed(ev.PresentIdTag(2, "ME", "me"))
    authorize_with(h)
    assert started(h)[-1]["idTag"] == "ME" and started(h)[-1]["reservationId"] == 9
    assert h.store.reservations == {}


def test_connector_0_is_occupied_when_no_connector_is_left_free() -> None:
    h = online(connectors=1)
    assert reserve(h, 0, "ME", 1) == "Accepted"
    assert reserve(h, 0, "YOU", 2) == "Occupied"
    assert reserve(h, 1, "YOU", 2) == "Occupied"


# --- how a reservation ends ---------------------------------------------------------------


def test_it_expires_on_the_chargers_clock_and_the_connector_is_available_again() -> None:
    h = online()
    reserve(h, 1, "ME", 4, expires_in=300)
    h.advance(299)
    assert h.store.reservations
    h.advance(2)
    h.answer_all()
    assert h.store.reservations == {} and statuses(h, 1)[-2:] == ["Reserved", "Available"]
    h.feed(ev.PresentIdTag(1, "OTHER", "card"))
    authorize_with(h)
    assert h.outcomes == {"card": "Accepted"} and "reservationId" not in started(h)[0]


def test_its_expiry_is_wall_time_the_timer_follows_the_csms_clock() -> None:
    h = Harness(connectors=1)
    h.feed(ev.LinkUp())
    h.answer({"status": "Accepted", "currentTime": iso(h.now + 3600), "interval": 3600})
    h.answer_all()
    payload = {"connectorId": 1, "expiryDate": iso(h.now + 3600 + 120), "idTag": "ME"}
    h.csms_call("ReserveNow", {**payload, "reservationId": 1})
    assert h.timers["reservation:1"] == pytest.approx(h.now + 120, abs=1)
    h.advance(121)
    assert h.store.reservations == {}


@pytest.mark.parametrize(
    ("ending", "status"),
    [(faulted, "Faulted"), (unavailable, "Unavailable"), (station_unavailable, "Unavailable")],
)
def test_a_fault_or_unavailability_ends_it(ending: Any, status: str) -> None:
    h = online()
    reserve(h, 1, "ME", 4)
    ending(h)
    h.answer_all()
    assert h.store.reservations == {} and "reservation:4" not in h.timers
    assert statuses(h, 1)[-1] == status
    h.feed(ev.ClearFault(1))
    h.csms_call("ChangeAvailability", {"connectorId": 0, "type": "Operative"}, uid="back")
    h.answer_all()
    assert statuses(h, 1)[-1] == "Available"  # not Reserved again


def test_cancel_ends_it_an_unknown_id_is_rejected() -> None:
    h = online()
    reserve(h, 1, "ME", 4)
    assert cancel(h, 5) == "Rejected"
    assert cancel(h, 4) == "Accepted"
    h.answer_all()
    assert h.store.reservations == {} and statuses(h, 1)[-2:] == ["Reserved", "Available"]
    assert cancel(h, 4) == "Rejected"


# --- across a power loss ----------------------------------------------------------------


def test_a_reservation_survives_a_power_loss_and_expires_on_time() -> None:
    h = online()
    reserve(h, 1, "ME", 4, expires_in=600)
    h2 = h.power_loss(after=100)
    assert h2.timers["reservation:4"] == pytest.approx(h.now + 600)
    h2.boot(interval=3600)
    assert statuses(h2, 1) == ["Reserved"]
    h2.feed(ev.PresentIdTag(1, "OTHER", "card"))
    authorize_with(h2)
    assert h2.outcomes == {"card": "Reserved"}
    h2.advance(501)
    assert h2.store.reservations == {}


def test_one_that_expired_while_the_charger_was_off_ends_at_start() -> None:
    h = online()
    reserve(h, 1, "ME", 4, expires_in=60)
    h2 = h.power_loss(after=120)
    assert h2.store.reservations == {}
    h2.boot(interval=3600)
    assert statuses(h2, 1) == ["Available"]


def test_a_stored_reservation_that_makes_no_sense_is_dropped() -> None:
    store = MemoryStore(
        reservations={
            1: ReservationRecord(1, 7, "ME", None, iso(10**10)),  # no connector 7
            2: ReservationRecord(2, 1, "ME", None, "someday"),
            3: ReservationRecord(3, 1, "YOU", None, iso(10**10)),
        }
    )
    h = Harness(connectors=1, store=store)
    assert list(h.store.reservations) == [3]
    assert h.core.connectors[1].status == "Reserved"


def test_a_reservation_id_outside_32_bits_is_a_callerror_and_nothing_is_kept() -> None:
    # OCPP-J integers are 32-bit; the real store could not keep a larger id
    h = online()
    payload = {"connectorId": 1, "expiryDate": iso(h.now + 600), "idTag": "ME"}
    answer = h.csms_call("ReserveNow", {**payload, "reservationId": 2**31}, uid="big")
    assert answer[:3] == [4, "big", "PropertyConstraintViolation"]
    assert h.store.reservations == {}
    assert reserve(h, rid=2**31 - 1) == "Accepted"
