"""Hypothesis profiles for the property tests in this folder, and only for them.

The tests here take their settings from the profile named ``fuzz`` (each test is
decorated with it); nothing is loaded as Hypothesis's global default, so other
tests keep their own settings.  ``CPSIM_FUZZ_PROFILE`` picks what ``fuzz`` means:

* ``fuzz-ci`` (default): 200 examples per property, a deadline generous enough
  for a loaded 2-core CI machine, no example database written into the tree;
* ``fuzz-long``: 5,000 examples per property, no deadline, for a developer who
  wants a longer look (``benchmarks/fuzz.py`` runs 100,000 and more).
"""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings

settings.register_profile(
    "fuzz-ci",
    max_examples=200,
    deadline=timedelta(seconds=1),
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz-long", settings.get_profile("fuzz-ci"), max_examples=5_000, deadline=None
)
settings.register_profile(
    "fuzz", settings.get_profile(os.environ.get("CPSIM_FUZZ_PROFILE", "fuzz-ci"))
)
