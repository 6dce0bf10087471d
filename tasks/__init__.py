"""Prefect tasks of the sweep loop: one thin task per verb, each calling sweepcore."""

from tasks.report import publish_results
from tasks.store import claim_trials, load_sweep_trials, persist_trials
from tasks.suggest import suggest_trials
from tasks.train import train_trial

__all__ = [
    "claim_trials",
    "load_sweep_trials",
    "persist_trials",
    "publish_results",
    "suggest_trials",
    "train_trial",
]
