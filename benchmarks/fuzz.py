"""The hostile-input properties at scale: the checks of tests/fuzz with many more examples.

CI runs each property with 200 examples (tests/fuzz/conftest.py); this runs
``--examples`` per property (100,000 by default) as Hypothesis runs of at most
``--batch`` examples, each with a fresh random seed (a long run's bookkeeping
slows generation down), spread over ``--jobs`` processes, and prints how many
examples each property ran (Hypothesis may run a few more than asked) and how
long it took.  A failing example is shrunk and printed
with the blob that replays it (``@reproduce_failure``), and the exit status is 1.

    python benchmarks/fuzz.py [--examples 100000] [--jobs N] [--batch 5000] [--property NAME ...]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the strategies and checks live with the tests

from tests.fuzz import atstreams, wsframes  # noqa: E402

KINDS = list(atstreams.DIALECTS)


def payloads(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(KINDS))
    stream = data.draw(atstreams.items(kind))
    size = sum(len(item.data) for item in stream)
    atstreams.check_payloads(kind, stream, data.draw(atstreams.cuts(size)))


def same_events(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(KINDS))
    raw = data.draw(atstreams.any_bytes)
    cuts = atstreams.cuts(len(raw))
    atstreams.check_same_events(kind, raw, data.draw(cuts), data.draw(cuts))


def robust(data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(KINDS))
    raw = data.draw(st.one_of(atstreams.any_bytes, st.binary(max_size=5000)))
    atstreams.check_robust(kind, raw, data.draw(atstreams.cuts(len(raw))))


def recovery(data: st.DataObject) -> None:
    stream = data.draw(wsframes.frames)
    size = data.draw(st.sampled_from([4, 16, 64, 1024]))
    wsframes.check_recovery(stream, size, data.draw(wsframes.pieces(stream, size)))


PROPERTIES: dict[str, tuple[str, Callable[[st.DataObject], None]]] = {
    "at-payloads": ("AT parser: no payload lost or corrupted (splits, URCs, garbage)", payloads),
    "at-same-events": ("AT parser: the same events whatever the split", same_events),
    "at-robust": ("AT parser: never raises, takes every byte, linear work", robust),
    "ws-recovery": ("reassembly: every message recovered around broken frames", recovery),
}


def run(name: str, examples: int) -> tuple[str, int, float, str | None]:
    """One worker: ``examples`` examples of one property; (name, ran, seconds, failure)."""
    check = PROPERTIES[name][1]
    count = 0

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        print_blob=True,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def prop(data: st.DataObject) -> None:
        nonlocal count
        count += 1
        check(data)

    start = time.perf_counter()
    failure = None
    try:
        prop()
    except Exception:
        failure = traceback.format_exc()
    return name, count, time.perf_counter() - start, failure


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=100_000, help="per property")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--batch", type=int, default=5_000, help="examples per Hypothesis run (a fresh seed each)"
    )
    parser.add_argument("--property", action="append", choices=list(PROPERTIES))
    args = parser.parse_args()
    names = args.property or list(PROPERTIES)
    jobs = max(1, args.jobs)
    batch = max(1, args.batch)
    runs = [batch] * (args.examples // batch) + [args.examples % batch]
    tasks = [(name, n) for n in runs if n > 0 for name in names]
    print(
        f"{args.examples:,} examples per property in runs of at most {batch:,}, {jobs} process(es)",
        flush=True,
    )
    counts = dict.fromkeys(names, 0)
    cpu = dict.fromkeys(names, 0.0)
    failed = False
    begin = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        for name, count, seconds, failure in pool.imap_unordered(_run_task, tasks):
            counts[name] += count
            cpu[name] += seconds
            if failure is not None:
                failed = True
                print(f"\nFAILED {name}:\n{failure}", flush=True)
    wall = time.perf_counter() - begin
    print(f"\n{'property':<16} {'examples':>10} {'run s':>9} {'per example':>12}  what")
    for name in names:
        count, seconds = counts[name], cpu[name]
        per = f"{seconds / count * 1000:.2f} ms" if count else "-"
        print(f"{name:<16} {count:>10,} {seconds:>9.1f} {per:>12}  {PROPERTIES[name][0]}")
    print(f"wall time {wall:.1f} s; {'FAILED' if failed else 'all properties held'}")
    return 1 if failed else 0


def _run_task(task: tuple[str, int]) -> tuple[str, int, float, str | None]:
    return run(*task)


if __name__ == "__main__":
    sys.exit(main())
