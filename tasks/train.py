"""The training task: one trial, retried as a new attempt when asked to."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run
from prefect.states import Failed

from sweepcore.config import SweepConfig
from sweepcore.execute import Trainer, run_attempt
from sweepcore.store import ResultStore, StoreError
from sweepcore.trial import Trial, TrialState, best_metric_value

__all__ = ["AttemptFailedError", "train_trial"]


class AttemptFailedError(RuntimeError):
    """An attempt failed and a retry is left; Prefect runs the task again."""


@task(name="train", cache_policy=NO_CACHE)
def train_trial(
    store: ResultStore,
    sweep_id: str,
    config: SweepConfig,
    trial: Trial,
    trainer: Trainer,
    retries: int = 0,
) -> Trial:
    """Run the trainer for ``trial`` and return it in its end state.

    A trainer that raises or exits non-zero does not fail this task: the trial ends ``failed``
    with the error and the sweep goes on. With ``retries`` (and the task submitted with the
    same number of Prefect retries), a failed attempt is recorded in the trial and the task
    fails so that Prefect runs it again; the trial is then read back from the store, so each
    retry is a new attempt and a failure is never mistaken for a result.
    """
    logger = get_run_logger()
    run_count = task_run.run_count or 1
    try:
        if run_count > 1:
            trial = store.load_trial(sweep_id, trial.trial_id, with_history=False)
        logger.info(
            "trial %s starts (attempt %d): %s",
            trial.trial_id,
            len(trial.attempts) + 1,
            dict(trial.params),
        )
        done = run_attempt(store, sweep_id, config, trial, trainer)
    except StoreError as exc:
        # The store stayed down past its retry budget, so the trial cannot be recorded. The
        # task ends Failed with the one-line reason, which the flow turns into the sweep's
        # error; raised, it would print a traceback through botocore for every trial.
        logger.error("trial %s could not be recorded: %s", trial.trial_id, exc)
        return Failed(message=str(exc), data=exc)  # type: ignore[return-value]

    if done.state == TrialState.FAILED:
        logger.warning("trial %s failed: %s", done.trial_id, done.error)
        if run_count <= retries:
            raise AttemptFailedError(f"trial {done.trial_id} attempt failed; retrying")
    elif done.note:
        logger.warning("trial %s: %s", done.trial_id, done.note)
    elif done.state != TrialState.FINISHED and done.error:  # why it was ended early
        why = done.error.strip().splitlines()[0]
        logger.info(
            "trial %s %s (%s): %s", done.trial_id, done.state, why, _metric_text(config, done)
        )
    else:
        logger.info("trial %s %s: %s", done.trial_id, done.state, _metric_text(config, done))
    return done


def _metric_text(config: SweepConfig, trial: Trial) -> str:
    if config.metric is None:
        return "no metric configured"
    name = config.metric.name
    last = trial.summary.get(name)
    best = best_metric_value(trial, name, config.metric.goal)
    if last is None and best is None:
        return f"{name} not logged"
    # The leaderboard ranks a trial by its best logged value, so say it when it differs.
    shown = "" if best is None or best == last else f" (best {best})"
    return f"{name}={last}{shown}"
