"""Suggestion latency on a 6-D space with many observed trials.

For each history size ``n`` (observed, finished trials of Hartmann6 at random points) and each
method, the time to suggest one point and a batch of 8 is measured several times, each time on a
fresh random history (so no method can reuse work from the previous repetition), in this one
process with the thread settings of the quality runs. Optuna's samplers get the same trials
through ``study.add_trials``; a batch of 8 is 8 ``ask()`` calls in a row (the earlier ones
pending). Repetitions of a cell stop once it has used ``cell_budget_s`` seconds (at least one
repetition is always made), so GPSampler at 1000 trials is measured fewer times; the table
says how many were made.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bench.problems import METRIC, PROBLEMS, sweep_config

__all__ = ["measure_latency"]

LATENCY_METHODS = ("bayes", "wandb-bayes", "optuna-gp", "optuna-tpe", "random")


def _history(n: int, rep: int) -> tuple[list[dict[str, float]], list[float]]:
    problem = PROBLEMS["hartmann6"]
    rng = np.random.default_rng([12345, n, rep])
    points = [{d.name: float(rng.random()) for d in problem.dims} for _ in range(n)]
    return points, [problem.evaluate(p) for p in points]


def _ours(method: str) -> Callable[[int, int, int], float]:
    def timed(n: int, rep: int, k: int) -> float:
        from sweepcore.config import load_config
        from sweepcore.search import get_searcher
        from sweepcore.trial import Trial, TrialState

        points, ys = _history(n, rep)
        config = load_config(sweep_config(PROBLEMS["hartmann6"], method))
        trials = [
            Trial(
                trial_id=Trial.id_for(i),
                index=i,
                params=p,
                state=TrialState.FINISHED,
                history=({METRIC: y},),
                summary={METRIC: y},
            )
            for i, (p, y) in enumerate(zip(points, ys, strict=True))
        ]
        searcher = get_searcher(method)
        start = time.perf_counter()
        searcher.suggest(config, trials, k, rep)
        return time.perf_counter() - start

    return timed


def _wandb(n: int, rep: int, k: int) -> float:
    from bench.spaces import to_unit_cube
    from bench.wandb_bayes import suggest_wandb_style

    dims = PROBLEMS["hartmann6"].dims
    points, ys = _history(n, rep)
    x = np.array([to_unit_cube(dims, p) for p in points])
    rng = np.random.default_rng(rep)
    start = time.perf_counter()
    pending = np.empty((0, len(dims)))
    for _ in range(k):
        pending = np.vstack([pending, suggest_wandb_style(x, np.array(ys), pending, rng)])
    return time.perf_counter() - start


def _optuna(name: str) -> Callable[[int, int, int], float]:
    def timed(n: int, rep: int, k: int) -> float:
        import optuna

        from bench.methods import _optuna_sampler
        from bench.spaces import optuna_distributions

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        dists = optuna_distributions(PROBLEMS["hartmann6"].dims)
        points, ys = _history(n, rep)
        study = optuna.create_study(sampler=_optuna_sampler(name, rep), direction="minimize")
        study.add_trials(
            [
                optuna.trial.create_trial(params=p, distributions=dists, value=y)
                for p, y in zip(points, ys, strict=True)
            ]
        )
        start = time.perf_counter()
        for _ in range(k):
            study.ask(dists)
        return time.perf_counter() - start

    return timed


_TIMERS: dict[str, Callable[[int, int, int], float]] = {
    "bayes": _ours("bayes"),
    "random": _ours("random"),
    "wandb-bayes": _wandb,
    "optuna-gp": _optuna("optuna-gp"),
    "optuna-tpe": _optuna("optuna-tpe"),
}


def measure_latency(
    methods: Sequence[str],
    sizes: Sequence[int],
    reps: int,
    cell_budget_s: float,
    log: Callable[[str], None],
) -> list[dict[str, Any]]:
    """Median and p95 suggestion time per method, history size and batch size (1 and 8).

    Args:
        methods: Methods to time (those of :data:`LATENCY_METHODS` that are available).
        sizes: Numbers of observed trials.
        reps: Most repetitions per cell.
        cell_budget_s: Seconds after which a cell stops repeating.
        log: Progress output.

    Returns:
        One row per cell; a cell whose method raised holds the error instead of times.
    """
    rows = []
    for method in methods:
        timer = _TIMERS[method]
        for n in sizes:
            for k in (1, 8):
                times: list[float] = []
                error = None
                start = time.perf_counter()
                try:
                    # One untimed call first: imports and caches of first use are not latency.
                    if n == sizes[0] and k == 1:
                        timer(min(sizes), 10_000, 1)
                    for rep in range(reps):
                        times.append(timer(n, rep, k))
                        if time.perf_counter() - start > cell_budget_s:
                            break
                except Exception as exc:  # report and go on with the other cells
                    error = f"{type(exc).__name__}: {exc}"
                row = {
                    "method": method,
                    "n_trials": n,
                    "batch": k,
                    "reps": len(times),
                    "median_ms": 1000 * float(np.median(times)) if times else float("nan"),
                    "p95_ms": 1000 * float(np.quantile(times, 0.95)) if times else float("nan"),
                    "error": error,
                }
                rows.append(row)
                log(
                    f"latency {method:12s} n={n:5d} batch={k}: median {row['median_ms']:.1f} ms,"
                    f" p95 {row['p95_ms']:.1f} ms over {len(times)} rep(s)"
                    + (f" ERROR {error}" if error else "")
                )
    return rows
