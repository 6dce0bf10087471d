"""The sweep loop's bookkeeping (sweepcore.controller), driven without Prefect."""

from __future__ import annotations

import pytest

from sweepcore.config import load_config
from sweepcore.controller import SweepController
from sweepcore.search import get_searcher
from sweepcore.trial import Trial, TrialState

CONFIG = load_config(
    {
        "method": "random",
        "metric": {"name": "loss"},
        "run_cap": 10,
        "parameters": {"x": {"min": 0.0, "max": 1.0}},
    }
)


def _queued(controller: SweepController, n: int) -> list[Trial]:
    new = controller.suggest(get_searcher("random"), n, seed=3)
    for trial in new:
        controller.enqueue(trial)
    return new


def test_drop_queued_returns_the_queued_ids_in_order_and_leaves_running_trials() -> None:
    controller = SweepController(CONFIG, [], parallel=1)
    first, second, third = _queued(controller, 3)
    assert controller.start_next() == [first]

    assert controller.drop_queued() == [second.trial_id, third.trial_id]

    assert controller.drop_queued() == []
    assert controller.start_next() == []
    assert controller.running == {first.trial_id}
    assert set(controller.trials) == {first.trial_id, second.trial_id, third.trial_id}
    assert controller.trials[second.trial_id].state == TrialState.RUNNING


def test_drop_queued_includes_trials_a_resume_queued_again() -> None:
    """A trial left running by a dead controller is queued again on resume; dropping the queue
    returns it too, still recorded as cancelled."""
    lost = Trial(Trial.id_for(0), 0, {"x": 0.5})
    controller = SweepController(CONFIG, [lost])

    assert controller.drop_queued() == [lost.trial_id]
    assert controller.trials[lost.trial_id].state == TrialState.CANCELLED
    assert controller.n_new_wanted() == 4


def test_failures_past_twice_the_run_cap_end_a_sweep_that_has_results() -> None:
    """A trainer that dies on the part of the space the search keeps suggesting: the sweep
    stops after three times run_cap launches and says why."""
    done = [Trial(Trial.id_for(0), 0, {"x": 0.1}, TrialState.FINISHED, summary={"loss": 0.1})]
    failed = [
        Trial(Trial.id_for(i), i, {"x": 0.9}, TrialState.FAILED, error="RuntimeError: OOM")
        for i in range(1, 30)
    ]
    controller = SweepController(CONFIG, done + failed)

    assert controller.n_new_wanted() == 0
    assert controller.is_done
    reason = controller.stop_reason()
    assert reason is not None and "29 trials failed before logging the metric" in reason
    assert controller.progress().total == 30


@pytest.mark.parametrize("failure", [TrialState.FAILED, TrialState.TIMED_OUT])
def test_a_failed_trial_is_never_the_best_whatever_it_logged(failure: TrialState) -> None:
    def ended(index: int, loss: float, state: TrialState) -> Trial:
        row = {"loss": loss}
        return Trial(Trial.id_for(index), index, {"x": 0.5}, state, history=(row,), summary=row)

    trials = [
        ended(0, 0.4, TrialState.FINISHED),
        ended(1, 0.01, failure),
        ended(2, 0.3, TrialState.STOPPED),
    ]
    progress = SweepController(CONFIG, trials, parallel=1).progress()
    assert (progress.best_trial_id, progress.best_value) == ("t00002", 0.3)


def test_progress_counts_trials_that_spent_no_budget_apart() -> None:
    # Two trials died before logging the metric: the sweep runs two more than run_cap 10.
    died = [Trial(Trial.id_for(i), i, {"x": 0.5}, TrialState.FAILED) for i in range(2)]
    row = {"loss": 0.2}
    done = Trial(Trial.id_for(2), 2, {"x": 0.5}, TrialState.FINISHED, history=(row,), summary=row)
    progress = SweepController(CONFIG, [*died, done], parallel=1).progress()
    assert (progress.n_done, progress.total, progress.n_free) == (3, 12, 2)
