"""Each charger's back-off jitter: seeded per charger, within the bounds asked."""

from __future__ import annotations

import random
from typing import cast

from chargepoint.fleet.runner import JitterSource
from chargepoint.station.runner import Backoff


def test_a_charger_draws_the_same_delays_again_from_its_seed() -> None:
    def delays(seed: int) -> list[float]:
        backoff = Backoff(1.0, 60.0, 0.2, rng=cast(random.Random, JitterSource(seed)))
        return [backoff.next() for _ in range(8)]

    assert delays(7) == delays(7)
    assert delays(7) != delays(8)
    first = delays(7)
    assert 0.8 <= first[0] <= 1.0 and 1.6 <= first[1] <= 2.0
    assert all(48.0 <= d <= 60.0 for d in first[6:])


def test_draws_cover_the_range_evenly() -> None:
    source = JitterSource(1)
    draws = [source.uniform(0.0, 1.0) for _ in range(20_000)]
    assert min(draws) >= 0.0 and max(draws) < 1.0
    tenths = [sum(1 for d in draws if i / 10 <= d < (i + 1) / 10) for i in range(10)]
    assert min(tenths) > 1_700  # 2,000 expected in each tenth
