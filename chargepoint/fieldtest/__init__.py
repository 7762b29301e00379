"""Field tests for SIM cards and APNs (issue #6): the CSMS half and the orchestration.

Layer 3: builds on :mod:`modem.diagnostics` (module, SIM, radio, registration,
data, DNS, ping, TCP) and adds what needs the charger's own stack: the
WebSocket upgrade with ocpp1.6 over the modem's socket and a BootNotification
round trip.  ``cpsim modem check`` and ``cpsim modem apn-scan`` are thin
click wrappers around :func:`run_check` and :func:`run_scan`.
"""

from .check import REACH, CheckOptions, PortOptions, ReachOptions, run_check
from .outcome import judge
from .scan import ApnTry, ScanOptions, ScanOutcome, parse_apn_file, run_scan
from .target import CsmsTarget

__all__ = [
    "REACH",
    "ApnTry",
    "CheckOptions",
    "CsmsTarget",
    "PortOptions",
    "ReachOptions",
    "ScanOptions",
    "ScanOutcome",
    "judge",
    "parse_apn_file",
    "run_check",
    "run_scan",
]
