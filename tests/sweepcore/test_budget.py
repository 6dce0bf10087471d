"""When a sweep gives up early, and which trials spend ``run_cap``."""

from __future__ import annotations

import math

import pytest

from sweepcore.budget import (
    FREE_FAILURES_PER_RUN,
    MAX_INITIAL_FAILURES,
    cap_reason,
    early_failure_reason,
    n_counted,
    n_startable,
    target_reached_by,
)
from sweepcore.config import load_config
from sweepcore.trial import Attempt, Trial, TrialState

CONFIG_DICT = {
    "method": "random",
    "metric": {"name": "loss"},
    "parameters": {"x": {"min": 0.0, "max": 1.0}},
}
CONFIG = load_config(CONFIG_DICT)


def _ended(n: int, summary: dict, note: str | None = None) -> list[Trial]:
    return [
        Trial(f"t{i:05d}", i, {"x": 0.5}, TrialState.FINISHED, summary=summary, note=note)
        for i in range(n)
    ]


def test_finished_trials_that_never_log_the_metric_end_the_sweep_naming_it():
    note = "metric missing: 'loss' was never logged (logged keys: val_loss)"
    trials = _ended(MAX_INITIAL_FAILURES, {"val_loss": 0.3}, note)

    reason = early_failure_reason(trials, CONFIG)

    assert reason is not None
    assert "without logging the metric 'loss'" in reason and "val_loss" in reason
    assert early_failure_reason(trials[:-1], CONFIG) is None


@pytest.mark.parametrize("value", [0.3, math.nan])
def test_a_logged_metric_even_nan_keeps_the_sweep_going(value):
    # Diverging trials (NaN) are a finding about the search space, not a broken setup.
    assert early_failure_reason(_ended(MAX_INITIAL_FAILURES + 3, {"loss": value}), CONFIG) is None


def test_trials_that_failed_before_logging_anything_are_reported_as_failures():
    trials = [
        Trial(f"t{i:05d}", i, {"x": 0.5}, TrialState.FAILED, error="RuntimeError: CUDA OOM")
        for i in range(MAX_INITIAL_FAILURES)
    ]
    reason = early_failure_reason(trials, CONFIG)
    assert reason is not None
    assert "all failed before logging the metric 'loss'" in reason and "CUDA OOM" in reason


def test_the_give_up_message_shows_the_trial_that_ended_last_not_the_highest_index():
    # In parallel, trials end out of launch order: the error to show is the latest one.
    trials = [
        Trial(
            f"t{i:05d}",
            i,
            {"x": 0.5},
            TrialState.FAILED,
            error=f"RuntimeError: error {i}",
            attempts=(Attempt(1, started_at=100.0, ended_at=ended, outcome="failed"),),
        )
        for i, ended in enumerate([101.0, 109.0, 102.0, 103.0, 104.0])
    ]

    reason = early_failure_reason(trials, CONFIG)

    assert reason is not None and reason.endswith("Last error (t00001): RuntimeError: error 1")


def _failed(start: int, n: int) -> list[Trial]:
    return [
        Trial(f"t{i:05d}", i, {"x": 0.9}, TrialState.FAILED, error="RuntimeError: CUDA OOM")
        for i in range(start, start + n)
    ]


def test_failures_before_logging_are_free_only_up_to_twice_the_run_cap():
    # A trainer that dies on part of the space, which the search keeps suggesting (bayes does
    # under `impute: best`), must not run a sweep with results forever.
    config = load_config({**CONFIG_DICT, "run_cap": 3})
    one_result = _ended(1, {"loss": 0.2})
    free = FREE_FAILURES_PER_RUN * 3

    assert n_counted(one_result + _failed(1, free), config) == 1
    assert n_startable(one_result + _failed(1, free), config, free_slots=4) == 2
    assert n_counted(one_result + _failed(1, free + 1), config) == 2
    assert n_startable(one_result + _failed(1, free + 2), config, free_slots=4) == 0

    reason = cap_reason(one_result + _failed(1, free + 2), config)
    assert reason.startswith("run_cap 3 reached: 8 trials failed before logging the metric")
    assert cap_reason(one_result * 3, config) == "run_cap 3 reached"


def test_without_run_cap_every_failure_before_logging_is_free():
    assert n_counted(_ended(1, {"loss": 0.2}) + _failed(1, 50), CONFIG) == 1


def test_a_sweep_whose_run_cap_comes_before_five_failures_still_gives_up():
    # run_cap 1 stops after 3 launches (1 + 2 free failures): all failed is a failed sweep.
    config = load_config({**CONFIG_DICT, "run_cap": 1})
    trials = _failed(0, 3)

    reason = early_failure_reason(trials, config)

    assert reason is not None and reason.startswith("the first 3 trials all failed")
    assert early_failure_reason(trials[:2], config) is None


@pytest.mark.parametrize(
    ("state", "reached"),
    [
        (TrialState.RUNNING, ["t00000"]),
        (TrialState.FINISHED, ["t00000"]),
        (TrialState.STOPPED, ["t00000"]),
        (TrialState.FAILED, []),
        (TrialState.TIMED_OUT, []),
    ],
)
def test_only_a_trial_that_did_not_fail_reaches_the_target(state, reached):
    # A trainer that logs a placeholder 0.0 and then crashes must not end the sweep.
    config = load_config({**CONFIG_DICT, "metric": {"name": "loss", "target": 0.01}})
    row = {"loss": 0.0}
    trial = Trial("t00000", 0, {"x": 0.5}, state, history=(row,), summary=row)
    assert target_reached_by([trial], config) == reached
