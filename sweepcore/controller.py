"""The sweep loop's bookkeeping, without any orchestration: what to run next and when to stop.

:class:`SweepController` holds every trial of a sweep and decides, each time a slot frees up,
which trials start: first the ones to run again (attempts lost with a dead controller, trials
cancelled by the user, failed ones when asked to retry), then new suggestions within the budget.
The Prefect flow (``flows/sweep.py``) asks it what to do and runs the tasks; a notebook loop can
drive it the same way.

Resume rules:

* ``finished``, ``stopped``, and (unless ``retry_failed``) ``failed``/``timed_out`` trials are
  kept and never re-run; a failed grid point is not re-run either (W&B's rule).
* a trial left ``running`` was lost with its controller: its open attempt is closed as ``lost``
  and the trial runs again under the same id and params.
* a ``cancelled`` trial runs again the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sweepcore import budget
from sweepcore.config.model import SweepConfig
from sweepcore.search.base import SearchMethod
from sweepcore.trial import Attempt, Trial, TrialState, best_metric_value

__all__ = ["Progress", "SweepController"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """A snapshot for progress reports.

    Attributes:
        n_done: Trials in an end state.
        n_running: Trials in flight.
        total: The known size of the sweep (run_cap or grid size), ``None`` if open-ended.
        best_trial_id: The best trial so far, if any has a metric value.
        best_value: Its value.
        n_free: Trials in ``total`` beyond ``run_cap``: they failed or timed out before logging
            the metric, which spends no budget (see :mod:`sweepcore.budget`).
    """

    n_done: int
    n_running: int
    total: int | None
    best_trial_id: str | None
    best_value: float | None
    n_free: int = 0


class SweepController:
    """Decides which trials run next and when the sweep ends.

    Args:
        config: The sweep config.
        trials: Every trial already in the store (empty for a new sweep).
        parallel: Most trials running at once.
        retry_failed: Re-run failed and timed-out trials on resume.
        grid_size: Number of grid points, for progress reports.
    """

    def __init__(
        self,
        config: SweepConfig,
        trials: Sequence[Trial],
        parallel: int = 4,
        retry_failed: bool = False,
        grid_size: int | None = None,
    ) -> None:
        self.config = config
        self.parallel = max(1, parallel)
        self.trials: dict[str, Trial] = {t.trial_id: t for t in trials}
        self.running: set[str] = set()
        self.is_exhausted = False
        #: The search method's diagnostics of the last :meth:`suggest` call, by trial id.
        self.suggestion_info: dict[str, dict[str, Any]] = {}
        self.grid_size = grid_size
        self.queue: list[str] = []
        self.recovered: list[Trial] = self._recover(retry_failed)

    def _recover(self, retry_failed: bool) -> list[Trial]:
        """Queue the trials a resume must run again; returns the records it changed."""
        rerun = {TrialState.RUNNING, TrialState.CANCELLED}
        if retry_failed:
            rerun |= {TrialState.FAILED, TrialState.TIMED_OUT}
        changed = []
        now = time.time()
        for trial in sorted(self.trials.values(), key=lambda t: t.index):
            if trial.state not in rerun:
                continue
            attempts = list(trial.attempts)
            if attempts and attempts[-1].ended_at is None:
                attempts[-1] = Attempt(
                    attempts[-1].number,
                    attempts[-1].started_at,
                    now,
                    "lost",
                    "the controller stopped while this attempt ran",
                )
            updated = trial.evolve(state=TrialState.CANCELLED, attempts=tuple(attempts))
            self.trials[trial.trial_id] = updated
            self.queue.append(trial.trial_id)
            changed.append(updated)
        if changed:
            logger.info("resuming: %d trial(s) will run again", len(changed))
        return changed

    # -- what to run --------------------------------------------------------------------

    @property
    def history(self) -> list[Trial]:
        """Every trial in index order (what search methods see)."""
        return sorted(self.trials.values(), key=lambda t: t.index)

    @property
    def next_index(self) -> int:
        """Index of the next new trial."""
        return max((t.index for t in self.trials.values()), default=-1) + 1

    def n_new_wanted(self) -> int:
        """How many new suggestions to ask for now (0 when none may start)."""
        if self.stop_reason() is not None or self.is_exhausted:
            return 0
        free = self.parallel - len(self.running) - len(self.queue)
        return budget.n_startable(self.history, self.config, max(0, free))

    def suggest(self, searcher: SearchMethod, n: int, seed: int) -> list[Trial]:
        """Ask ``searcher`` for ``n`` points and turn them into new queued trials."""
        result = searcher.suggest(self.config, self.history, n, seed)
        self.is_exhausted = result.is_exhausted
        new = []
        for params in result.points:
            index = self.next_index
            trial = Trial(Trial.id_for(index), index, params)
            self.trials[trial.trial_id] = trial
            new.append(trial)
        self.suggestion_info = {t.trial_id: i for t, i in zip(new, result.info, strict=False)}
        return new

    def enqueue(self, trial: Trial) -> None:
        """Queue a claimed trial to start."""
        self.queue.append(trial.trial_id)

    def drop_queued(self) -> list[str]:
        """Empty the queue, for a sweep that is being cancelled.

        The dropped trials stay in :attr:`trials` as they are; the caller records them as it
        sees fit (the flow marks them ``cancelled``, so a resume runs them).

        Returns:
            The ids of the dropped trials, in queue order (empty if nothing was queued).
        """
        dropped = list(self.queue)
        self.queue.clear()
        return dropped

    def discard(self, trial: Trial) -> None:
        """Forget a trial whose id could not be claimed (another controller took it)."""
        self.trials.pop(trial.trial_id, None)

    def start_next(self) -> list[Trial]:
        """Trials to start now, within the free slots; they count as running from here on.

        Queued trials always start: new ones were only suggested while the budget allowed
        them, and the rest are re-runs of trials the budget already counts.
        """
        started = []
        while self.queue and len(self.running) < self.parallel:
            trial_id = self.queue.pop(0)
            self.running.add(trial_id)
            started.append(self.trials[trial_id])
        return started

    def record(self, trial: Trial) -> None:
        """Take in a trial that ended (or a fresher view of a running one)."""
        self.trials[trial.trial_id] = trial
        if trial.state != TrialState.RUNNING:
            self.running.discard(trial.trial_id)

    # -- when to stop -------------------------------------------------------------------

    def stop_reason(self) -> str | None:
        """Why no new trial may start, or ``None``.

        Returns one of: the metric target was reached, the run cap was reached, the grid is
        exhausted, or the first trials all failed before logging anything.
        """
        history = self.history
        reached = budget.target_reached_by(history, self.config)
        if reached:
            assert self.config.metric is not None
            return f"metric target {self.config.metric.target} reached by trial {reached[0]}"
        failure = budget.early_failure_reason(history, self.config)
        if failure is not None:
            return failure
        cap = self.config.run_cap
        if cap is not None and budget.n_counted(history, self.config) >= cap:
            return budget.cap_reason(history, self.config)
        if self.is_exhausted and not self.queue:
            return "grid exhausted: every point has a trial"
        return None

    @property
    def is_done(self) -> bool:
        """Nothing runs, nothing is queued, and nothing new may start."""
        return not self.running and not self.queue and self.n_new_wanted() == 0

    @property
    def gave_up(self) -> bool:
        """Whether the sweep ended because its first trials all failed at start-up."""
        return budget.early_failure_reason(self.history, self.config) is not None

    # -- reporting ----------------------------------------------------------------------

    def progress(self) -> Progress:
        """Done / running counts and the best trial so far."""
        history = self.history
        done = [t for t in history if t.state.is_terminal]
        best_id, best_value = None, None
        metric = self.config.metric
        if metric is not None:
            # What a failed or timed-out trial logged is not a result (TrialState.is_failure).
            for trial in (t for t in done if not t.state.is_failure):
                value = best_metric_value(trial, metric.name, metric.goal)
                if value is not None and (
                    best_value is None or metric.is_better(value, best_value)
                ):
                    best_id, best_value = trial.trial_id, value
        total, n_free = self.config.run_cap, 0
        if total is not None:  # trials that died before logging spend no budget (budget.py)
            n_free = budget.n_free_failures(done, self.config)
            total += n_free
        if self.grid_size is not None:
            total = min(total, self.grid_size) if total else self.grid_size
        return Progress(len(done), len(self.running), total, best_id, best_value, n_free)

    def summary(self) -> dict[str, Any]:
        """Counts per state, for the flow's return value and the state record."""
        counts: dict[str, int] = {}
        for trial in self.trials.values():
            counts[str(trial.state)] = counts.get(str(trial.state), 0) + 1
        progress = self.progress()
        return {
            "n_trials": len(self.trials),
            "states": counts,
            "best_trial_id": progress.best_trial_id,
            "best_value": progress.best_value,
        }
