"""Sweep configs in W&B's format: load, validate, and the typed records they become."""

from sweepcore.config.compare import require_same_search_space, search_space_changes
from sweepcore.config.errors import ConfigProblem, SweepConfigError
from sweepcore.config.loader import SweepConfigWarning, check_config, load_config, parse_yaml
from sweepcore.config.model import (
    DISTRIBUTIONS,
    HyperbandSpec,
    MetricSpec,
    Parameter,
    SweepConfig,
)
from sweepcore.config.sections import hyperband_bands

__all__ = [
    "DISTRIBUTIONS",
    "ConfigProblem",
    "HyperbandSpec",
    "MetricSpec",
    "Parameter",
    "SweepConfig",
    "SweepConfigError",
    "SweepConfigWarning",
    "check_config",
    "hyperband_bands",
    "load_config",
    "parse_yaml",
    "require_same_search_space",
    "search_space_changes",
]
