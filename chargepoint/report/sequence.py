"""The sequence diagram of charger <-> CSMS messages, hand-made HTML and CSS.

No plotting library draws sequence diagrams (plotly, matplotlib and bokeh plot data;
mermaid would mean a second JavaScript bundle and its layout engine), and an arrow
per message is a row of a CSS grid: two lifelines, the arrow, its action and
payload, and beneath it the AT lines that carried it, folded in ``<details>``.  No
JavaScript, so the diagram shows even where scripts are blocked.
"""

from __future__ import annotations

from html import escape

from .records import AtTraceLine, ChargerRun, SequenceMessage

SEQUENCE_CSS = """
.seq { font: 13px/1.35 system-ui, sans-serif; max-width: 1100px; }
.seq-head, .seq-row { display: grid; grid-template-columns: 8.5em 1fr; }
.seq-head div { font-weight: 600; display: flex; justify-content: space-between; }
.seq-time { color: #666; font-variant-numeric: tabular-nums; padding-top: 0.2em; }
.seq-head .seq-time { font-weight: normal; font-size: 11px; }
.seq-lane { border-left: 3px solid #999; border-right: 3px solid #999; padding: 0.15em 0.6em; }
.seq-arrow { position: relative; border-bottom: 2px solid currentColor; margin: 0 0.4em; }
.seq-arrow::after { content: ""; position: absolute; bottom: -6px; border: 5px solid transparent; }
.to-csms .seq-arrow::after { right: -2px; border-left: 9px solid currentColor; border-right: 0; }
.to-charger .seq-arrow::after { left: -2px; border-right: 9px solid currentColor; border-left: 0; }
.to-charger .seq-label { text-align: right; }
.CALL { color: #1f5fbf; } .RESULT { color: #23803a; } .ERROR { color: #c0262d; }
.seq-label b { font-weight: 600; }
.seq-body { color: #333; font: 11px/1.3 ui-monospace, monospace; overflow-wrap: anywhere; }
.seq-at { color: #555; font: 11px/1.3 ui-monospace, monospace; }
.seq-at summary { cursor: pointer; color: #7a4d00; }
.seq-at pre { margin: 0.2em 0 0.4em; white-space: pre-wrap; overflow-wrap: anywhere; }
"""


def _at_block(lines: list[AtTraceLine], more: int, label: str) -> str:
    if not lines:
        return ""
    text = "\n".join(
        f"{line.time.strftime('%H:%M:%S.%f')[:-3]} {line.direction} {line.text}" for line in lines
    )
    extra = f"\n… {more} more AT lines not shown" if more else ""
    return (
        f'<details class="seq-at"><summary>{len(lines) + more} {escape(label)}</summary>'
        f"<pre>{escape(text + extra)}</pre></details>"
    )


def _row(message: SequenceMessage) -> str:
    way = "to-csms" if message.from_charger else "to-charger"
    latency = f" · {message.latency_s * 1000:.0f} ms" if message.latency_s is not None else ""
    body = f'<div class="seq-body">{escape(message.body)}</div>' if message.body else ""
    return (
        f'<div class="seq-row {way}" data-action="{escape(message.action)}" '
        f'data-kind="{message.kind}">'
        f'<div class="seq-time">{message.time.strftime("%H:%M:%S.%f")[:-3]}</div>'
        f'<div class="seq-lane"><div class="seq-label {message.kind}">'
        f"<b>{escape(message.action)}</b> {message.kind}{latency}"
        f'<div class="seq-arrow"></div></div>{body}'
        f"{_at_block(message.at_lines, message.at_more, 'AT lines')}</div></div>"
    )


def sequence_html(run: ChargerRun) -> str:
    """The diagram of ``run.messages`` (already bounded), the modem's set-up first."""
    who = escape(run.charge_point or "charger")
    parts = [
        '<div class="seq">',
        f'<div class="seq-head"><span class="seq-time">{escape(run.diagram_clock)}</span>'
        f"<div><span>{who}</span><span>CSMS</span></div></div>",
    ]
    if run.setup_at_lines:
        setup = _at_block(run.setup_at_lines, 0, "AT lines before the first message (set-up)")
        parts.append(
            '<div class="seq-row"><div class="seq-time"></div>'
            f'<div class="seq-lane">{setup}</div></div>'
        )
    parts.extend(_row(message) for message in run.messages)
    parts.append("</div>")
    return "".join(parts)
