"""``cpsim fleet`` against a CSMS: boot time, memory and CPU for N chargers.

For each N and each CSMS: a fresh CSMS process and ``cpsim fleet -n N --connectors 2``
as a second one; the fleet runs until every charger booted plus a steady window
(``--steady``, 60 s by default), then stops.  Reported per N: seconds until all booted,
the fleet process's steady and peak RSS, its memory and tasks per charger, its CPU (and
the CSMS's) over the steady window, the message rate, and round-trip latency
percentiles, from the fleet's ``summary.json`` and /proc; and the CPU milliseconds each
side spent per boot (the fleet's from its start, imports included), a figure that holds
on a busy machine where the wall-clock boot time does not; last, the CSMS's RSS at the
end of the steady window.

The CSMSs (``--csms``, both by default):

* ``local``: ``cpsim csms --heartbeat-interval 30 --log-level warning`` (no line per frame;
  the in-memory frame log is kept);
* ``ocpp-rpc``: the npm package's ``RPCServer`` in strict mode (``benchmarks/ocpp_rpc/``:
  Accepted with a 30 s heartbeat), when ``node`` and ``npm`` are on the PATH; the pinned
  package is installed with ``npm ci`` into ``~/.cache/cpsim/bench-ocpp-rpc`` (or
  ``$XDG_CACHE_HOME``) at the first run.  Without node, npm or the install: one line
  saying it is skipped, and why.

    python benchmarks/fleet.py 1000 10000 [--steady 60] [--ramp-up R] [--flavour sansio]
        [--csms local,ocpp-rpc]

N beyond what RLIMIT_NOFILE allows is reported as refused (the fleet says why).
Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")
OCPP_RPC_DIR = Path(__file__).parent / "ocpp_rpc"
OCPP_RPC_FILES = ("package.json", "package-lock.json", "server.js")


class CsmsSkipped(Exception):
    """This CSMS cannot run here (the message says why)."""


def ocpp_rpc_version() -> str:
    return str(json.loads((OCPP_RPC_DIR / "package.json").read_text())["dependencies"]["ocpp-rpc"])


def ocpp_rpc_install() -> Path:
    """The cache dir holding server.js and its node_modules (``npm ci`` when new)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise CsmsSkipped(f"{'node' if node is None else 'npm'} is not on the PATH")
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    target = cache / "cpsim" / "bench-ocpp-rpc"
    target.mkdir(parents=True, exist_ok=True)
    stale = not (target / "node_modules" / "ocpp-rpc").is_dir()
    for name in OCPP_RPC_FILES:
        if not (target / name).exists() or not filecmp.cmp(OCPP_RPC_DIR / name, target / name):
            shutil.copy(OCPP_RPC_DIR / name, target / name)
            stale = stale or name != "server.js"
    if stale:
        try:
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--omit=dev"],
                cwd=target, capture_output=True, text=True, timeout=600,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise CsmsSkipped("npm ci took more than 10 minutes") from None
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["?"])[-1]
            shutil.rmtree(target / "node_modules", ignore_errors=True)
            raise CsmsSkipped(f"npm ci failed: {last}")
    return target


def start_csms(kind: str, port: int) -> subprocess.Popen[bytes]:
    if kind == "local":
        command = [
            sys.executable, "-m", "chargepoint", "csms", "--port", str(port),
            "--http-port", str(free_port()), "--heartbeat-interval", "30",
            "--log-level", "warning",
        ]  # fmt: skip
    else:
        command = ["node", str(ocpp_rpc_install() / "server.js"), str(port)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


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


def run_one(
    kind: str, count: int, steady: float, ramp_up: float | None, flavour: str
) -> dict[str, Any]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report"
        csms = start_csms(kind, port)
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
                refused = err.decode(errors="replace").strip()[-300:]
                return {"server": kind, "count": count, "refused": refused}
            summary = json.loads(summary_path.read_text())
            return {"server": kind, "count": count, "summary": summary, "peak": peak, **window}
        finally:
            csms.send_signal(signal.SIGINT)
            try:
                csms.wait(timeout=30)
            except subprocess.TimeoutExpired:
                csms.kill()


def row(result: dict[str, Any]) -> str:
    count, kind = result["count"], result["server"]
    if "refused" in result:
        return f"| {kind} | {count:,} | refused: {result['refused'].splitlines()[-1]} |"
    s = result["summary"]
    nan = float("nan")
    latency = s["latency_ms"]
    before = s["rss_mib"]["before"]
    steady = result.get("steady_rss")
    per = f"{(steady - before) * 1024 / count:.1f}" if steady else "-"
    booted = s["all_booted_s"]
    return (
        f"| {kind} | {count:,} | {s['booted']:,} | {booted if booted is not None else '-'} s "
        f"| {steady or 0:.0f} | {max(result.get('peak', 0), s['rss_mib']['peak']):.0f} "
        f"| {per} | {s['tasks_per_charger']} "
        f"| {result.get('fleet_cpu', nan):.1f} % | {result.get('csms_cpu', nan):.1f} % "
        f"| {result.get('rate', nan):.0f}/s "
        f"| {latency.get('p50', '-')} / {latency.get('p99', '-')} "
        f"| {result.get('boot_fleet_ms', nan):.2f} / {result.get('boot_csms_ms', nan):.2f} "
        f"| {result.get('csms_rss', nan):.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("counts", nargs="+", type=int)
    parser.add_argument("--steady", type=float, default=60.0, help="steady window, seconds")
    parser.add_argument("--ramp-up", type=float, default=None)
    parser.add_argument("--flavour", choices=["sansio", "websockets"], default="sansio")
    parser.add_argument("--csms", default="local,ocpp-rpc", help="comma-separated: local, ocpp-rpc")
    args = parser.parse_args()
    kinds = [k.strip() for k in args.csms.split(",") if k.strip()]
    unknown = set(kinds) - {"local", "ocpp-rpc"}
    if unknown or not kinds:
        parser.error(f"--csms: unknown {', '.join(sorted(unknown)) or 'empty list'}")
    if "ocpp-rpc" in kinds:
        try:
            ocpp_rpc_install()
            print(f"ocpp-rpc {ocpp_rpc_version()} (strict mode) on node {node_version()}")
        except CsmsSkipped as exc:
            print(f"ocpp-rpc: skipped ({exc})")
            kinds.remove("ocpp-rpc")
    print(
        "| CSMS | N | booted | all booted | steady RSS MiB | peak RSS MiB | KiB/charger "
        "| tasks/charger | fleet CPU | CSMS CPU | messages | RTT p50 / p99 ms "
        "| CPU ms per boot fleet / CSMS | CSMS RSS MiB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for count in args.counts:
        for kind in kinds:
            result = run_one(kind, count, args.steady, args.ramp_up, args.flavour)
            print(row(result), flush=True)


def node_version() -> str:
    done = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30)
    return done.stdout.strip()


if __name__ == "__main__":
    main()
