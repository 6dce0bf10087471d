"""The suggest task: ask the search method for the next points."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from sweepcore.controller import SweepController
from sweepcore.search import get_searcher
from sweepcore.trial import Trial

__all__ = ["suggest_trials"]


@task(name="suggest", cache_policy=NO_CACHE)
def suggest_trials(controller: SweepController, n: int, seed: int) -> list[Trial]:
    """Suggest ``n`` new trials from the sweep's whole history.

    Returns:
        The new trials (not yet claimed in the store); fewer than ``n`` when a grid runs out.
    """
    logger = get_run_logger()
    new = controller.suggest(get_searcher(controller.config.method), n, seed)
    for trial in new:
        owed = controller.suggestion_info.get(trial.trial_id, {}).get("owed", ())
        # Say why bayes held a categorical value: such a point can look odd otherwise.
        why = f" (owed a trial: {', '.join(owed)})" if owed else ""
        logger.info("suggested %s: %s%s", trial.trial_id, trial.params, why)
    if controller.is_exhausted:
        logger.info("grid exhausted: every point has a trial")
    return new
