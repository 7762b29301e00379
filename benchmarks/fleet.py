"""``cpsim fleet`` against the local CSMS: boot time, memory and CPU for N chargers.

For each N: a fresh ``cpsim csms`` (heartbeat 30 s) and ``cpsim fleet -n N
--connectors 2`` as two processes; the fleet runs until every charger booted plus a
steady window (``--steady``, 60 s by default), then stops.  Reported per N: seconds
until all booted, the fleet process's steady and peak RSS, its memory and tasks per
charger, its CPU (and the CSMS's) over the steady window, the message rate, and
round-trip latency percentiles, from the fleet's ``summary.json`` and /proc; and the
CPU milliseconds each side spent per boot (the fleet's from its start, imports
included), a figure that holds on a busy machine where the wall-clock boot time does not.

    python benchmarks/fleet.py 1000 10000 [--steady 60] [--ramp-up R] [--flavour sansio]

N beyond what RLIMIT_NOFILE allows is reported as refused (the fleet says why).
Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as file:
        return int(file.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the CSMS did not listen on {port}")


def run_one(count: int, steady: float, ramp_up: float | None, flavour: str) -> dict[str, Any]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report"
        csms = subprocess.Popen(
            [sys.executable, "-m", "chargepoint", "csms", "--port", str(port),
             "--http-port", str(free_port()), "--heartbeat-interval", "30"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_port(port)
            command = [
                sys.executable, "-m", "chargepoint", "fleet", "-n", str(count),
                "--url", f"ws://127.0.0.1:{port}/ocpp", "--connectors", "2", "--quiet",
                "--report", str(report), "--link-option", f"flavour={flavour}",
            ]  # fmt: skip
            if ramp_up:
                command += ["--ramp-up", str(ramp_up)]
            started = time.monotonic()
            csms_cpu0 = cpu_seconds(csms.pid)
            fleet = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            time.sleep(0.05)
            fleet_cpu0 = 0.0  # from its start: imports included (about 1 s of CPU)
            window: dict[str, float] = {}
            peak = 0.0
            while fleet.poll() is None:
                time.sleep(0.5)
                try:
                    peak = max(peak, rss_mib(fleet.pid))
                    samples = (report / "samples.jsonl").read_text().splitlines()
                except (OSError, ValueError):
                    continue
                last = json.loads(samples[-1]) if samples else {}
                if "since" not in window and last.get("booted") == count:
                    window.update(since=time.monotonic(), fleet=cpu_seconds(fleet.pid))
                    window["csms"] = cpu_seconds(csms.pid)
                    # CPU per boot: what the boot storm cost each side, contention aside
                    window["boot_fleet_ms"] = 1000 * (window["fleet"] - fleet_cpu0) / count
                    window["boot_csms_ms"] = 1000 * (window["csms"] - csms_cpu0) / count
                    window["sent"] = last["sent"] + last["received"]
                if "since" in window and time.monotonic() - window["since"] >= steady:
                    span = time.monotonic() - window["since"]
                    window["fleet_cpu"] = 100 * (cpu_seconds(fleet.pid) - window["fleet"]) / span
                    window["csms_cpu"] = 100 * (cpu_seconds(csms.pid) - window["csms"]) / span
                    window["rate"] = (last["sent"] + last["received"] - window["sent"]) / span
                    window["steady_rss"] = rss_mib(fleet.pid)
                    window["csms_rss"] = rss_mib(csms.pid)
                    fleet.send_signal(signal.SIGINT)
                    break
                if time.monotonic() - started > 120 + steady and "since" not in window:
                    fleet.send_signal(signal.SIGINT)  # never all booted: stop and report
                    break
            _, err = fleet.communicate(timeout=120)
            summary_path = report / "summary.json"
            if not summary_path.exists():
                return {"count": count, "refused": err.decode(errors="replace").strip()[-300:]}
            summary = json.loads(summary_path.read_text())
            return {"count": count, "summary": summary, "peak": peak, **window}
        finally:
            csms.send_signal(signal.SIGINT)
            try:
                csms.wait(timeout=30)
            except subprocess.TimeoutExpired:
                csms.kill()


def row(result: dict[str, Any]) -> str:
    count = result["count"]
    if "refused" in result:
        return f"| {count:,} | refused: {result['refused'].splitlines()[-1]} |"
    s = result["summary"]
    nan = float("nan")
    latency = s["latency_ms"]
    before = s["rss_mib"]["before"]
    steady = result.get("steady_rss")
    per = f"{(steady - before) * 1024 / count:.1f}" if steady else "-"
    booted = s["all_booted_s"]
    return (
        f"| {count:,} | {s['booted']:,} | {booted if booted is not None else '-'} s "
        f"| {steady or 0:.0f} | {max(result.get('peak', 0), s['rss_mib']['peak']):.0f} "
        f"| {per} | {s['tasks_per_charger']} "
        f"| {result.get('fleet_cpu', nan):.1f} % | {result.get('csms_cpu', nan):.1f} % "
        f"| {result.get('rate', nan):.0f}/s "
        f"| {latency.get('p50', '-')} / {latency.get('p99', '-')} "
        f"| {result.get('boot_fleet_ms', nan):.2f} / {result.get('boot_csms_ms', nan):.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("counts", nargs="+", type=int)
    parser.add_argument("--steady", type=float, default=60.0, help="steady window, seconds")
    parser.add_argument("--ramp-up", type=float, default=None)
    parser.add_argument("--flavour", choices=["sansio", "websockets"], default="sansio")
    args = parser.parse_args()
    print(
        "| N | booted | all booted | steady RSS MiB | peak RSS MiB | KiB/charger | tasks/charger "
        "| fleet CPU | CSMS CPU | messages | RTT p50 / p99 ms | CPU ms per boot fleet / CSMS |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for count in args.counts:
        print(row(run_one(count, args.steady, args.ramp_up, args.flavour)), flush=True)


if __name__ == "__main__":
    main()
