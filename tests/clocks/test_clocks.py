"""The injected clock: charger UNIX time from the loop's time source, scaled or virtual."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from chargepoint.clocks import (
    Clock,
    format_epoch,
    loop_clock,
    ocpp_time,
    parse_time,
    real_clock,
    scaled_clock,
    virtual_clock,
)
from chargepoint.virtualtime import VirtualTime, run_virtual

START = datetime(2030, 1, 1, tzinfo=UTC)
START_T = START.timestamp()  # 1893456000.0


class FakeSource:
    """A loop time source the test moves by hand."""

    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_scaled_clock_maps_charger_time_to_source_time() -> None:
    source = FakeSource(100.0)
    clock = Clock(scale=10, start=START, source=source)

    assert clock.kind == "scaled"
    assert clock.time() == START_T
    source.t = 101.0  # one source second is ten charger seconds
    assert clock.time() == START_T + 10
    assert clock.now() == START + timedelta(seconds=10)
    assert clock.timestamp() == "2030-01-01T00:00:10.000Z"
    # ...and back: the source value (loop.call_at's "when") at which a charger time is reached
    assert clock.source_time(START_T + 50) == 105.0
    assert clock.source_time(START_T) == 100.0
    assert clock.real(60) == 6.0


def test_time_never_goes_backwards_even_if_the_source_does() -> None:
    source = FakeSource(100.0)
    clock = Clock(start=START, source=source)
    readings = []
    for t in (100.0, 101.0, 100.5, 99.0, 101.0, 102.0):
        source.t = t
        readings.append(clock.time())
    assert readings == sorted(readings)
    assert readings[-1] == START_T + 2


def test_naive_start_means_utc() -> None:
    clock = Clock(start=datetime(2030, 1, 1), source=FakeSource())
    assert clock.timestamp() == "2030-01-01T00:00:00.000Z"


def test_scale_must_be_positive() -> None:
    for bad in (0, -1, float("nan")):
        with pytest.raises(ValueError):
            Clock(scale=bad)


def test_kinds() -> None:
    assert real_clock().kind == "real"
    assert scaled_clock(60).kind == "scaled"
    assert scaled_clock(60).scale == 60
    vt = VirtualTime()
    assert virtual_clock(vt).kind == "virtual"
    assert Clock(source=vt.time).kind == "virtual"


def test_real_clock_starts_at_the_wall_clock() -> None:
    before = datetime.now(UTC)
    clock = real_clock()
    after = datetime.now(UTC)
    assert before - timedelta(seconds=1) <= clock.now() <= after + timedelta(seconds=1)


def test_ocpp_time_and_parse_time_round_trip() -> None:
    text = "2030-01-01T00:00:00.000Z"
    when = parse_time(text)
    assert when == START
    assert ocpp_time(when) == text
    assert ocpp_time(START + timedelta(microseconds=123_999)) == "2030-01-01T00:00:00.123Z"
    # an offset is converted to UTC
    plus2 = parse_time("2030-01-01T02:00:00+02:00")
    assert plus2 is not None and ocpp_time(plus2) == text
    assert ocpp_time(START.astimezone(timezone(timedelta(hours=-5)))) == text
    assert parse_time("not a time") is None
    assert format_epoch(START_T) == text
    assert format_epoch(START_T + 86400.5) == "2030-01-02T00:00:00.500Z"


async def test_scaled_clock_sleeps_in_charger_time() -> None:
    clock = scaled_clock(1000)  # 10 charger seconds are 10 ms
    before = clock.time()
    await clock.sleep(10)
    assert clock.time() - before >= 10 - 1e-3
    target = clock.time() + 20
    await clock.sleep_until(target)
    # asyncio fires a timer up to its clock resolution (1 ns) early: 1 us charger time
    assert clock.time() >= target - 1e-3
    await clock.sleep_until(target - 5)  # already passed: returns at once


def test_virtual_clock_sleep_until_is_exact_and_clocks_agree() -> None:
    async def main() -> tuple[float, float, float, str]:
        first = loop_clock()
        await first.sleep_until(first.start + 3600)
        later = loop_clock()  # made an hour in: reads the same time as the first
        await first.sleep(0.25)
        return first.time() - first.start, first.time(), later.time(), later.timestamp()

    elapsed, first_t, later_t, stamp = run_virtual(main(), start=START)
    assert elapsed == 3600.25
    assert first_t == later_t == START_T + 3600.25
    assert stamp == "2030-01-01T01:00:00.250Z"


async def test_loop_clock_is_real_on_an_ordinary_loop() -> None:
    assert loop_clock().kind == "real"
