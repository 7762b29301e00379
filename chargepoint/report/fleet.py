"""A fleet report dir (``cpsim fleet --report DIR``) read for the page.

The format is the fleet's own (:mod:`chargepoint.fleet.report`, version 1):
``events.jsonl`` (``{"t", "cp", "event": connected|booted|rejected|disconnected|failed}``,
``t`` in seconds since the fleet started), ``samples.jsonl`` (once a second:
``{"t", "started", "connected", "booted", "sent", "received", "errors"}``, counts since
the start, with ``transactions`` and ``link_faults`` objects when the fleet generated
sessions or ran a cellular link profile) and ``summary.json`` (``started``, ``count``,
``booted``, ``latency_ms`` percentiles, ``rss_mib``, ``failures``, ``transactions``,
``link_faults``...).  The names are repeated here, not imported, so a report can be
made where the fleet's code is absent; a test writes a report with the fleet's own
writer and reads it back.

From them: the boot curve (each charger's first ``booted``), connected and booted
chargers over time, the message rate (the samples' ``sent`` + ``received`` per second),
the round-trip percentiles of the summary, and the sessions and link faults over time.
Each file is read within the bounds of :mod:`.reading`; what is skipped is said.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import reading
from .charts import thin
from .reading import ReadStats, json_lines, read_json_document

EVENTS: Final = "events.jsonl"
SAMPLES: Final = "samples.jsonl"
SUMMARY: Final = "summary.json"
FLEET_EVENTS_FACTOR: Final = 4
"""A fleet's events file may be larger than one charger's log (10,000 chargers that
reconnect all day write a lot): it is read up to this many times
:data:`~.reading.FILE_MAX`; beyond, the page says where it stopped."""


def is_fleet_dir(path: Path) -> bool:
    """A dir with the fleet's summary or both its JSONL files."""
    if not path.is_dir():
        return False
    summary = read_json_document(path / SUMMARY) if (path / SUMMARY).is_file() else None
    if summary is not None and "count" in summary:
        return True
    return (path / EVENTS).is_file() and (path / SAMPLES).is_file()


TRANSACTION_SERIES: Final = (
    ("started", "transactions started"),
    ("stopped", "transactions stopped"),
    ("invalid_tags", "invalid idTags presented"),
    ("refused", "authorizations refused"),
)
"""What the sessions chart draws from a sample's ``transactions`` (cumulative counts)."""
FAULT_SERIES: Final = (
    ("send_fails", "SEND FAIL"),
    ("pdp_deactivations", "PDP deactivations"),
    ("dropped", "connections dropped by a fault"),
    ("cell_lost_now", "chargers without the cell (now)"),
)
"""What the faults chart draws from a sample's ``link_faults`` (``dropped``: the sum of
``dropped_by_*``)."""


@dataclass
class FleetSample:
    t: float
    connected: int
    booted: int
    messages: int
    """OCPP messages sent and received since the start."""
    errors: int
    transactions: dict[str, int] = field(default_factory=dict)
    """:data:`TRANSACTION_SERIES` counts, when the fleet generated sessions."""
    faults: dict[str, int] = field(default_factory=dict)
    """:data:`FAULT_SERIES` counts, when the fleet ran a cellular link profile."""


@dataclass
class FleetDigest:
    """What the page shows of a fleet."""

    title: str
    summary: dict[str, Any] = field(default_factory=dict)
    boot_times: list[float] = field(default_factory=list)
    """Seconds since the start at which each charger first booted, sorted."""
    events: dict[str, int] = field(default_factory=dict)
    """How many events of each kind."""
    chargers_seen: int = 0
    samples: list[FleetSample] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _float(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def read_fleet(path: Path) -> FleetDigest:
    digest = FleetDigest(f"Fleet {path.resolve().name}")
    summary_path = path / SUMMARY
    if summary_path.is_file():
        summary = read_json_document(summary_path)
        if summary is None:
            digest.notes.append(f"{SUMMARY}: not a JSON object (or larger than 16 MiB); skipped")
        else:
            digest.summary = summary
            digest.sources.append(f"summary: {summary_path}")
    else:
        digest.notes.append(f"no {SUMMARY}: the fleet did not finish (figures from the logs only)")
    if (path / EVENTS).is_file():
        _read_events(digest, path / EVENTS)
    if (path / SAMPLES).is_file():
        _read_samples(digest, path / SAMPLES)
    return digest


def _read_events(digest: FleetDigest, path: Path) -> None:
    stats = ReadStats(path)
    first_boot: dict[str, float] = {}
    seen: set[str] = set()
    for event in json_lines(stats, FLEET_EVENTS_FACTOR * reading.FILE_MAX):
        kind = event.get("event")
        t = _float(event.get("t"))
        cp = event.get("cp")
        if not isinstance(kind, str) or t is None or not isinstance(cp, str):
            continue
        digest.events[kind] = digest.events.get(kind, 0) + 1
        seen.add(cp)
        if kind == "booted" and cp not in first_boot:
            first_boot[cp] = t
    digest.boot_times = sorted(first_boot.values())
    digest.chargers_seen = len(seen)
    digest.sources.append(f"events: {path} ({stats.lines} lines)")
    digest.notes.extend(stats.notes())


def _read_samples(digest: FleetDigest, path: Path) -> None:
    stats = ReadStats(path)
    for record in json_lines(stats):
        t = _float(record.get("t"))
        if t is None:
            continue
        digest.samples.append(
            FleetSample(
                t,
                _int(record.get("connected")),
                _int(record.get("booted")),
                _int(record.get("sent")) + _int(record.get("received")),
                _int(record.get("errors")),
                _counts(record.get("transactions"), TRANSACTION_SERIES),
                _fault_counts(record.get("link_faults")),
            )
        )
    digest.samples.sort(key=lambda s: s.t)
    if digest.samples and digest.samples[0].t > 0:
        digest.samples.insert(0, FleetSample(0.0, 0, 0, 0, 0))  # the start: nothing yet
    digest.sources.append(f"samples: {path} ({stats.lines} lines)")
    digest.notes.extend(stats.notes())


def _counts(group: Any, series: tuple[tuple[str, str], ...]) -> dict[str, int]:
    """The known counts of a sample's group (anything else in it is ignored)."""
    if not isinstance(group, dict):
        return {}
    return {key: _int(group.get(key)) for key, _ in series}


def _fault_counts(group: Any) -> dict[str, int]:
    counts = _counts(group, FAULT_SERIES)
    if counts:
        counts["dropped"] = sum(
            _int(group.get(f"dropped_by_{kind}")) for kind in ("send_fail", "pdp", "outage")
        )
    return counts


def _layout(
    fig: go.Figure, title: str, x_title: str = "seconds since the fleet started"
) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01},
        template="plotly_white",
        height=340,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.2},
    )
    fig.update_xaxes(title_text=x_title)
    return fig


def boot_curve_figure(digest: FleetDigest) -> go.Figure | None:
    """Chargers booted (BootNotification Accepted) against time since the start."""
    if not digest.boot_times:
        return None
    points = thin(list(enumerate(digest.boot_times, start=1)))
    fig = go.Figure(
        go.Scatter(
            x=[t for _, t in points],
            y=[n for n, _ in points],
            name="booted",
            mode="lines",
            line={"shape": "hv"},
        )
    )
    count = _int(digest.summary.get("count"))
    if count:
        fig.add_hline(y=count, line_dash="dot", annotation_text=f"{count} chargers")
    fig.update_yaxes(title_text="chargers booted")
    return _layout(fig, "Boot curve")


def connected_figure(digest: FleetDigest) -> go.Figure | None:
    if not digest.samples:
        return None
    samples = thin(digest.samples)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=[s.t for s in samples], y=[s.connected for s in samples], name="connected")
    )
    fig.add_trace(
        go.Scatter(x=[s.t for s in samples], y=[s.booted for s in samples], name="booted")
    )
    fig.update_yaxes(title_text="chargers")
    return _layout(fig, "Connected chargers over time")


def message_rate_figure(digest: FleetDigest) -> go.Figure | None:
    """Messages per second between consecutive samples (counts are cumulative)."""
    if len(digest.samples) < 2:
        return None
    rates: list[tuple[float, float, float]] = []
    for before, after in zip(digest.samples, digest.samples[1:], strict=False):
        span = after.t - before.t
        if span > 0:
            rates.append(
                (
                    after.t,
                    max(0, after.messages - before.messages) / span,
                    max(0, after.errors - before.errors) / span,
                )
            )
    if not rates:
        return None
    rates = thin(rates)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[r[0] for r in rates], y=[r[1] for r in rates], name="messages/s"))
    if any(r[2] for r in rates):
        fig.add_trace(go.Scatter(x=[r[0] for r in rates], y=[r[2] for r in rates], name="errors/s"))
    fig.update_yaxes(title_text="per second")
    return _layout(fig, "Message rate (sent + received)")


PERCENTILES: Final = ("p50", "p90", "p99", "max")


def latency_percentiles(digest: FleetDigest) -> dict[str, float]:
    latency = digest.summary.get("latency_ms")
    if not isinstance(latency, dict):
        return {}
    return {k: v for k in PERCENTILES if (v := _float(latency.get(k))) is not None}


def latency_percentile_figure(digest: FleetDigest) -> go.Figure | None:
    shown = latency_percentiles(digest)
    if not shown:
        return None
    count = _int((digest.summary.get("latency_ms") or {}).get("count"))
    fig = go.Figure(
        go.Bar(
            x=list(shown),
            y=list(shown.values()),
            text=[f"{v:g} ms" for v in shown.values()],
            name="round trip",
        )
    )
    fig.update_yaxes(title_text="ms")
    return _layout(fig, f"Round-trip latency percentiles ({count} CALLs)", "percentile")


def sessions_and_faults_figure(digest: FleetDigest) -> go.Figure | None:
    """The transaction generator's sessions and the link profile's faults against time,
    counted since the start (chargers without the cell: at that moment), one panel
    each; the chargers connected are drawn beside the faults, so a cell outage shows as
    the dip it causes."""
    samples = digest.samples  # every one: the first, at the start, counts nothing yet
    panels = [
        (title, series)
        for title, series, shown in (
            (
                "sessions (since the start)",
                TRANSACTION_SERIES,
                any(s.transactions for s in samples),
            ),
            ("link faults (since the start)", FAULT_SERIES, any(s.faults for s in samples)),
        )
        if shown
    ]
    if not panels:
        return None
    fig = make_subplots(
        rows=len(panels),
        cols=1,
        shared_xaxes=True,
        subplot_titles=[title for title, _ in panels],
        specs=[[{"secondary_y": True}] for _ in panels],
    )
    shown = thin(samples)
    for row, (_title, series) in enumerate(panels, start=1):
        x = [s.t for s in shown]
        for key, name in series:
            faults = series is FAULT_SERIES
            counts = [(s.faults if faults else s.transactions).get(key, 0) for s in shown]
            fig.add_trace(
                go.Scatter(x=x, y=counts, name=name, mode="lines", line={"shape": "hv"}),
                row=row,
                col=1,
            )
        if series is FAULT_SERIES:
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=[s.connected for s in shown],
                    name="chargers connected",
                    mode="lines",
                    line={"dash": "dot", "color": "#7f7f7f"},
                ),
                row=row,
                col=1,
                secondary_y=True,
            )
            fig.update_yaxes(title_text="connected", row=row, col=1, secondary_y=True)
        fig.update_yaxes(title_text="count", row=row, col=1, secondary_y=False)
    _layout(fig, "Sessions and link faults over time")
    fig.update_layout(height=180 + 260 * len(panels))
    return fig


def figures(digest: FleetDigest) -> list[go.Figure]:
    made = [
        boot_curve_figure(digest),
        connected_figure(digest),
        message_rate_figure(digest),
        latency_percentile_figure(digest),
        sessions_and_faults_figure(digest),
    ]
    return [f for f in made if f is not None]


SUMMARY_ROWS: Final = (
    ("count", "chargers"),
    ("shard", "shard"),
    ("first_id", "first id"),
    ("last_id", "last id"),
    ("started", "started (UTC)"),
    ("duration_s", "duration (s)"),
    ("booted", "booted"),
    ("never_booted", "never booted"),
    ("all_booted_s", "all booted after (s)"),
    ("sent", "messages sent"),
    ("received", "messages received"),
    ("errors", "errors"),
    ("per_charger_kib", "memory per charger (KiB)"),
    ("tasks_per_charger", "asyncio tasks per charger"),
    ("steady_cpu_percent", "steady CPU (% of a core)"),
    ("exit_code", "exit code"),
)


SESSION_ROWS: Final = (
    ("arrived", "sessions: EVs arrived"),
    ("turned_away", "sessions: turned away (connectors busy)"),
    ("started", "sessions: transactions started"),
    ("stopped", "sessions: transactions stopped"),
    ("invalid_tags", "sessions: invalid idTags presented"),
    ("refused", "sessions: authorizations refused"),
    ("energy_kwh", "sessions: energy of stopped transactions (kWh)"),
)
FAULT_ROWS: Final = (
    ("send_fails", "link faults: SEND FAIL"),
    ("dropped_by_send_fail", "link faults: connections dropped by SEND FAIL"),
    ("pdp_deactivations", "link faults: PDP deactivations"),
    ("dropped_by_pdp", "link faults: connections dropped by a PDP deactivation"),
    ("cell_outages", "link faults: cell outages"),
    ("outage_chargers", "link faults: chargers off the network in an outage"),
    ("dropped_by_outage", "link faults: connections dropped by an outage"),
)


def summary_rows(digest: FleetDigest) -> list[tuple[str, str]]:
    """The summary's figures a person looks for first, as (label, value) text."""
    rows = [
        (label, str(digest.summary[key]))
        for key, label in SUMMARY_ROWS
        if digest.summary.get(key) is not None
    ]
    rss = digest.summary.get("rss_mib")
    if isinstance(rss, dict):
        rows.append(("RSS (MiB)", ", ".join(f"{k} {v}" for k, v in rss.items())))
    failures = digest.summary.get("failures")
    if isinstance(failures, dict):
        for reason, chargers in list(failures.items())[:10]:
            rows.append((f"failed: {reason}", str(chargers)))
    for group, labels in (("transactions", SESSION_ROWS), ("link_faults", FAULT_ROWS)):
        counts = digest.summary.get(group)
        if isinstance(counts, dict):
            rows.extend(
                (label, str(counts[key]))
                for key, label in labels
                if _float(counts.get(key)) is not None
            )
    if not digest.summary and digest.chargers_seen:
        rows.append(("chargers in the events", str(digest.chargers_seen)))
    return rows
