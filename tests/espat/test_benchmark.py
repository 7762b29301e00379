"""benchmarks/modem_path.py over ESP-AT with a buffer too small for the 3 kB answer.

The charger refuses a message longer than one AT+WSSEND (buffer_size - 10);
the benchmark must say so and stop the charger cleanly instead of hanging in
its shutdown after the CSMS's call raised.
"""

from __future__ import annotations

import asyncio
import importlib.util
import math
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARK = Path(__file__).parents[2] / "benchmarks" / "modem_path.py"


def load_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("modem_path", BENCHMARK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


async def test_small_buffer_refusal_is_reported_and_the_run_ends(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench = load_benchmark().bench
    figures = await asyncio.wait_for(bench("esp-at", 3, 115200, 1024), 60)
    assert math.isnan(figures["3 kB answer round trip (ms)"])
    assert figures["AT commands / message"] == 0.5  # one AT+WSSEND per CALL, none per answer
    out = capsys.readouterr().out
    # its size grows with the configuration keys (4.3 kB with every feature profile's)
    assert re.search(
        r"GetConfiguration: the charger refused its \d\.\d kB answer as too large for one "
        r"AT\+WSSEND at buffer size 1024 \(at most 1014 bytes; CALLERROR InternalError\)",
        out,
    )
