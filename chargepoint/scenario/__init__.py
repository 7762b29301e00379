"""YAML scenarios: a charger, its link, a CSMS, and steps that say what must happen.

``load_scenario(path)`` returns a checked :class:`Scenario` or raises
:class:`ScenarioLoadError` whose ``problems`` each name ``file:line:col``.
"""

from .config import (
    Charger,
    Csms,
    DirectLinkConfig,
    Ec200uLinkConfig,
    EspAtLinkConfig,
    MissingEnv,
    expand_env,
)
from .errors import Position, Problem, ScenarioLoadError
from .loader import check_files, load_files, load_scenario, parse_scenario, scenario_files
from .model import Scenario, json_schema
from .steps import STEP_KINDS, STEP_TYPES, Step, StepBase

__all__ = [
    "STEP_KINDS",
    "STEP_TYPES",
    "Charger",
    "Csms",
    "DirectLinkConfig",
    "Ec200uLinkConfig",
    "EspAtLinkConfig",
    "MissingEnv",
    "Position",
    "Problem",
    "Scenario",
    "ScenarioLoadError",
    "Step",
    "StepBase",
    "check_files",
    "load_files",
    "expand_env",
    "json_schema",
    "load_scenario",
    "parse_scenario",
    "scenario_files",
]
