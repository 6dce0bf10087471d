"""sweepcore: W&B-style sweep configs, search methods and results stores, in plain Python.

Nothing here imports Prefect: the same code suggests, stores and reads results in a notebook.
"""

from sweepcore.config import SweepConfig, SweepConfigError, load_config
from sweepcore.results import load_results
from sweepcore.run import Run
from sweepcore.trial import Trial, TrialState

__all__ = [
    "Run",
    "SweepConfig",
    "SweepConfigError",
    "Trial",
    "TrialState",
    "load_config",
    "load_results",
]
