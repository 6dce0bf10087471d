"""When a sweep gives up early: its first trials could not have produced a result."""

from __future__ import annotations

import math

import pytest

from sweepcore.budget import MAX_INITIAL_FAILURES, early_failure_reason
from sweepcore.config import load_config
from sweepcore.trial import Trial, TrialState

CONFIG = load_config(
    {
        "method": "random",
        "metric": {"name": "loss"},
        "parameters": {"x": {"min": 0.0, "max": 1.0}},
    }
)


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
    assert "all failed before logging any metric" in reason and "CUDA OOM" in reason
