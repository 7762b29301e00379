"""The one self-contained HTML page: CSS and plotly.js inline, nothing fetched at view time."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from .charts import latency_figure, meter_figure, status_figure
from .fleet import FleetDigest, figures, latency_percentiles, summary_rows
from .records import ChargerRun
from .sequence import SEQUENCE_CSS, sequence_html

PAGE_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px;
       padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ddd; }
.sources { color: #666; font-size: 12px; }
.notes { background: #fff7e0; border: 1px solid #e7c96b; padding: 0.5em 1em; }
.facts td { padding: 0.1em 1.2em 0.1em 0; } .facts td:first-child { color: #666; }
.badge { padding: 0.1em 0.5em; border-radius: 0.3em; color: white; font-size: 0.8em; }
.badge.passed { background: #23803a; } .badge.failed, .badge.error { background: #c0262d; }
.badge.skipped { background: #7f7f7f; }
.chart { margin: 1em 0; }
"""


class FigureCounter:
    """Stable element ids (``fig-1``, ``fig-2``...), so the same logs give the same page."""

    def __init__(self) -> None:
        self.count = 0

    def html(self, fig: go.Figure) -> str:
        self.count += 1
        height = fig.layout.height or 360
        body = fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=f"fig-{self.count}",
            default_height=f"{height}px",
            config={"displaylogo": False, "responsive": True},
        )
        return f'<div class="chart">{body}</div>'


def _notes(notes: Sequence[str]) -> str:
    if not notes:
        return ""
    items = "".join(f"<li>{escape(n)}</li>" for n in notes)
    return f'<div class="notes"><b>Left out of this report</b><ul>{items}</ul></div>'


def _facts(rows: Sequence[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in rows)
    return f'<table class="facts">{cells}</table>'


def _sources(sources: Sequence[str]) -> str:
    return "".join(f'<div class="sources">{escape(s)}</div>' for s in sources)


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p * len(ordered) + 0.5) - 1))]


def run_facts(run: ChargerRun) -> list[tuple[str, str]]:
    rows = [("charge point", run.charge_point)] if run.charge_point else []
    calls = [m for m in run.messages if m.kind == "CALL"]
    rows.append(("OCPP messages", str(run.messages_total)))
    actions: dict[str, int] = {}
    for message in calls:
        actions[message.action] = actions.get(message.action, 0) + 1
    if actions:
        rows.append(("CALLs", ", ".join(f"{a} ×{n}" for a, n in sorted(actions.items()))))
    errors = sum(m.kind == "ERROR" for m in run.messages)
    if errors:
        rows.append(("CALLERRORs", str(errors)))
    if run.at_total:
        rows.append(("AT trace lines", str(run.at_total)))
    if run.round_trips:
        ms = [r.seconds * 1000 for r in run.round_trips]
        rows.append(
            (
                "round trip (ms)",
                f"p50 {_percentile(ms, 0.5):.0f}, p90 {_percentile(ms, 0.9):.0f}, "
                f"max {max(ms):.0f} ({len(ms)} CALLs)",
            )
        )
    energy = [m.energy_wh for m in run.meters if m.energy_wh is not None]
    if energy:
        rows.append(("energy (Wh)", f"{min(energy):g} → {max(energy):g}"))
    if run.reason:
        rows.append(("reason", run.reason))
    return rows


def _run_section(run: ChargerRun, index: int, counter: FigureCounter) -> str:
    badge = (
        f' <span class="badge {escape(run.status)}">{escape(run.status)}</span>'
        if run.status
        else ""
    )
    parts = [
        f'<section class="run" id="run-{index}"><h2>{escape(run.title)}{badge}</h2>',
        _sources(run.sources),
        _notes(run.notes),
        _facts(run_facts(run)),
    ]
    for fig in (status_figure(run), meter_figure(run), latency_figure(run.round_trips)):
        if fig is not None:
            parts.append(counter.html(fig))
    if run.messages or run.setup_at_lines:
        parts.append("<h3>Messages</h3>")
        parts.append(sequence_html(run))
    parts.append("</section>")
    return "".join(parts)


def _fleet_section(digest: FleetDigest, counter: FigureCounter) -> str:
    rows = summary_rows(digest)
    percentiles = latency_percentiles(digest)
    if percentiles:
        rows.append(("round trip (ms)", ", ".join(f"{k} {v:g}" for k, v in percentiles.items())))
    parts = [
        f'<section class="fleet"><h2>{escape(digest.title)}</h2>',
        _sources(digest.sources),
        _notes(digest.notes),
        _facts(rows),
    ]
    parts.extend(counter.html(fig) for fig in figures(digest))
    parts.append("</section>")
    return "".join(parts)


def render_page(
    title: str,
    runs: Sequence[ChargerRun],
    fleet: FleetDigest | None = None,
    notes: Sequence[str] = (),
) -> str:
    """The page; plotly.js is inlined once, and only when there is a chart."""
    counter = FigureCounter()
    sections = [_fleet_section(fleet, counter)] if fleet is not None else []
    if len(runs) > 1:
        links = "".join(
            f'<li><a href="#run-{i}">{escape(r.title)}</a>'
            f"{' — ' + escape(r.status) if r.status else ''}</li>"
            for i, r in enumerate(runs)
        )
        sections.append(f"<ul>{links}</ul>")
    sections.extend(_run_section(run, i, counter) for i, run in enumerate(runs))
    script = f'<script type="text/javascript">{get_plotlyjs()}</script>' if counter.count else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        f"<style>{PAGE_CSS}{SEQUENCE_CSS}</style>{script}</head>"
        f"<body><h1>{escape(title)}</h1>{_notes(notes)}{''.join(sections)}</body></html>\n"
    )
