"""What one ``Store.apply`` costs: the persist actions of one charger step, one commit.

A store of ``--chargers`` chargers (each with its configuration, an open transaction,
two queued messages and a register) in a temporary state dir; then ``--steps`` applies
of a typical MeterValues step (queue the message, save the register, bump the
sequence counter: 3 actions), each for a random charger, timed one by one.  Also
reports Store.open (with its PRAGMA quick_check) and Store.load on that store.

    python benchmarks/store_apply.py [--chargers 10000] [--steps 20000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from chargepoint.core.actions import (
    Persist,
    SaveConfig,
    SaveCounter,
    SaveQueued,
    SaveRegister,
    SaveTransaction,
)
from chargepoint.core.records import QueuedMessage, TransactionRecord
from chargepoint.store import Store

CONFIG_KEYS = 23
NOW = "2026-12-07T10:00:00Z"


def meter_values(seq: int, energy: float) -> dict[str, object]:
    """A MeterValues payload as the charger sends it (about 350 bytes of JSON)."""
    return {
        "connectorId": 1,
        "transactionId": 4711,
        "meterValue": [
            {
                "timestamp": NOW,
                "sampledValue": [
                    {"value": f"{energy:.1f}", "measurand": "Energy.Active.Import.Register"},
                    {"value": "7360.0", "measurand": "Power.Active.Import", "unit": "W"},
                    {"value": "32.0", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
                ],
            }
        ],
    }


def populate(store: Store, chargers: list[str]) -> None:
    for n, charger in enumerate(chargers):
        actions: list[Persist] = [SaveConfig(f"Key{k}", str(k)) for k in range(CONFIG_KEYS)]
        actions += [
            SaveTransaction(TransactionRecord(1, 1, f"TAG{n}", 1000, NOW, 4711)),
            SaveQueued(QueuedMessage(1, f"{n}-1", "MeterValues", meter_values(1, 1000.0), 1)),
            SaveQueued(QueuedMessage(2, f"{n}-2", "MeterValues", meter_values(2, 1001.0), 1)),
            SaveRegister(1, 1001.0, NOW),
            SaveCounter("next_seq", 3),
        ]
        store.apply(charger, actions)


def timed(calls: int, call: Callable[[int], object]) -> list[float]:
    """Microseconds per call."""
    out = []
    for i in range(calls):
        start = time.perf_counter_ns()
        call(i)
        out.append((time.perf_counter_ns() - start) / 1000)
    return out


def figures(name: str, samples: list[float]) -> str:
    q = statistics.quantiles(samples, n=100)
    return (
        f"{name:<34} median {statistics.median(samples):8.1f} us   p90 {q[89]:8.1f}   "
        f"p99 {q[98]:8.1f}   max {max(samples):9.1f}   (n={len(samples)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chargers", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=20_000)
    args = parser.parse_args()
    chargers = [f"CP{n:05d}" for n in range(args.chargers)]
    rng = random.Random(1)
    with tempfile.TemporaryDirectory(prefix="cpsim-bench-") as tmp:
        state_dir = Path(tmp)
        start = time.perf_counter()
        with Store.open(state_dir) as store:
            populate(store, chargers)
        size = (state_dir / "cpsim.sqlite3").stat().st_size
        print(
            f"{args.chargers} chargers populated in {time.perf_counter() - start:.1f} s; "
            f"database {size / 1e6:.1f} MB"
        )
        opens = timed(5, lambda _: Store.open(state_dir).close())
        print(f"{'Store.open (quick_check)':<34} median {statistics.median(opens) / 1000:8.1f} ms")

        with Store.open(state_dir) as store:
            picks = [rng.choice(chargers) for _ in range(args.steps)]

            def step(i: int) -> None:
                seq = 3 + i
                store.apply(
                    picks[i],
                    [
                        SaveQueued(
                            QueuedMessage(seq, f"u{seq}", "MeterValues", meter_values(seq, i), 1)
                        ),
                        SaveRegister(1, 1001.0 + i, NOW),
                        SaveCounter("next_seq", seq + 1),
                    ],
                )

            print(figures("apply, 3 actions (one commit)", timed(args.steps, step)))
            print(
                figures(
                    "apply, 1 action (SaveRegister)",
                    timed(args.steps, lambda i: store.apply(picks[i], [SaveRegister(1, i, NOW)])),
                )
            )
            print(figures("load (one charger)", timed(2000, lambda i: store.load(picks[i]))))


if __name__ == "__main__":
    main()
