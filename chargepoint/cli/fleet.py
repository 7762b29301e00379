"""``cpsim fleet``: N chargers in one process against a CSMS (see :mod:`chargepoint.fleet`)."""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table

from chargepoint.fleet import (
    Fleet,
    FleetPlan,
    FleetReportWriter,
    FleetUsageError,
    IdTemplate,
    LinkContext,
    ShardSpec,
    assign_urls,
    fleet_ids,
    make_link_factory,
    raise_fd_limit,
    read_urls_file,
    shard_from_env,
)
from chargepoint.fleet.links import link_kinds
from chargepoint.fleet.runner import open_fleet_store
from chargepoint.fleet.sessions import transaction_generator, with_transactions
from chargepoint.fleet.urls import url_problem
from chargepoint.store import StoreError
from chargepoint.transport.handshake import shown_url
from chargepoint.transport.tlssettings import TlsSettings

from .common import CouldNotStart, ExitCode, run_until_interrupted
from .tlsoptions import resolve_tls

MAX_DURATION = 366 * 86400


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``15m``, ``2h``: seconds."""
    match = re.fullmatch(r"\s*(\d{1,9}(?:\.\d{1,3})?)\s*([smh]?)\s*", text)
    if match is None:
        raise FleetUsageError(f"--duration {text!r}: expected seconds, or a number with s, m or h")
    seconds = float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]
    if not 0 < seconds <= MAX_DURATION:
        raise FleetUsageError(f"--duration {text!r}: must be more than 0 and at most a year")
    return seconds


def _link_options(pairs: tuple[str, ...]) -> dict[str, str]:
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise FleetUsageError(f"--link-option {pair[:40]!r}: expected KEY=VALUE")
        options[key] = value
    return options


@click.command()
@click.option("--count", "-n", type=int, required=True, help="Chargers in the whole fleet.")
@click.option(
    "--id-template",
    default="CP{:05d}",
    show_default=True,
    help="str.format template filled with 1..N.",
)
@click.option("--url", help="The CSMS's base URL (the id is appended).")
@click.option("--urls-file", type=click.Path(path_type=Path), help="One CSMS URL a line.")
@click.option(
    "--distribution",
    type=click.Choice(["round-robin", "random", "by-id"]),
    default="round-robin",
    show_default=True,
    help="How chargers spread over --urls-file.",
)
@click.option(
    "--ramp-up", type=float, help="Chargers started per second (default: as fast as they connect)."
)
@click.option("--connectors", type=click.IntRange(1, 16), default=2, show_default=True)
@click.option(
    "--link",
    "link_kind",
    default="direct",
    show_default=True,
    help=f"How each charger connects: {', '.join(link_kinds())}.",
)
@click.option(
    "--link-option",
    multiple=True,
    metavar="KEY=VALUE",
    help="Passed to the link factory (e.g. a cellular profile).",
)
@click.option(
    "--profile",
    help="Cellular link profile (--link ec200u|esp-at): lte-good, lte-weak, lte-congested, "
    "cell-outages, ideal; with overrides: NAME,send-fail=1%,pdp=2/h,outage=10%/60s/30m,"
    "latency=50..200 (ms).",
)
@click.option(
    "--transactions",
    metavar="ATG-SPEC",
    help="Generate charging sessions, e.g. 'rate=2/h,duration=30m..2h,energy=5..40kWh,"
    "invalid=5%,seed=7' (keys: see chargepoint.fleet.sessions).",
)
@click.option("--duration", help="Stop after this long (90, 90s, 15m, 2h); default: until Ctrl+C.")
@click.option("--shard", help="I/K: run the I-th of K slices of the ids (I from 0).")
@click.option(
    "--shard-from-env",
    type=click.IntRange(1, 100_000),
    metavar="K",
    help="Like --shard, with I from JOB_COMPLETION_INDEX (Kubernetes Indexed Job).",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seeds back-off and random choices."
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(path_type=Path),
    help="Write events.jsonl, samples.jsonl and summary.json here.",
)
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path),
    help="The fleet's one SQLite store (default: a temporary one, removed at the end).",
)
@click.option(
    "--ca-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="PEM CA file the CSMS's certificate must chain to (wss:// URLs: security profile 2) "
    "[default: the system's CAs]. Profile 3 is not offered: one client certificate for a "
    "whole fleet is not what a CSMS sees from real chargers.",
)
@click.option("--quiet", is_flag=True, help="No live progress; the summary only.")
def fleet(
    count: int,
    id_template: str,
    url: str | None,
    urls_file: Path | None,
    distribution: Any,
    ramp_up: float | None,
    connectors: int,
    link_kind: str,
    link_option: tuple[str, ...],
    duration: str | None,
    shard: str | None,
    shard_from_env: int | None,
    seed: int,
    report_dir: Path | None,
    state_dir: Path | None,
    quiet: bool,
    profile: str | None = None,
    transactions: str | None = None,
    ca_file: Path | None = None,
) -> None:
    """Run COUNT chargers in one process against a CSMS, with live progress and a summary.

    Exit 0 when every charger booted, 1 when some never did (the summary says why),
    2 when it cannot start; Ctrl+C or SIGTERM ends the run (130 when it came before
    --duration was over; the summary and report are still written).
    """
    console = Console(stderr=True)
    try:
        if profile is not None:
            if link_kind == "direct":
                raise FleetUsageError(
                    "--profile: a cellular link profile; add --link ec200u|esp-at"
                )
            link_option = (*link_option, f"profile={profile}")
        plan, links = _plan(
            count,
            id_template,
            url,
            urls_file,
            distribution,
            ramp_up,
            connectors,
            link_kind,
            link_option,
            duration,
            shard,
            shard_from_env,
            seed,
            ca_file,
        )
        generator = transaction_generator(transactions, connectors=connectors, fleet_size=count)
        if generator is not None:
            links = with_transactions(links, generator)
    except FleetUsageError as exc:
        raise click.UsageError(str(exc)) from None
    budget = raise_fd_limit(len(plan.ids))
    if (problem := budget.problem(len(plan.ids))) is not None:
        raise CouldNotStart(problem)
    if report_dir is not None and report_dir.exists() and not report_dir.is_dir():
        raise CouldNotStart(f"--report {report_dir}: not a directory")
    temporary = state_dir is None
    directory = Path(tempfile.mkdtemp(prefix="cpsim-fleet-")) if state_dir is None else state_dir
    try:
        store = open_fleet_store(directory)
    except (StoreError, OSError) as exc:
        raise CouldNotStart(f"--state-dir {directory}: {exc}") from None
    # run_station logs each failed connect; the fleet groups them in its summary instead
    logging.getLogger("cpsim.runner").setLevel(logging.CRITICAL)
    logging.getLogger("cpsim.station").setLevel(logging.CRITICAL)
    # a modem's warning per charger per fault (a PDP deactivation, a SEND FAIL) would
    # flood the console; the summary counts them (link_faults)
    for name in ("modem", "chargepoint.transport"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        writer = FleetReportWriter(report_dir)
    except OSError as exc:
        store.close()
        raise CouldNotStart(f"--report {report_dir}: {exc}") from None
    try:
        summary = _run(plan, store, links, writer, console, quiet)
    finally:
        writer.close()
        store.close()
        if temporary:
            shutil.rmtree(directory, ignore_errors=True)
    _print_summary(console, summary.record)
    if generator is not None:
        console.print(f"transactions: {generator.counts.describe()}")
    raise click.exceptions.Exit(summary.exit_code)


def _plan(
    count: int,
    id_template: str,
    url: str | None,
    urls_file: Path | None,
    distribution: Any,
    ramp_up: float | None,
    connectors: int,
    link_kind: str,
    link_option: tuple[str, ...],
    duration: str | None,
    shard: str | None,
    shard_env: int | None,
    seed: int,
    ca_file: Path | None = None,
) -> tuple[FleetPlan, Any]:
    if (url is None) == (urls_file is None):
        raise FleetUsageError("give one of --url and --urls-file")
    if shard is not None and shard_env is not None:
        raise FleetUsageError("give one of --shard and --shard-from-env")
    if ramp_up is not None and not 0 < ramp_up <= 1_000_000:
        raise FleetUsageError(f"--ramp-up {ramp_up}: chargers per second, more than 0")
    spec = (
        ShardSpec.parse(shard)
        if shard is not None
        else shard_from_env(shard_env)
        if shard_env is not None
        else ShardSpec()
    )
    template = IdTemplate.parse(id_template)
    numbers = spec.slice(count) if count >= 1 else range(0)
    ids = fleet_ids(template, count, numbers)
    if url is not None:
        if (problem := url_problem(url)) is not None:
            raise FleetUsageError(f"--url: {problem}")
        urls = [url]
    else:
        assert urls_file is not None
        urls = read_urls_file(urls_file)
    assigned = assign_urls(ids, numbers, urls, distribution, seed)
    tls = _fleet_tls(urls, ca_file, link_kind)
    links = make_link_factory(
        LinkContext(link_kind, count, seed, _link_options(link_option), tls=tls)
    )
    plan = FleetPlan(
        ids,
        numbers,
        assigned,
        count,
        spec,
        connectors,
        ramp_up,
        parse_duration(duration) if duration is not None else None,
        seed,
        tls,
    )
    return plan, links


def _fleet_tls(urls: list[str], ca_file: Path | None, link_kind: str) -> TlsSettings | None:
    """Security profile 2 with ``--ca-file`` for wss:// URLs, checked as ``cpsim run``
    checks it (the file readable, a PEM CA valid now; the scheme matching); None
    without ``--ca-file`` (wss:// then trusts the system's CAs)."""
    if ca_file is None:
        return None
    if link_kind != "direct":
        raise FleetUsageError("--ca-file: only with --link direct (a modem has its own CA store)")
    settings = None
    for url in urls:
        if not url.startswith("wss://"):
            raise FleetUsageError(f"--ca-file: for wss:// URLs; {shown_url(url)} is not one")
        settings = resolve_tls(url, 2, ca_file, None, None)
    return settings


def _run(
    plan: FleetPlan,
    store: Any,
    links: Any,
    writer: FleetReportWriter,
    console: Console,
    quiet: bool,
) -> Any:
    count = len(plan.ids)
    table = _progress_table(count, None)

    async def main(stop: asyncio.Event) -> Any:
        if quiet or not console.is_terminal:
            fleet = Fleet(plan, store, links, writer)
            return await fleet.run(stop)
        with Live(table, console=console, refresh_per_second=2, transient=True) as live:
            fleet = Fleet(
                plan,
                store,
                links,
                writer,
                on_sample=lambda record: live.update(_progress_table(count, record)),
            )
            return await fleet.run(stop)

    console.print(
        f"fleet: {count:,} chargers (shard {plan.shard}, ids {plan.ids[0]}..{plan.ids[-1]})"
    )
    return run_until_interrupted(main)


def _progress_table(count: int, record: dict[str, Any] | None) -> Table:
    record = record or {}
    table = Table(title=f"fleet of {count:,}", show_header=True)
    columns = ["t", "started", "connected", "booted", "messages", "errors"]
    cells = [
        f"{record.get('t', 0):.0f}s",
        f"{record.get('started', 0):,}",
        f"{record.get('connected', 0):,}",
        f"{record.get('booted', 0):,}/{count:,}",
        f"{record.get('sent', 0) + record.get('received', 0):,}",
        f"{record.get('errors', 0):,}",
    ]
    sessions = record.get("transactions")
    if isinstance(sessions, dict):
        columns += ["sessions started/stopped", "invalid tags", "kWh"]
        cells += [
            f"{sessions.get('started', 0):,}/{sessions.get('stopped', 0):,}",
            f"{sessions.get('invalid_tags', 0):,}",
            f"{sessions.get('energy_kwh', 0):,.1f}",
        ]
    faults = record.get("link_faults")
    if isinstance(faults, dict):
        columns += ["SEND FAIL", "PDP deact.", "outages", "no cell", "dropped"]
        cells += [
            f"{faults.get('send_fails', 0):,}",
            f"{faults.get('pdp_deactivations', 0):,}",
            f"{faults.get('cell_outages', 0):,}",
            f"{faults.get('cell_lost_now', 0):,}",
            f"{_dropped(faults):,}",
        ]
    for column in columns:
        table.add_column(column, justify="right")
    table.add_row(*cells)
    return table


def _dropped(faults: dict[str, Any]) -> int:
    return sum(int(faults.get(f"dropped_by_{kind}", 0)) for kind in ("send_fail", "pdp", "outage"))


def _fault_lines(faults: dict[str, Any]) -> list[str]:
    """The link profile's faults for the summary, one line each kind."""
    return [
        f"SEND FAIL: {faults.get('send_fails', 0):,} sends, "
        f"{faults.get('dropped_by_send_fail', 0):,} connections dropped",
        f"PDP deactivations: {faults.get('pdp_deactivations', 0):,}, "
        f"{faults.get('dropped_by_pdp', 0):,} connections dropped",
        f"cell outages: {faults.get('cell_outages', 0):,} ({faults.get('outage_chargers', 0):,} "
        f"chargers off the network), {faults.get('dropped_by_outage', 0):,} connections dropped",
    ]


def _print_summary(console: Console, record: dict[str, Any]) -> None:
    table = Table(title="fleet summary", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    latency = record["latency_ms"]
    rss = record["rss_mib"]
    rows = [
        ("chargers", f"{record['count']:,} (shard {record['shard']})"),
        ("booted", f"{record['booted']:,}"),
        ("all booted after", f"{record['all_booted_s']} s" if record["all_booted_s"] else "-"),
        ("messages sent / received", f"{record['sent']:,} / {record['received']:,}"),
        ("errors", f"{record['errors']:,}"),
        (
            "round trip p50 / p90 / p99 / max",
            " / ".join(f"{latency.get(k, '-')}" for k in ("p50", "p90", "p99", "max")) + " ms",
        ),
        ("RSS before / steady / peak", f"{rss['before']} / {rss['steady']} / {rss['peak']} MiB"),
        ("per charger", f"{record['per_charger_kib']} KiB, {record['tasks_per_charger']} tasks"),
    ]
    for what, value in rows:
        table.add_row(what, value)
    console.print(table)
    for reason, chargers in list(record["failures"].items())[:20]:
        console.print(f"  never booted: {chargers:,} chargers: {reason}")
    faults = record.get("link_faults")
    if isinstance(faults, dict):
        for line in _fault_lines(faults):
            console.print(f"link faults: {line}")


__all__ = ["ExitCode", "fleet"]
