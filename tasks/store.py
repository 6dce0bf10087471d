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
def claim_trials(
    store: ResultStore, sweep_id: str, trials: Sequence[Trial]
) -> tuple[list[Trial], list[Trial]]:
    """Create the records of new trials.

    Returns:
        The trials whose id was free (claimed), and the records found under the ids that
        were already taken: another controller's trials, whose points then count as covered,
        so the next suggestion moves on to the next free point (BR-34).
    """
    logger = get_run_logger()
    claimed, taken = [], []
    for trial in trials:
        if store.claim_trial(sweep_id, trial):
            claimed.append(trial)
            continue
        existing = store.load_trial(sweep_id, trial.trial_id, with_history=False)
        logger.info(
            "trial id %s was already claimed (params %s); suggesting the next point instead",
            trial.trial_id,
            dict(existing.params),
        )
        taken.append(existing)
    return claimed, taken


@task(name="persist-trials", **_IO)
def persist_trials(store: ResultStore, sweep_id: str, trials: Sequence[Trial]) -> None:
    """Write trial records (e.g. lost attempts closed on resume)."""
    for trial in trials:
        store.write_trial(sweep_id, trial)
