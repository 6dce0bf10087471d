"""The training task: one attempt of one trial."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from sweepcore.config import SweepConfig
from sweepcore.execute import Trainer, run_attempt
from sweepcore.store import ResultStore
from sweepcore.trial import Trial, TrialState

__all__ = ["train_trial"]


@task(name="train", cache_policy=NO_CACHE)
def train_trial(
    store: ResultStore, sweep_id: str, config: SweepConfig, trial: Trial, trainer: Trainer
) -> Trial:
    """Run the trainer once for ``trial`` and return it in its end state.

    A trainer that raises or exits non-zero does not fail this task: the trial ends ``failed``
    with the error, and the sweep goes on. The task itself fails only when the store cannot be
    written, and the trial is then run again on resume.
    """
    logger = get_run_logger()
    logger.info(
        "trial %s starts (attempt %d): %s",
        trial.trial_id,
        len(trial.attempts) + 1,
        dict(trial.params),
    )
    done = run_attempt(store, sweep_id, config, trial, trainer)

    if done.state == TrialState.FAILED:
        logger.warning("trial %s failed: %s", done.trial_id, done.error)
    elif done.note:
        logger.warning("trial %s: %s", done.trial_id, done.note)
    else:
        logger.info("trial %s %s: %s", done.trial_id, done.state, _metric_text(config, done))
    return done


def _metric_text(config: SweepConfig, trial: Trial) -> str:
    if config.metric is None:
        return "no metric configured"
    return f"{config.metric.name}={trial.summary.get(config.metric.name)}"
