"""The fleet report dir (``--report DIR``), read by ``cpsim report`` and by people.

Three files, all UTF-8, times in seconds since the fleet started (``t``, monotonic)
with the wall-clock start in the summary:

``events.jsonl``: one JSON object a line, one per change of one charger::

    {"t": 0.512, "cp": "CP00001", "event": "connected", "url": "ws://..."}
    {"t": 0.530, "cp": "CP00001", "event": "booted"}
    {"t": 0.530, "cp": "CP00002", "event": "rejected", "status": "Pending"}
    {"t": 9.100, "cp": "CP00001", "event": "disconnected", "reason": "..."}
    {"t": 0.700, "cp": "CP00003", "event": "failed", "reason": "..."}

  ``event`` is one of ``connected`` (the WebSocket is open), ``booted`` (Boot-
  Notification Accepted), ``rejected`` (BootNotification Pending/Rejected; ``status``),
  ``disconnected`` (the link dropped; ``reason``), ``failed`` (a connect attempt
  failed; ``reason``, the URL and password never in it).  ``url`` is on
  ``connected`` only, without user info.

``samples.jsonl``: once a second, the fleet as a whole::

    {"t": 3.0, "started": 3000, "connected": 2990, "booted": 2985, "sent": 6000,
     "received": 5990, "errors": 0}

  ``sent``/``received`` are OCPP messages (CALL, CALLRESULT, CALLERROR) counted
  since the start; ``errors`` are CALLERRORs received plus failed connects.  What the
  link factory counts is added as objects (:func:`chargepoint.fleet.links.factory_counts`):
  ``transactions`` with ``--transactions`` (the generator's ``arrived``,
  ``turned_away``, ``invalid_tags`` presented, ``refused`` authorizations, ``started``
  and ``stopped`` transactions, ``energy_kwh`` of the stopped ones, ``departed``,
  ``failed``) and ``link_faults`` with ``--link ec200u|esp-at`` (``send_fails``,
  ``pdp_deactivations``, ``cell_outages``, ``outage_chargers``, ``cell_lost_now``,
  ``dropped_by_send_fail``/``_pdp``/``_outage``: connections each kind of fault ended,
  ``skipped``), all counted since the start but ``cell_lost_now``.

``summary.json``: the end of the run: ``version`` (1), ``started`` (ISO 8601 UTC),
``duration_s``, ``count``, ``shard`` ("I/K"), ``first_id``/``last_id``, ``booted``,
``never_booted``, ``failures`` ({reason: chargers}), ``sent``, ``received``,
``errors``, ``all_booted_s`` (null if not all did), ``latency_ms`` ({count, p50, p90,
p99, max} of CALL -> answer round trips), ``rss_mib`` ({before, steady, peak}),
``per_charger_kib``, ``tasks_per_charger``, ``steady_cpu_percent``, ``ended_by``
(``duration`` or ``stop``: Ctrl+C or SIGTERM), ``exit_code`` (0 all booted, 1 some
never did, 130 stopped before ``--duration`` was over), and the samples' ``transactions``
and ``link_faults`` at the end when there are some.  A failure reason starts with the
CSMS's base URL (no user info), so ``failures`` groups chargers by CSMS and cause.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

REPORT_VERSION = 1
EVENTS = "events.jsonl"
SAMPLES = "samples.jsonl"
SUMMARY = "summary.json"


class FleetReportWriter:
    """Buffered JSONL writers: one file for all chargers, flushed once a second, so a
    fleet makes no per-charger filesystem writes."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._events: IO[str] | None = None
        self._samples: IO[str] | None = None
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            self._events = (directory / EVENTS).open("w", encoding="utf-8", buffering=1 << 16)
            self._samples = (directory / SAMPLES).open("w", encoding="utf-8")

    def event(self, record: dict[str, Any]) -> None:
        if self._events is not None:
            self._events.write(json.dumps(record, separators=(",", ":")) + "\n")

    def sample(self, record: dict[str, Any]) -> None:
        if self._samples is not None:
            self._samples.write(json.dumps(record, separators=(",", ":")) + "\n")

    def flush(self) -> None:
        for file in (self._events, self._samples):
            if file is not None:
                file.flush()

    def summary(self, record: dict[str, Any]) -> None:
        if self.directory is not None:
            text = json.dumps({"version": REPORT_VERSION, **record}, indent=2)
            (self.directory / SUMMARY).write_text(text + "\n", encoding="utf-8")

    def close(self) -> None:
        for file in (self._events, self._samples):
            if file is not None:
                file.close()
        self._events = self._samples = None
