"""A charger run's charts, as plotly figures (the page embeds plotly.js once, inline).

Why plotly: one dependency-light package (plotly.py needs only narwhals and packaging,
no numpy) whose figures are data plus a spec that plotly.js draws in the browser, so a
report is interactive (zoom into the minute a limit changed, hover for the value)
and needs no server and no network: ``plotly.offline.get_plotlyjs()`` is inlined.
The price is page size: ~4.7 MB of plotly.js per page, paid once however many charts.
matplotlib would give small static SVGs but no zoom or hover, and brings numpy,
pillow and fonttools.  Traces are thinned to :data:`POINTS_MAX` points each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Final, TypeVar

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .records import ChargerRun, MeterSample, RoundTrip

POINTS_MAX: Final = 5000
T = TypeVar("T")

STATUS_COLOURS: Final = {
    "Available": "#2ca02c",
    "Preparing": "#17becf",
    "Charging": "#1f77b4",
    "SuspendedEV": "#bcbd22",
    "SuspendedEVSE": "#ff7f0e",
    "Finishing": "#9467bd",
    "Reserved": "#8c564b",
    "Unavailable": "#7f7f7f",
    "Faulted": "#d62728",
}


def plot_time(when: datetime) -> str:
    """plotly.js date axes take zone-less text: UTC, as every axis title says."""
    return when.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def thin(items: Sequence[T], limit: int = POINTS_MAX) -> list[T]:
    """At most ``limit`` evenly spaced items, always keeping the last."""
    if len(items) <= limit:
        return list(items)
    step = len(items) / limit
    kept = [items[int(i * step)] for i in range(limit - 1)]
    return [*kept, items[-1]]


def _layout(fig: go.Figure, title: str, height: int = 360) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0.01},
        template="plotly_white",
        height=height,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
        legend={"orientation": "h", "y": -0.15},
    )
    return fig


def status_figure(run: ChargerRun) -> go.Figure | None:
    """Each connector's state as coloured spans over time (StatusNotification, §4.9)."""
    if not run.statuses:
        return None
    end = run.end or run.statuses[-1].time
    spans: dict[str, tuple[list[str], list[float], list[str], list[str]]] = {}
    by_connector: dict[int, list[int]] = {}
    for index, change in enumerate(run.statuses):
        by_connector.setdefault(change.connector, []).append(index)
    for connector, indexes in sorted(by_connector.items()):
        for position, index in enumerate(indexes):
            change = run.statuses[index]
            stop = run.statuses[indexes[position + 1]].time if position + 1 < len(indexes) else end
            base, widths, rows, texts = spans.setdefault(change.status, ([], [], [], []))
            base.append(plot_time(change.time))
            widths.append(max(1.0, (stop - change.time).total_seconds() * 1000))
            rows.append(f"connector {connector}")
            error = f" ({change.error_code})" if change.error_code not in ("", "NoError") else ""
            texts.append(f"{change.status}{error}<br>from {plot_time(change.time)} UTC")
    fig = go.Figure()
    for status, (base, widths, rows, texts) in spans.items():
        fig.add_trace(
            go.Bar(
                name=status,
                base=base,
                x=widths,
                y=rows,
                orientation="h",
                hovertext=texts,
                hoverinfo="text",
                marker_color=STATUS_COLOURS.get(status, "#333333"),
            )
        )
    fig.update_xaxes(type="date", title_text="time (UTC)")
    fig.update_layout(barmode="overlay")
    return _layout(fig, "Connector states", 150 + 50 * len(by_connector))


_Quantity = tuple[
    str, str, Callable[[MeterSample], float | None], Callable[[MeterSample], float | None] | None
]
QUANTITIES: Final[list[_Quantity]] = [
    ("power (W)", "Power.Active.Import", lambda m: m.power_w, lambda m: m.power_offered_w),
    ("current (A)", "Current.Import", lambda m: m.current_a, lambda m: m.current_offered_a),
    ("energy (Wh)", "Energy.Active.Import.Register", lambda m: m.energy_wh, None),
    ("SoC (%)", "SoC", lambda m: m.soc, None),
]


def meter_figure(run: ChargerRun) -> go.Figure | None:
    """Power, current, energy and SoC per connector; the charging limit (Power.Offered,
    Current.Offered: OCPP 1.6 §7.31) as a dashed step line beside what was drawn."""
    rows = [q for q in QUANTITIES if any(q[2](m) is not None for m in run.meters)]
    if not rows:
        return None
    fig = make_subplots(
        rows=len(rows), cols=1, shared_xaxes=True, subplot_titles=[r[0] for r in rows]
    )
    connectors = sorted({m.connector for m in run.meters})
    for row, (_title, measurand, value, limit) in enumerate(rows, start=1):
        for connector in connectors:
            samples = [m for m in run.meters if m.connector == connector]
            _add_series(fig, row, f"{measurand} c{connector}", samples, value, "solid")
            if limit is not None:
                offered = measurand.split(".")[0] + ".Offered"
                _add_series(fig, row, f"{offered} c{connector} (limit)", samples, limit, "dash")
    fig.update_xaxes(type="date", title_text="time (UTC)", row=len(rows), col=1)
    return _layout(fig, "Power, energy and SoC against the charging limit", 170 + 190 * len(rows))


def _add_series(
    fig: go.Figure,
    row: int,
    name: str,
    samples: list[MeterSample],
    value: Callable[[MeterSample], float | None],
    dash: str,
) -> None:
    points = [(m.time, v) for m in samples if (v := value(m)) is not None]
    if not points:
        return
    points = thin(points)
    fig.add_trace(
        go.Scatter(
            x=[plot_time(t) for t, _ in points],
            y=[v for _, v in points],
            name=name,
            mode="lines+markers" if len(points) < 200 else "lines",
            line={"shape": "hv", "dash": dash},
        ),
        row=row,
        col=1,
    )


def latency_figure(round_trips: Sequence[RoundTrip]) -> go.Figure | None:
    """Round-trip times (CALL -> CALLRESULT/CALLERROR, OCPP-J §4), each timed by the side
    that sent the CALL."""
    seconds = [r.seconds for r in round_trips]
    if not seconds or max(seconds) - min(seconds) < 1e-6:
        return None  # one value (virtual time: all 0): the facts table says it
    fig = go.Figure()
    for from_charger, name in ((True, "charger's CALLs"), (False, "CSMS's CALLs")):
        values = [r.seconds * 1000 for r in round_trips if r.from_charger == from_charger]
        if values:
            fig.add_trace(
                go.Histogram(x=values, name=f"{name} ({len(values)})", opacity=0.75, bingroup="rtt")
            )
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title_text="round trip (ms)")
    fig.update_yaxes(title_text="messages")
    return _layout(fig, "Round-trip latency")
