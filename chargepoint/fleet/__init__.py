"""Fleets: thousands of chargers in one process, sharded over processes or pods.

``cpsim fleet`` (:mod:`chargepoint.cli.fleet`) checks the ids, the shard and the
file descriptors before anything starts (:mod:`.ids`, :mod:`.fds`), builds one link
per charger from a link factory (:mod:`.links`; ``direct`` here, the cellular kinds
register from their own module), runs them (:mod:`.runner`) and writes the report
dir (:mod:`.report`: ``events.jsonl``, ``samples.jsonl``, ``summary.json``).
"""

from .fds import FdBudget, raise_fd_limit
from .ids import FleetUsageError, IdTemplate, ShardSpec, fleet_ids, shard_from_env
from .links import LinkContext, LinkFactory, make_link_factory, register_link_kind
from .report import FleetReportWriter
from .runner import Fleet, FleetPlan, FleetSummary
from .urls import assign_urls, read_urls_file

__all__ = [
    "FdBudget",
    "Fleet",
    "FleetPlan",
    "FleetReportWriter",
    "FleetSummary",
    "FleetUsageError",
    "IdTemplate",
    "LinkContext",
    "LinkFactory",
    "ShardSpec",
    "assign_urls",
    "fleet_ids",
    "make_link_factory",
    "raise_fd_limit",
    "read_urls_file",
    "register_link_kind",
    "shard_from_env",
]
