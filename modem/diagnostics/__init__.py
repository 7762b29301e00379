"""Field diagnostics for a cellular modem: is this SIM, this APN, this network good
enough for a charger, and if not, why (issue #6).

Layer 1: plain async checks over a :class:`~modem.quectel.QuectelModem` (or its
driver), each returning a typed :class:`CheckResult`; decoders for the
diagnostic answers; and :func:`verdict`, which turns the rows into the one line
a technician acts on.  The WebSocket and OCPP checks live in
:mod:`chargepoint.fieldtest`, which builds on these.  The ESP-AT (Wi-Fi) checks
are in :mod:`modem.diagnostics.wifi`, imported on their own so the cellular
checks never depend on :mod:`modem.espat`.
"""

from modem.quectel.dialect import AUTH_CODES, AUTH_NAMES, auth_code

from .cellular import module_check, operator_check, registration_check, sim_check
from .data import ApnSettings, apn_name_problem, data_check
from .port import PortIdentity, identify
from .radio import lte_quality_check, network_check, serving_cell_check, signal_check
from .reach import dns_check, is_ip_address, ping_check, tcp_check
from .result import CheckResult, Report, Status, skipped
from .sequence import CELLULAR, RADIO, CellularPlan, data_blocker, run_cellular
from .verdict import FIXES, WARNINGS, Fix, Verdict, verdict

__all__ = [
    "AUTH_CODES",
    "AUTH_NAMES",
    "CELLULAR",
    "FIXES",
    "RADIO",
    "WARNINGS",
    "ApnSettings",
    "CellularPlan",
    "CheckResult",
    "Fix",
    "PortIdentity",
    "Report",
    "Status",
    "Verdict",
    "apn_name_problem",
    "auth_code",
    "data_blocker",
    "data_check",
    "dns_check",
    "identify",
    "is_ip_address",
    "lte_quality_check",
    "module_check",
    "network_check",
    "operator_check",
    "ping_check",
    "registration_check",
    "run_cellular",
    "serving_cell_check",
    "signal_check",
    "sim_check",
    "skipped",
    "tcp_check",
    "verdict",
]
