"""The three logs of a charger run, parsed into a :class:`~.records.ChargerRun`.

* the core's timeline (``timeline.jsonl``, ``<name>.timeline.jsonl``): ``{"time", "kind",
  ...}`` on the charger's wall clock; ``status``, ``meter``, ``sent`` / ``received`` /
  ``answered`` (with ``uniqueId``) are used;
* the local CSMS's frame log (``cpsim csms --log``, ``<name>.frames.jsonl``): ``{"seq",
  "time", "direction": "received"|"sent", "charge_point", "message": [2|3|4, ...]}`` on
  the CSMS's clock, direction seen from the CSMS;
* the AT trace (``--at-log``): ``2030-01-01 10:00:00.123 PORT >> TEXT`` on the host's local
  time (``modem.at.trace``).

Round trips are timed on the sender's own clock, the only one that sees both ends:
charger-initiated CALLs on the timeline (``sent`` -> ``received`` with the same
``uniqueId``), CSMS-initiated CALLs on the frame log (``sent`` CALL -> ``received``
answer).  Without a timeline the charger's CALLs are not timed (the frame log would
only give the CSMS's time to answer).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final

from chargepoint.logmask import mask_data, mask_text
from chargepoint.timefmt import parse_time
from modem.at.trace import mask_text as mask_at_text

from .records import (
    AtTraceLine,
    ChargerRun,
    MessageKind,
    MeterSample,
    RoundTrip,
    SequenceMessage,
    StatusChange,
)

BODY_MAX: Final = 400
"""Characters of a payload shown in the diagram."""
AT_TEXT_MAX: Final = 300
DIAGRAM_MAX: Final = 2000
"""Messages drawn in one charger's sequence diagram; the rest are counted."""
AT_PER_MESSAGE_MAX: Final = 200

AT_LINE: Final = re.compile(
    r"^(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[.,]\d{1,6})?) (\S*) ?(>>|<<|--) (.*)$"
)
_KINDS: Final[dict[int, MessageKind]] = {2: "CALL", 3: "RESULT", 4: "ERROR"}


def _time(value: Any) -> datetime | None:
    return parse_time(value) if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _body(payload: Any) -> str:
    text = json.dumps(mask_data(payload), separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= BODY_MAX else text[: BODY_MAX - 1] + "…"


# --- the timeline ----------------------------------------------------------------------


def apply_timeline(run: ChargerRun, events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Statuses, meter samples and the charger's own round trips from timeline events;
    returns the message events (``sent``/``received``/``answered``), in order, for a
    diagram when there is no frame log."""
    messages: list[dict[str, Any]] = []
    calls: dict[str, tuple[str, datetime]] = {}
    for event in events:
        when = _time(event.get("time"))
        if when is None:
            continue
        run.end = when if run.end is None or when > run.end else run.end
        kind = event.get("kind")
        connector = event.get("connector")
        if kind == "status" and isinstance(connector, int):
            run.statuses.append(
                StatusChange(
                    when, connector, str(event.get("status", "")), str(event.get("errorCode", ""))
                )
            )
        elif kind == "meter" and isinstance(connector, int):
            run.meters.append(
                MeterSample(
                    when,
                    connector,
                    power_w=_number(event.get("powerW")),
                    energy_wh=_number(event.get("energyWh")),
                )
            )
        elif kind == "link" and event.get("up") is True and run.link_up is None:
            run.link_up = when
        elif kind in ("sent", "received", "answered"):
            unique_id = str(event.get("uniqueId", ""))
            messages.append(event)
            if kind == "sent":
                calls[unique_id] = (str(event.get("action", "")), when)
            elif kind == "received" and unique_id in calls:
                action, sent_at = calls.pop(unique_id)
                run.round_trips.append(
                    RoundTrip(
                        action,
                        True,
                        max(0.0, (when - sent_at).total_seconds()),
                        "error" in event,
                        unique_id,
                    )
                )
    return messages


def messages_from_timeline(
    run: ChargerRun, events: list[dict[str, Any]], keep: int = DIAGRAM_MAX
) -> list[SequenceMessage]:
    """The diagram's first ``keep`` arrows from the charger's own view (the timeline has no
    payloads); ``run.messages_total`` counts them all."""
    out = _Kept(keep)
    ours: dict[str, tuple[str, datetime]] = {}
    theirs: dict[str, str] = {}
    for event in events:
        when = _time(event.get("time"))
        if when is None:
            continue
        kind = event.get("kind")
        unique_id = str(event.get("uniqueId", ""))
        action = str(event.get("action", ""))
        if kind == "sent":
            ours[unique_id] = (action, when)
            out.add(SequenceMessage(when, True, "CALL", action, unique_id))
        elif kind == "received" and unique_id in ours:
            action, sent_at = ours.pop(unique_id)
            error = event.get("error")
            out.add(
                SequenceMessage(
                    when,
                    False,
                    "ERROR" if error else "RESULT",
                    action,
                    unique_id,
                    str(error) if error else "",
                    max(0.0, (when - sent_at).total_seconds()),
                )
            )
        elif kind == "received":
            theirs[unique_id] = action
            out.add(SequenceMessage(when, False, "CALL", action, unique_id))
        elif kind == "answered":
            error = event.get("error")
            status = event.get("status")
            out.add(
                SequenceMessage(
                    when,
                    True,
                    "ERROR" if error else "RESULT",
                    theirs.pop(unique_id, action),
                    unique_id,
                    str(error) if error else (f'{{"status":"{status}"}}' if status else ""),
                )
            )
    run.messages_total = out.total
    return out.items


# --- the frame log ---------------------------------------------------------------------


class _Kept:
    """The first ``keep`` items, and how many there were."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self.items: list[SequenceMessage] = []
        self.total = 0

    def add(self, item: SequenceMessage) -> None:
        self.total += 1
        if len(self.items) < self.keep:
            self.items.append(item)


_CHARGE_POINT: Final = re.compile(rb'"charge_point"\s*:\s*"((?:[^"\\]|\\.){0,200})"')


def frame_charge_points(lines: Iterable[bytes]) -> dict[str, int]:
    """How many frames each charge point has in a frame log (read from the raw lines: a
    first pass over a large log need not parse every payload)."""
    counts: dict[str, int] = {}
    for line in lines:
        match = _CHARGE_POINT.search(line)
        if match is None:
            continue
        try:
            cp = str(json.loads(b'"' + match.group(1) + b'"'))
        except ValueError:
            continue
        counts[cp] = counts.get(cp, 0) + 1
    return counts


def apply_frames(
    run: ChargerRun, frames: Iterable[dict[str, Any]], keep: int = DIAGRAM_MAX
) -> list[SequenceMessage]:
    """The diagram's first ``keep`` arrows with payloads (``run.messages_total`` counts
    them all), meter samples from MeterValues, status changes from StatusNotification
    (used when the timeline has none), and the CSMS's round trips."""
    out = _Kept(keep)
    calls: dict[tuple[bool, str], tuple[str, datetime]] = {}
    statuses: list[StatusChange] = []
    charger_timed = {r.unique_id: r.seconds for r in run.round_trips if r.from_charger}
    for frame in frames:
        when = _time(frame.get("time"))
        message = frame.get("message")
        if when is None or not isinstance(message, list) or len(message) < 3:
            continue
        kind = _KINDS.get(message[0]) if isinstance(message[0], int) else None
        if kind is None:
            continue
        run.end = when if run.end is None or when > run.end else run.end
        from_charger = frame.get("direction") == "received"
        unique_id = str(message[1])
        if kind == "CALL":
            action = str(message[2])
            payload = message[3] if len(message) > 3 else {}
            calls[(from_charger, unique_id)] = (action, when)
            body = _body(payload) if out.total < keep else ""
            out.add(SequenceMessage(when, from_charger, kind, action, unique_id, body))
            if from_charger and isinstance(payload, dict):
                _from_charger_call(action, payload, when, run, statuses)
            continue
        action, sent_at = calls.pop((not from_charger, unique_id), ("?", when))
        payload = message[2] if kind == "RESULT" else message[2:]
        latency: float | None = None
        if from_charger and action != "?":
            # the CSMS's own CALL: both ends on the CSMS's clock
            latency = max(0.0, (when - sent_at).total_seconds())
            run.round_trips.append(RoundTrip(action, False, latency, kind == "ERROR", unique_id))
        elif not from_charger:
            # the charger's CALL: timed on its timeline, when there is one
            latency = charger_timed.get(unique_id)
        body = _body(payload) if out.total < keep else ""
        out.add(SequenceMessage(when, from_charger, kind, action, unique_id, body, latency))
    if not run.statuses:
        run.statuses = statuses
    run.messages_total = out.total
    return out.items


def _from_charger_call(
    action: str,
    payload: dict[str, Any],
    when: datetime,
    run: ChargerRun,
    statuses: list[StatusChange],
) -> None:
    connector = payload.get("connectorId")
    if not isinstance(connector, int):
        return
    if action == "StatusNotification":
        stamp = _time(payload.get("timestamp")) or when
        statuses.append(
            StatusChange(
                stamp, connector, str(payload.get("status", "")), str(payload.get("errorCode", ""))
            )
        )
    elif action == "MeterValues":
        for value in payload.get("meterValue") or []:
            if isinstance(value, dict):
                sample = meter_sample(connector, value, when)
                if sample is not None:
                    run.meters.append(sample)


_SCALE: Final = {"W": 1.0, "kW": 1000.0, "Wh": 1.0, "kWh": 1000.0, "A": 1.0, "Percent": 1.0}


def meter_sample(
    connector: int, meter_value: dict[str, Any], default: datetime
) -> MeterSample | None:
    """One MeterValue (OCPP 1.6 §7.30) as a sample: the total (no phase) value of each
    measurand, else the sum of a power's phases and the largest current of a phase.
    A sampledValue without a measurand is Energy.Active.Import.Register (§7.43)."""
    totals: dict[str, float] = {}
    phased: dict[str, list[float]] = {}
    for sampled in meter_value.get("sampledValue") or []:
        if not isinstance(sampled, dict):
            continue
        number = _number(sampled.get("value"))
        if number is None:
            continue
        measurand = str(sampled.get("measurand") or "Energy.Active.Import.Register")
        number *= _SCALE.get(str(sampled.get("unit", "")), 1.0)
        if sampled.get("phase"):
            phased.setdefault(measurand, []).append(number)
        else:
            totals.setdefault(measurand, number)
    for measurand, values in phased.items():
        if measurand not in totals:
            totals[measurand] = max(values) if measurand.startswith("Current") else sum(values)
    if not totals:
        return None
    return MeterSample(
        _time(meter_value.get("timestamp")) or default,
        connector,
        power_w=totals.get("Power.Active.Import"),
        energy_wh=totals.get("Energy.Active.Import.Register"),
        soc=totals.get("SoC"),
        current_a=totals.get("Current.Import"),
        power_offered_w=totals.get("Power.Offered"),
        current_offered_a=totals.get("Current.Offered"),
    )


# --- the AT trace -----------------------------------------------------------------------


def at_trace_line(text: str) -> AtTraceLine | None:
    """One line of an AT trace, or None when it is not one.  The trace stamps the host's
    local time without a zone (``modem.at.trace``): it is read as this host's local time."""
    match = AT_LINE.match(text)
    if match is None:
        return None
    try:
        local = datetime.fromisoformat(match.group(1).replace(",", "."))
    except ValueError:
        return None
    when = local.astimezone(UTC) if local.tzinfo is None else local
    shown = mask_text(mask_at_text(match.group(4)))
    if len(shown) > AT_TEXT_MAX:
        shown = shown[: AT_TEXT_MAX - 1] + "…"
    return AtTraceLine(when, match.group(3), shown)


_CARRIED_ID: Final = re.compile(r'\[([234]),\s*"([^"\\]{1,64})"')


def attach_at_lines(
    messages: list[SequenceMessage],
    lines: list[AtTraceLine],
    link_up: datetime | None = None,
) -> list[AtTraceLine]:
    """Put each AT line beneath the message it carried or led up to; returns the lines
    before the first message: the modem's set-up, up to ``link_up`` (the timeline's first
    ``link up``, when known) or up to the first message's own exchange.

    A line that carries an OCPP frame (``ws text 64: [3,"<uniqueId>",...``, a ``+QIRD``
    with the frame) anchors the lines since the previous anchor to that message, so the
    trace's host clock need not agree with the CSMS's.  Lines no anchor places go with
    the last message at or before their time."""
    by_key = {(m.kind, m.unique_id): m for m in messages}
    placed: list[tuple[AtTraceLine, SequenceMessage | None]] = []
    pending: list[AtTraceLine] = []
    before: list[AtTraceLine] = []
    anchored = False
    for line in lines:
        pending.append(line)
        match = _CARRIED_ID.search(line.text)
        target = by_key.get((_KINDS[int(match.group(1))], match.group(2))) if match else None
        if target is not None:
            if not anchored and link_up is not None:
                before.extend(p for p in pending if p.time < link_up)
                pending = [p for p in pending if p.time >= link_up]
            anchored = True
            placed.extend((p, target) for p in pending)
            pending = []
    placed.extend((p, None) for p in pending)
    ordered = sorted(messages, key=lambda m: m.time)
    index = 0
    for line, target in placed:
        if target is None:
            while index < len(ordered) and ordered[index].time <= line.time:
                index += 1
            target = ordered[index - 1] if index > 0 else None
        if target is None:
            before.append(line)
        elif len(target.at_lines) < AT_PER_MESSAGE_MAX:
            target.at_lines.append(line)
        else:
            target.at_more += 1
    return before
