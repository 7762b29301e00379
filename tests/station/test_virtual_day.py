"""Virtual time end to end: the charger and the local CSMS over real loopback TCP, on one
virtual clock.  What benchmarks/virtual_day.py measures for 24 h, checked here for 3 h."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from chargepoint.virtualtime import run_virtual


def _benchmark() -> ModuleType:
    path = Path(__file__).parents[2] / "benchmarks" / "virtual_day.py"
    spec = importlib.util.spec_from_file_location("virtual_day", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["virtual_day"] = module
    spec.loader.exec_module(module)
    return module


def test_three_hours_give_exactly_the_messages_and_timestamps_of_real_time(
    tmp_path: Path,
) -> None:
    figures = run_virtual(_benchmark().one_day(3, tmp_path))
    assert figures["meter values"] == 180
    assert figures["heartbeats"] == 180
    assert figures["heartbeat grid deviation (s)"] == 0
    assert figures["meter value grid deviation (s)"] == 0
    assert figures["backwards timestamps"] == 0
