"""Charging profiles: parsing, the validation rules of SetChargingProfile (reference §2.3),
install/replace/clear (§2.4) and TxProfiles bound to their transaction."""

from __future__ import annotations

from typing import Any

import pytest

from chargepoint.core.smart.installed import InstalledProfiles, ProfileRules, check_set
from chargepoint.core.smart.profiles import (
    ProfileKind,
    ProfileRefused,
    Purpose,
    Recurrency,
    anchored,
    parse_profile,
)

from .builders import DAY, T0, profile

RULES = ProfileRules(connectors=2, max_stack_level=8, max_periods=4, max_installed=3)


def refusal(
    data: Any,
    connector: int = 1,
    running: dict[int, int | None] | None = None,
    rules: ProfileRules = RULES,
    installed: InstalledProfiles | None = None,
    remote: bool = False,
) -> ProfileRefused:
    with pytest.raises(ProfileRefused) as caught:
        p = parse_profile(data, rules.max_periods)
        check_set(connector, p, rules, installed or InstalledProfiles(), running or {}, remote)
    return caught.value


def accept(
    data: dict[str, Any],
    connector: int = 1,
    running: dict[int, int | None] | None = None,
    installed: InstalledProfiles | None = None,
) -> None:
    p = parse_profile(data, RULES.max_periods)
    check_set(connector, p, RULES, installed or InstalledProfiles(), running or {})


def test_a_profile_is_parsed_with_its_times_as_epoch_seconds_and_round_trips() -> None:
    data = profile(
        7,
        "TxDefaultProfile",
        2,
        [(0, 16.0, 1), (600, 8.0)],
        "A",
        "Recurring",
        T0,
        3600,
        "Daily",
        T0 - 10,
        T0 + DAY,
    )
    p = parse_profile(data, 4)
    assert (p.profile_id, p.stack_level, p.purpose, p.kind, p.recurrency) == (
        7,
        2,
        Purpose.TX_DEFAULT,
        ProfileKind.RECURRING,
        Recurrency.DAILY,
    )
    assert (p.schedule.start, p.valid_from, p.valid_to, p.schedule.duration) == (
        T0,
        T0 - 10,
        T0 + DAY,
        3600,
    )
    assert [(x.start, x.limit, x.phases) for x in p.schedule.periods] == [
        (0, 16.0, 1),
        (600, 8.0, None),
    ]
    assert parse_profile(p.to_ocpp(), 4) == p
    assert p.to_ocpp()["chargingSchedule"]["startSchedule"] == "2030-01-01T00:00:00.000Z"


def test_fractional_seconds_and_offsets_are_accepted() -> None:  # §3.15
    data = profile()
    data["validFrom"] = "2030-01-01T02:00:00.250+02:00"
    assert parse_profile(data, 4).valid_from == T0 + 0.25


@pytest.mark.parametrize(
    ("change", "rule"),
    [
        (
            lambda d: d["chargingSchedule"]["chargingSchedulePeriod"][0].update(startPeriod=5),
            "first startPeriod must be 0",
        ),
        (
            lambda d: d["chargingSchedule"]["chargingSchedulePeriod"].append(
                {"startPeriod": 0, "limit": 1}
            ),
            "strictly increase",
        ),
        (
            lambda d: d["chargingSchedule"]["chargingSchedulePeriod"][0].update(limit=-1),
            "limit must not be negative",
        ),
        (
            lambda d: d["chargingSchedule"]["chargingSchedulePeriod"][0].update(numberPhases=4),
            "numberPhases",
        ),
        (lambda d: d["chargingSchedule"].update(chargingSchedulePeriod=[]), "is empty"),
        (lambda d: d["chargingSchedule"].update(duration=-1), "duration"),
        (lambda d: d.update(chargingProfileKind="Recurring"), "needs a recurrencyKind"),
        (lambda d: d.update(recurrencyKind="Daily"), "E3.56"),
        (lambda d: d.update(transactionId=5), "only valid in a TxProfile"),
        (lambda d: d.update(stackLevel=-1), "stackLevel must not be negative"),
        (
            lambda d: d.update(validFrom="2030-01-02T00:00:00Z", validTo="2030-01-01T00:00:00Z"),
            "validTo must be after validFrom",
        ),
    ],
)
def test_a_profile_breaking_a_rule_of_its_own_is_rejected(change: Any, rule: str) -> None:
    data = profile(periods=[(0, 16.0)])
    change(data)
    refused = refusal(data)
    assert rule in refused.rule
    assert refused.error_code is None  # status Rejected


def test_recurring_needs_a_start_schedule() -> None:
    refused = refusal(profile(kind="Recurring", recurrency="Daily", start=None))
    assert "startSchedule" in refused.rule and refused.error_code is None


def test_charge_point_max_cannot_be_relative_and_starts_when_received() -> None:
    assert "Relative" in refusal(profile(purpose="ChargePointMaxProfile", kind="Relative"), 0).rule
    p = parse_profile(profile(purpose="ChargePointMaxProfile", start=None), 4)
    assert anchored(p, T0 + 5).schedule.start == T0 + 5
    tx_default = parse_profile(profile(start=None), 4)
    assert anchored(tx_default, T0).schedule.start is None  # it starts with its transaction


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({**profile(), "chargingProfilePurpose": "Max"}, "PropertyConstraintViolation"),  # E3.38
        ({**profile(), "stackLevel": "1"}, "TypeConstraintViolation"),
        ({**profile(), "stackLevel": True}, "TypeConstraintViolation"),
        ({**profile(), "chargingProfileId": 2**31}, "PropertyConstraintViolation"),
        ({**profile(), "validFrom": "yesterday"}, "PropertyConstraintViolation"),
        (
            {**profile(), "validFrom": "2030-01-01T00:00:00Z" + "0" * 100},
            "PropertyConstraintViolation",
        ),
        ({k: v for k, v in profile().items() if k != "chargingSchedule"}, "ProtocolError"),
        ("not an object", "TypeConstraintViolation"),
    ],
)
def test_a_malformed_profile_is_a_callerror(data: Any, code: str) -> None:
    """Routing's schema check catches these from the CSMS; from disk they must not pass."""
    assert refusal(data).error_code == code


def test_periods_are_bounded_before_they_are_read() -> None:
    data = profile(periods=[(i * 60, 10.0) for i in range(5)])  # ChargingScheduleMaxPeriods 4
    assert "ChargingScheduleMaxPeriods" in refusal(data).rule
    huge = profile()
    huge["chargingSchedule"]["chargingSchedulePeriod"] = [None] * 10**6
    assert "ChargingScheduleMaxPeriods" in refusal(huge).rule


def test_limits_are_taken_to_one_decimal() -> None:
    data = profile(periods=[(0, 16.04)])
    assert parse_profile(data, 4).schedule.periods[0].limit == 16.0


def test_unknown_connector_is_a_property_constraint_violation_or_configurably_rejected() -> None:
    refused = refusal(profile(), connector=3)
    assert refused.error_code == "PropertyConstraintViolation"  # E3.39
    lenient = ProfileRules(connectors=2, unknown_connector_is_error=False)
    assert refusal(profile(), connector=3, rules=lenient).error_code is None


@pytest.mark.parametrize(
    ("data", "connector", "running", "rule"),
    [
        (profile(purpose="ChargePointMaxProfile"), 1, {}, "only be set on connector 0"),
        (profile(purpose="TxProfile"), 0, {1: 5}, "not 0"),
        (profile(purpose="TxProfile"), 1, {}, "no transaction on connector 1"),
        (profile(purpose="TxProfile"), 1, {2: 5}, "no transaction on connector 1"),
        (profile(purpose="TxProfile", transaction_id=6), 1, {1: 5}, "transactionId 6"),
        (profile(purpose="TxProfile", transaction_id=6), 1, {1: None}, "transactionId 6"),
        (profile(stack=9), 1, {}, "ChargeProfileMaxStackLevel"),
    ],
)
def test_where_and_when_a_profile_may_be_set(
    data: dict[str, Any], connector: int, running: dict[int, int | None], rule: str
) -> None:
    refused = refusal(data, connector, running)
    assert rule in refused.rule and refused.error_code is None


def test_a_tx_profile_with_the_running_transaction_or_none_is_accepted() -> None:
    accept(profile(purpose="TxProfile", transaction_id=5), 1, {1: 5})
    accept(profile(purpose="TxProfile"), 1, {1: None})
    accept(profile(stack=8), 0)
    accept(profile(purpose="ChargePointMaxProfile"), 0)


def test_allowed_units_follow_the_configuration() -> None:  # E3.88
    current_only = ProfileRules(connectors=2, allowed_units=frozenset({"A"}))
    assert (
        "ChargingScheduleAllowedChargingRateUnit"
        in refusal(profile(unit="W", periods=[(0, 11000.0)]), rules=current_only).rule
    )


def test_remote_start_profile_must_be_a_tx_profile_without_a_transaction() -> None:
    assert "must be a TxProfile" in refusal(profile(), remote=True).rule
    assert "E3.41" in refusal(profile(purpose="TxProfile", transaction_id=1), remote=True).rule
    p = parse_profile(profile(purpose="TxProfile"), 4)
    check_set(1, p, RULES, InstalledProfiles(), {}, for_remote_start=True)  # no transaction yet


def _install(
    installed: InstalledProfiles,
    connector: int,
    data: dict[str, Any],
    running: dict[int, int | None] | None = None,
) -> list[int]:
    p = parse_profile(data, 4)
    check_set(connector, p, RULES, installed, running or {})
    return installed.install(connector, p)


def test_same_id_replaces_anywhere_and_same_stack_and_purpose_replaces_per_connector() -> None:
    installed = InstalledProfiles()
    _install(installed, 0, profile(1, stack=1))
    _install(installed, 2, profile(2, stack=1))  # §3.13.1: connector 0's and 2's coexist
    assert sorted(e.profile.profile_id for e in installed) == [1, 2]
    assert _install(installed, 2, profile(3, stack=1)) == [2]  # same stack+purpose on 2
    assert _install(installed, 1, profile(1, stack=4)) == []  # same id: moved, not counted
    assert {(e.connector_id, e.profile.profile_id, e.profile.stack_level) for e in installed} == {
        (1, 1, 4),
        (2, 3, 1),
    }
    _install(installed, 0, profile(4, purpose="ChargePointMaxProfile", stack=1))  # other purpose
    assert len(installed) == 3


def test_max_profiles_installed_counts_after_replacement() -> None:
    installed = InstalledProfiles()
    for i in range(3):
        _install(installed, 0, profile(i + 1, stack=i))
    assert (
        "MaxChargingProfilesInstalled" in refusal(profile(9, stack=5), 0, installed=installed).rule
    )
    assert _install(installed, 0, profile(9, stack=2)) == [3]  # a replacement still fits


def test_clear_matches_every_given_field_and_an_id_alone() -> None:
    def fresh() -> InstalledProfiles:
        installed = InstalledProfiles()
        _install(installed, 0, profile(1, stack=1))
        _install(installed, 0, profile(2, "ChargePointMaxProfile", stack=1))
        _install(installed, 1, profile(3, stack=1))
        return installed

    assert sorted(fresh().clear()) == [1, 2, 3]  # E3.25: nothing given clears all
    assert fresh().clear(profile_id=3, connector_id=0) == [3]  # E3.26: id ignores the rest
    assert fresh().clear(profile_id=99) == []  # Unknown
    assert fresh().clear(connector_id=0) == [1, 2]  # 0: the profiles set for the whole charger
    assert fresh().clear(purpose=Purpose.TX_DEFAULT) == [1, 3]  # absent connector: any
    assert fresh().clear(connector_id=1, purpose=Purpose.CHARGE_POINT_MAX) == []
    assert fresh().clear(stack_level=1, purpose=Purpose.CHARGE_POINT_MAX) == [2]


def test_tx_profiles_go_with_their_transaction_and_are_bound_to_its_id() -> None:
    installed = InstalledProfiles()
    _install(installed, 1, profile(1, "TxProfile", 1), {1: None})
    _install(installed, 1, profile(2, "TxProfile", 2, transaction_id=7), {1: 7})
    _install(installed, 1, profile(3, stack=1))
    bound = installed.bind_transaction(1, 7)
    assert [(e.profile.profile_id, e.profile.transaction_id) for e in bound] == [(1, 7)]
    assert sorted(installed.remove_tx_profiles(1)) == [1, 2]  # §3.13.1
    assert [e.profile.profile_id for e in installed] == [3]
