"""Seeded chaos at scale: charging sessions through chaotic emulated modems until N faults.

Each run is the session of ``tests/emulator/test_chaos.py`` (RemoteStart, MeterValues
every charger second, the local CSMS restarted once, RemoteStop, the queue drained)
through the EC200U or the ESP-AT emulator, alternating, one seed each (``--seed``,
``--seed + 1``, ...), ``--jobs`` at a time in separate processes, until ``--faults``
faults were injected.  It prints one line per run and the totals: faults injected,
reconnects, the longest offline time (charger seconds), messages queued / delivered /
lost and same-id resends.  Lost must be 0: the exit status is 1 otherwise, or when a
run found a problem (a duplicate, a wrong order, several transactionIds); the seed and
the fault sequence of such a run are printed.

    python benchmarks/chaos.py [--faults 1000] [--jobs N] [--seed 1] [--interval 1.5]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the session lives with the test

from tests.emulator.test_chaos import Report, run_chaotic_session  # noqa: E402

DIALECTS = ("ec200u", "esp-at")


def one(args: tuple[str, int, float, float]) -> Report:
    dialect, seed, interval, charge_s = args
    logging.disable(logging.WARNING)  # the charger's reconnect warnings, by the thousand
    with tempfile.TemporaryDirectory(prefix="cpsim-chaos-") as tmp:
        return asyncio.run(
            run_chaotic_session(dialect, seed, Path(tmp), interval=interval, charge_s=charge_s)
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faults", type=int, default=1000, help="stop after this many")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=1, help="first seed")
    parser.add_argument(
        "--interval",
        type=float,
        default=1.5,
        help="real s between faults (much less and the charger is rarely online long enough "
        "to connect: a reboot or a 6 s stall takes seconds to recover from)",
    )
    parser.add_argument("--charge-s", type=float, default=180.0, help="charger s of charging")
    args = parser.parse_args()

    started = time.monotonic()
    reports: list[Report] = []
    seed = args.seed
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        # Bounded: a run that injects nothing (it never got online) still counts towards the end.
        while sum(max(r.injected, 1) for r in reports) < args.faults:
            batch = []
            for _ in range(args.jobs):
                batch.append((DIALECTS[seed % 2], seed, args.interval, args.charge_s))
                seed += 1
            for report in pool.imap_unordered(one, batch):
                reports.append(report)
                print(report.lines()[0], flush=True)
                for problem in report.problems:
                    print(f"  PROBLEM: {problem}", flush=True)

    bad = [r for r in reports if r.problems or r.lost]
    for report in bad:
        print("\n".join(report.lines()))
    kinds: dict[str, int] = {}
    for report in reports:
        for line in report.faults:
            if "(skipped" not in line:
                kind = line.split()[2]
                kinds[kind] = kinds.get(kind, 0) + 1
    print()
    print(
        f"runs: {len(reports)} ({', '.join(DIALECTS)} alternating), seeds {args.seed}..{seed - 1}"
    )
    print(
        f"faults injected: {sum(r.injected for r in reports)} "
        f"(skipped, not applicable at that moment: {sum(r.skipped for r in reports)})"
    )
    print("  by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    print(f"reconnects: {sum(r.reconnects for r in reports)}")
    print(
        f"longest offline: {max((r.longest_offline_s for r in reports), default=0):.1f} s "
        "(charger time)"
    )
    print(
        f"messages queued: {sum(r.queued for r in reports)}, "
        f"delivered: {sum(r.delivered for r in reports)}, lost: {sum(r.lost for r in reports)}, "
        f"same-id resends: {sum(r.resends for r in reports)}"
    )
    print(f"runs with a problem: {len(bad)}")
    print(f"wall time: {time.monotonic() - started:.0f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
