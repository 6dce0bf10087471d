"""The optimisers compared, each run as ``run(problem, budget, seed) -> RunRecord``.

Every method sees the same problem, budget and seed, and is driven the way it runs in
practice with parallel workers:

* ours (``random``, ``grid``, ``bayes``): through the stateless ``suggest(config, history, n,
  seed)`` interface, with a growing list of finished :class:`~sweepcore.trial.Trial` records
  whose summary and history hold the objective, exactly as the sweep flow feeds them; a batch
  of ``k`` is one ``suggest(n=k)`` call;
* ``wandb-bayes``: :mod:`bench.wandb_bayes`, a batch made point by point with the earlier ones
  pending (W&B's own rule);
* Optuna samplers: ask/tell, a batch being ``k`` ``ask()`` calls before the ``tell()`` calls.
  ``optuna-tpe`` is ``TPESampler`` with its defaults, which since Optuna 5 are
  ``multivariate=True`` and ``constant_liar=True`` (so ``TPESampler(multivariate=True)`` is the
  same run and is not repeated); ``optuna-tpe-v4`` is Optuna 4's defaults (independent
  sampling, no constant liar); ``optuna-gp`` is ``GPSampler`` with its defaults;
* ``skopt-gp``: ``skopt.Optimizer`` set up as ``gp_minimize`` sets it up (GP with a Gaussian
  noise kernel, ``gp_hedge``, L-BFGS on the acquisition, 10 random initial points), a batch
  being ``ask(n_points=k)`` (constant liar, ``cl_min``);
* ``hyperopt-tpe``: ``fmin`` with ``tpe.suggest``; a batch is ``max_queue_len=k`` (``k`` points
  suggested from the same history, then all evaluated).
"""

from __future__ import annotations

import importlib.util
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.problems import METRIC, Problem, sweep_config
from bench.spaces import clean_point, from_unit_cube, is_finite, to_unit_cube

__all__ = ["METHODS", "Budget", "RunRecord", "available_methods"]


@dataclass(frozen=True)
class Budget:
    """How many evaluations a run gets and how they are grouped.

    Attributes:
        name: ``seq50``-style label used in the tables.
        n_batches: Number of ask rounds.
        batch_size: Points per round (1: sequential).
    """

    name: str
    n_batches: int
    batch_size: int

    @property
    def n_evals(self) -> int:
        """Total evaluations."""
        return self.n_batches * self.batch_size


@dataclass
class RunRecord:
    """What one run produced; built up while it runs.

    Attributes:
        ys: Objective values in evaluation order.
        suggest_s: Seconds spent in the optimiser (asking), evaluations excluded.
        eval_s: Seconds spent in the objective.
    """

    ys: list[float] = field(default_factory=list)
    suggest_s: float = 0.0
    eval_s: float = 0.0

    def evaluate(self, problem: Problem, point: Mapping[str, Any]) -> float:
        """Evaluate ``point``, recording its value and time."""
        start = time.perf_counter()
        y = float(problem.evaluate(point))
        self.eval_s += time.perf_counter() - start
        self.ys.append(y)
        return y


RunFn = Callable[[Problem, Budget, int], RunRecord]


def _run_ours(method: str) -> RunFn:
    def run(problem: Problem, budget: Budget, seed: int) -> RunRecord:
        from sweepcore.config import load_config
        from sweepcore.search import get_searcher
        from sweepcore.trial import Trial, TrialState

        config = load_config(sweep_config(problem, method))
        searcher = get_searcher(method)
        record, history = RunRecord(), list[Trial]()
        for _ in range(budget.n_batches):
            start = time.perf_counter()
            suggestions = searcher.suggest(config, history, budget.batch_size, seed)
            record.suggest_s += time.perf_counter() - start
            for point in suggestions.points:
                y = record.evaluate(problem, point)
                index = len(history)
                history.append(
                    Trial(
                        trial_id=Trial.id_for(index),
                        index=index,
                        params=point,
                        state=TrialState.FINISHED,
                        history=({METRIC: y, "_step": 0},),
                        summary={METRIC: y},
                    )
                )
            if suggestions.is_exhausted:
                break
        return record

    return run


def _run_wandb_bayes(problem: Problem, budget: Budget, seed: int) -> RunRecord:
    from bench.wandb_bayes import suggest_wandb_style

    rng = np.random.default_rng(seed)
    record = RunRecord()
    d = len(problem.dims)
    x_obs = np.empty((0, d))
    for _ in range(budget.n_batches):
        start = time.perf_counter()
        batch = np.empty((0, d))
        for _ in range(budget.batch_size):
            u = suggest_wandb_style(x_obs, np.asarray(record.ys), batch, rng)
            # The point is snapped to what the space can hold (an integer, a choice) before
            # it is modelled, as W&B does when it reads the run's config back.
            point = from_unit_cube(problem.dims, u)
            batch = np.vstack([batch, to_unit_cube(problem.dims, point)])
        record.suggest_s += time.perf_counter() - start
        for row in batch:
            record.evaluate(problem, from_unit_cube(problem.dims, row))
        x_obs = np.vstack([x_obs, batch])
    return record


def _optuna_sampler(name: str, seed: int) -> Any:
    import optuna

    if name == "optuna-tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "optuna-tpe-v4":
        # Optuna 4's defaults: independent sampling, no constant liar.
        return optuna.samplers.TPESampler(multivariate=False, constant_liar=False, seed=seed)
    return optuna.samplers.GPSampler(seed=seed)


def _run_optuna(name: str) -> RunFn:
    def run(problem: Problem, budget: Budget, seed: int) -> RunRecord:
        import optuna

        from bench.spaces import optuna_distributions

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        study = optuna.create_study(sampler=_optuna_sampler(name, seed), direction="minimize")
        dists = optuna_distributions(problem.dims)
        record = RunRecord()
        for _ in range(budget.n_batches):
            start = time.perf_counter()
            trials = [study.ask(dists) for _ in range(budget.batch_size)]
            record.suggest_s += time.perf_counter() - start
            for trial in trials:
                study.tell(trial, record.evaluate(problem, trial.params))
        return record

    return run


def _run_skopt(problem: Problem, budget: Budget, seed: int) -> RunRecord:
    from sklearn.utils import check_random_state
    from skopt import Optimizer
    from skopt.space import Space
    from skopt.utils import cook_estimator

    from bench.spaces import skopt_dimensions

    dims = skopt_dimensions(problem.dims)
    rng = check_random_state(seed)
    space = Space(dims)
    estimator = cook_estimator(
        "GP", space=space, random_state=rng.randint(0, np.iinfo(np.int32).max), noise="gaussian"
    )
    opt = Optimizer(
        dims,
        estimator,
        n_initial_points=10,
        initial_point_generator="random",
        acq_func="gp_hedge",
        acq_optimizer="lbfgs",
        acq_func_kwargs={"xi": 0.01, "kappa": 1.96},
        acq_optimizer_kwargs={"n_points": 10000, "n_restarts_optimizer": 5, "n_jobs": 1},
        random_state=rng,
    )
    names = [d.name for d in problem.dims]
    record = RunRecord()
    for _ in range(budget.n_batches):
        start = time.perf_counter()
        xs = [opt.ask()] if budget.batch_size == 1 else opt.ask(n_points=budget.batch_size)
        record.suggest_s += time.perf_counter() - start
        ys = [
            record.evaluate(problem, clean_point(problem.dims, dict(zip(names, x, strict=True))))
            for x in xs
        ]
        start = time.perf_counter()
        opt.tell(xs, ys)
        record.suggest_s += time.perf_counter() - start
    return record


def _run_hyperopt(problem: Problem, budget: Budget, seed: int) -> RunRecord:
    from hyperopt import Trials, fmin, tpe

    from bench.spaces import hyperopt_space

    record = RunRecord()

    def objective(point: dict[str, Any]) -> float:
        return record.evaluate(problem, clean_point(problem.dims, point))

    start = time.perf_counter()
    fmin(
        objective,
        hyperopt_space(problem.dims),
        algo=tpe.suggest,
        max_evals=budget.n_evals,
        trials=Trials(),
        rstate=np.random.default_rng(seed),
        max_queue_len=budget.batch_size,
        show_progressbar=False,
    )
    record.suggest_s = time.perf_counter() - start - record.eval_s
    return record


@dataclass(frozen=True)
class Method:
    """A method the benchmark can run.

    Attributes:
        name: Label in the tables.
        run: The runner.
        requires: Module that must import for the method to run.
        applies: Whether the method can search a problem's space (grid needs a finite one).
        ignores_seed: Whether every seed gives the same run (it is then run once and copied).
    """

    name: str
    run: RunFn
    requires: str
    applies: Callable[[Problem], bool] = lambda problem: True
    ignores_seed: bool = False


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("random", _run_ours("random"), "sweepcore.search.random"),
        Method(
            "grid",
            _run_ours("grid"),
            "sweepcore.search.grid",
            applies=lambda problem: is_finite(problem.dims),
            ignores_seed=True,
        ),
        Method("bayes", _run_ours("bayes"), "sweepcore.search.bayes"),
        Method("wandb-bayes", _run_wandb_bayes, "sklearn"),
        Method("optuna-tpe", _run_optuna("optuna-tpe"), "optuna"),
        Method("optuna-tpe-v4", _run_optuna("optuna-tpe-v4"), "optuna"),
        Method("optuna-gp", _run_optuna("optuna-gp"), "torch"),
        Method("skopt-gp", _run_skopt, "skopt"),
        Method("hyperopt-tpe", _run_hyperopt, "hyperopt"),
    )
}

#: Our methods, which need nothing outside the package's own dependencies.
OURS = ("random", "grid", "bayes", "wandb-bayes")


def available_methods(names: list[str]) -> tuple[list[str], dict[str, str]]:
    """The methods of ``names`` that can run here, and why each other one cannot."""
    ok: list[str] = []
    missing: dict[str, str] = {}
    for name in names:
        method = METHODS[name]
        reason = _import_problem(method.requires)
        if name == "optuna-gp" and reason is None:
            reason = _import_problem("optuna")
        if name == "bayes" and reason is None:
            reason = _bayes_problem()
        if reason is None:
            ok.append(name)
        else:
            missing[name] = reason
    return ok, missing


def _bayes_problem() -> str | None:
    """Why ``get_searcher("bayes")`` fails, or ``None`` when our bayes can run."""
    try:
        from sweepcore.search import get_searcher

        get_searcher("bayes")
    except Exception as exc:  # work in progress elsewhere: skip it, do not crash
        return f"get_searcher('bayes') fails: {type(exc).__name__}: {exc}"
    return None


def _import_problem(module: str) -> str | None:
    """Why ``module`` cannot be imported, or ``None`` when it can."""
    try:
        if importlib.util.find_spec(module.split(".")[0]) is None:
            return f"{module} is not installed (pip install -e '.[bench]')"
        importlib.import_module(module)
    except Exception as exc:  # a half-written module fails in any way; report, do not crash
        return f"{module} does not import: {type(exc).__name__}: {exc}"
    return None
