"""Tasks that read and write the results store; they retry, since storage I/O can fail."""

from __future__ import annotations

from collections.abc import Sequence

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from sweepcore.store import ResultStore
from sweepcore.trial import Trial

__all__ = ["claim_trials", "load_sweep_trials", "persist_trials"]

_IO = {"retries": 2, "retry_delay_seconds": [1, 5], "cache_policy": NO_CACHE}


@task(name="load-trials", **_IO)
def load_sweep_trials(store: ResultStore, sweep_id: str) -> list[Trial]:
    """Every trial of the sweep, with metric histories."""
    trials = store.load_trials(sweep_id)
    get_run_logger().info(
        "loaded %d trial(s) of sweep %s from %s", len(trials), sweep_id, store.url
    )
    return trials


@task(name="claim-trials", **_IO)
def claim_trials(store: ResultStore, sweep_id: str, trials: Sequence[Trial]) -> list[Trial]:
    """Create the records of new trials; returns the ones whose id was free."""
    claimed = [t for t in trials if store.claim_trial(sweep_id, t)]
    for trial in trials:
        if trial not in claimed:
            get_run_logger().info("trial id %s was already taken; skipped", trial.trial_id)
    return claimed


@task(name="persist-trials", **_IO)
def persist_trials(store: ResultStore, sweep_id: str, trials: Sequence[Trial]) -> None:
    """Write trial records (e.g. lost attempts closed on resume)."""
    for trial in trials:
        store.write_trial(sweep_id, trial)
