"""When a sweep may start another trial: ``run_cap``, ``metric.target`` and early failures.

``run_cap`` counts every trial, in-flight ones included, except a ``failed`` or ``timed_out``
trial that logged no metric: a trainer that dies at start-up (a CUDA out-of-memory error, a
typo) spent no budget. This is the rule of W&B's open-source launch scheduler, applied to our
states whatever killed the process (WANDB-COMPAT.md section 10).

Because such trials do not count, a trainer that always dies at start-up would launch forever.
:func:`early_failure_reason` ends the sweep once the first few trials have all failed before
logging anything, as W&B's agent does after 5 initial failures.

A trainer that dies on part of the space only (a batch size that runs out of GPU memory) would
launch forever too, once a search keeps suggesting that part: bayes does, under
``metric.impute: best``, which scores such a trial 0.0, a perfect loss. So at most
``FREE_FAILURES_PER_RUN * run_cap`` of these trials are free; past that, each one counts
(:func:`n_free_failures`). W&B, which counts every ``failed`` run, has no such gap.
"""

from __future__ import annotations

from collections.abc import Sequence

from sweepcore.config.model import SweepConfig
from sweepcore.trial import Trial, TrialState, finite_metric_values, has_logged_metric

__all__ = [
    "FREE_FAILURES_PER_RUN",
    "MAX_INITIAL_FAILURES",
    "cap_reason",
    "counts_toward_cap",
    "early_failure_reason",
    "n_counted",
    "n_free_failures",
    "n_startable",
    "target_reached_by",
]

#: Trials that may fail before logging anything, at the start of a sweep, before it gives up.
MAX_INITIAL_FAILURES = 5
#: Trials that failed before logging anything spend no budget, up to this many per run of
#: ``run_cap``. Two per run lets a space where half the points die at start-up still get its
#: ``run_cap`` results (more than 2 failures per result would be unlikely there), and bounds a
#: sweep's launches at three times ``run_cap``.
FREE_FAILURES_PER_RUN = 2


def counts_toward_cap(trial: Trial, config: SweepConfig) -> bool:
    """Whether ``trial`` spends ``run_cap`` budget (see the module docstring)."""
    if trial.state not in (TrialState.FAILED, TrialState.TIMED_OUT):
        return True
    metric = config.metric.name if config.metric else None
    return has_logged_metric(trial, metric)


def n_free_failures(trials: Sequence[Trial], config: SweepConfig) -> int:
    """How many of ``trials`` spend no ``run_cap`` budget (see the module docstring)."""
    uncounted = _n_failed_before_logging(trials, config)
    if config.run_cap is None:
        return uncounted
    return min(uncounted, FREE_FAILURES_PER_RUN * config.run_cap)


def n_counted(trials: Sequence[Trial], config: SweepConfig) -> int:
    """How many trials count toward ``run_cap``."""
    return len(trials) - n_free_failures(trials, config)


def cap_reason(trials: Sequence[Trial], config: SweepConfig) -> str:
    """Why the sweep stopped at ``run_cap``, naming failures that counted past the free ones."""
    uncounted = _n_failed_before_logging(trials, config)
    free = n_free_failures(trials, config)
    if uncounted == free:
        return f"run_cap {config.run_cap} reached"
    return (
        f"run_cap {config.run_cap} reached: {uncounted} trials failed before logging the "
        f"metric, and past the first {free} ({FREE_FAILURES_PER_RUN} x run_cap) such failures "
        "count toward it"
    )


def n_startable(trials: Sequence[Trial], config: SweepConfig, free_slots: int) -> int:
    """How many new trials may start now, given the free slots and ``run_cap``."""
    if config.run_cap is None:
        return free_slots
    return max(0, min(free_slots, config.run_cap - n_counted(trials, config)))


def target_reached_by(trials: Sequence[Trial], config: SweepConfig) -> list[str]:
    """Ids of trials that logged a finite value reaching ``metric.target``, in index order.

    A running trial counts (W&B stops creating runs once any run reports the target); a failed
    or timed-out one does not, since what it logged is no result: a trainer that logs a
    placeholder and crashes would otherwise end the sweep with no best trial.
    """
    metric = config.metric
    if metric is None or metric.target is None:
        return []
    return [
        t.trial_id
        for t in trials
        if not t.state.is_failure
        and any(metric.reaches_target(v) for v in finite_metric_values(t, metric.name))
    ]


def early_failure_reason(trials: Sequence[Trial], config: SweepConfig) -> str | None:
    """Why the sweep should give up: its first trials all failed before logging anything, or
    none of them logged the metric at all.

    Returns:
        A message naming how many trials ended and the last error or note, or ``None`` while
        fewer than :data:`MAX_INITIAL_FAILURES` have ended or any of them logged the metric.
    """
    ended = [t for t in trials if t.state.is_terminal]
    needed = MAX_INITIAL_FAILURES
    if config.run_cap is not None:
        # A small run_cap ends the sweep before 5 trials have failed (3 launches at run_cap 1),
        # which would otherwise report a sweep of nothing but failures as completed.
        needed = min(needed, (FREE_FAILURES_PER_RUN + 1) * config.run_cap)
    if len(ended) < needed:
        return None
    # "Last" is the trial that ended last (index order is launch order, and trials end out of
    # order in parallel); one without an end time counts as the oldest.
    latest = max(ended, key=lambda t: (t.finished_at or 0.0, t.index))
    if not any(counts_toward_cap(t, config) for t in ended):
        lines = (latest.error or "no error text").strip().splitlines()
        first, last = lines[0].strip(), lines[-1].strip()
        shown = first if first == last or last in first else f"{first} ... {last}"
        return (
            f"the first {len(ended)} trials all failed before logging {_metric(config)}; "
            "giving up. "
            f"Last error ({latest.trial_id}): {shown}"
        )
    if config.metric is not None and not any(
        has_logged_metric(t, config.metric.name) for t in ended
    ):
        # Trials that run to the end without ever logging the metric (a misspelt key, a
        # trainer that returns a value instead of logging it) would otherwise go on forever in
        # a sweep without run_cap, each one finished and useless. A NaN counts as logged: a
        # run of diverging trials is a finding, not a broken setup.
        latest = ended[-1]
        why = latest.note or (latest.error or "no error text").strip().splitlines()[0]
        return (
            f"the first {len(ended)} trials all ended without logging the metric "
            f"{config.metric.name!r}; giving up. Check metric.name against what the trainer "
            f"logs. Last trial ({latest.trial_id}): {why}"
        )
    return None


def _n_failed_before_logging(trials: Sequence[Trial], config: SweepConfig) -> int:
    return sum(not counts_toward_cap(t, config) for t in trials)


def _metric(config: SweepConfig) -> str:
    return f"the metric {config.metric.name!r}" if config.metric else "any metric"
