"""Bayesian search: observation table in, GP + log EI suggestions out.

For each request of ``n`` points with history ``H`` (trial indices ``i = len(H), ...``):

1. :func:`~sweepcore.search.bayes.observations.observation_table` sorts ``H`` into observations
   (W&B's value rules) and in-flight points; both are encoded to the unit cube
   (:class:`~sweepcore.search.bayes.space.EncodedSpace`).
2. With fewer than 2 observations (W&B's cold start) every point is random, drawn exactly as
   :class:`~sweepcore.search.random.RandomSearcher` draws trial ``i``.
3. Otherwise a GP is fitted to the losses (:func:`~sweepcore.search.bayes.gp.fit_surrogate`),
   with a far tail of bad losses (diverged trials) pulled in first (``_tame_outliers``), around
   a prior mean that is a bowl and a tilt over the numeric leaves.
   Past ``N_FIT`` observations the hyperparameters are fitted on the best ``N_KEEP_BEST`` plus
   a seeded random subset, and past ``N_MODEL`` the posterior is conditioned on such a subset
   too (the cost of a fit grows as ``n^3``).
4. In-flight points, and then each point chosen for this request, are added to the model at its
   own predicted mean (kriging believer) without refitting hyperparameters: the variance there
   collapses, so the next point goes elsewhere and a batch of ``n`` is spread out.
5. Each point maximises log expected improvement
   (:func:`~sweepcore.search.bayes.acquisition.maximize_log_ei`). In a finite space (only
   categorical and integer leaves, at most ``MAX_ENUMERATED`` points) every point is scored and
   the best one not yet tried, in flight, or in this batch is taken, so no point repeats until
   all have been tried.
6. While fewer than ``N_COVER`` points are taken, each categorical leaf with a value no trial
   has used is switched to the best such value
   (:func:`~sweepcore.search.bayes.acquisition.cover_untried`).

Point ``j`` of a request draws from ``rng_for_index(seed, len(H) + j)``, the fit from that of
the first point, so the same history and seed always give the same suggestions.

A GP fit that fails (a singular kernel matrix, non-finite values) logs a WARNING and the request
falls back to random points; a suggestion never fails because of the model.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

from sweepcore.config.model import SweepConfig
from sweepcore.search.base import Suggestions, rng_for_index
from sweepcore.search.bayes.acquisition import Choice, best_of, cover_untried, maximize_log_ei
from sweepcore.search.bayes.gp import SurrogateModel, fit_surrogate
from sweepcore.search.bayes.observations import ObservationTable, observation_table
from sweepcore.search.bayes.space import MAX_ENUMERATED, EncodedSpace
from sweepcore.space import nest, sample
from sweepcore.trial import Trial

__all__ = ["BayesSearcher"]

logger = logging.getLogger(__name__)

#: Most observations the hyperparameters are fitted on.
N_FIT = 150
#: Most observations the posterior is conditioned on.
N_MODEL = 300
#: Best observations always kept in a subsample.
N_KEEP_BEST = 50
#: Observations needed before the model is used (W&B's rule).
N_COLD_START = 2
#: Losses above ``q3 + CLIP_IQR * (q3 - q1)`` are pulled in to it before fitting (``None``: off).
CLIP_IQR: float | None = 3.0
#: While fewer points than this are observed or in flight, each suggestion also tries an
#: untried value of every categorical leaf that has one (``0``: off).
N_COVER = 10
# Why: the model knows nothing of a value no trial has used, so it predicts the average loss
# there, and expected improvement prefers the neighbourhood of a good first trial. With
# W&B's two random trials before the model, a binary leaf has a one-in-two chance of showing
# one value only, and the other then waited 8 to 16 trials on lasso_diabetes. Tuning seeds
# 100-109, 50 trials: lasso_diabetes reached its best known 2971.7 in 9 of 10 seeds with this
# against 7 without, and ``mixed`` mean best went from 1.4e-4 to 4.2e-5. The cap bounds the
# cost for a leaf with many values; 10 is the number of random trials Optuna's samplers start
# with, which cover small categoricals by chance.
#
# Known shortcoming: one trial per value is all coverage asks for, and the kernel's length
# scales and the prior mean's trend are shared by every value of a leaf. So when a value's
# first trial lands on a bad setting of the other parameters, the model writes the value off:
# in the digits example (examples/digits-svc.yaml) `poly` fails at small C * gamma^3, its good
# plateau lies at large gamma where `rbf` fails, and bayes then tried `poly` twice in 24 trials
# where random tries it 8 times (bench/README.md, "Digits through the Prefect flow"). Asking
# for two trials per value did not help on the tuning seeds; a kernel that learns how alike
# the values are, or coverage that retries a written-off value near the incumbent, is the
# next thing to try.

_THREADS: ThreadpoolController | None = None


class BayesSearcher:
    """Gaussian-process Bayesian optimisation with W&B's observation rules.

    Example:
        >>> from sweepcore.config import load_config
        >>> config = load_config({"method": "bayes", "metric": {"name": "loss"},
        ...                       "parameters": {"x": {"min": 0.0, "max": 1.0}}})
        >>> points = BayesSearcher().suggest(config, [], n=2, seed=1).points
        >>> len(points), all(0.0 <= p["x"] <= 1.0 for p in points)
        (2, True)

    Note:
        Small linear algebra is latency-bound, and a multi-threaded BLAS on a busy 2-core
        machine made each GP objective evaluation ten times slower in measurements, so each
        request runs BLAS on one thread (threadpoolctl, restored afterwards).
    """

    def suggest(
        self, config: SweepConfig, history: Sequence[Trial], n: int, seed: int
    ) -> Suggestions:
        """Suggest ``n`` points (the steps are in the module docstring).

        Args:
            config: A validated bayes config (it has a metric and a searchable leaf).
            history: Every trial of the sweep in index order, in flight ones included.
            n: How many points, at least 1.
            seed: The sweep's seed.

        Returns:
            ``n`` distinct nested parameter dicts (constants copied in), never exhausted, with
            per-point ``info``: ``source`` (``random`` or ``gp``) and, for model points, the
            predicted value and standard deviation in metric units and ``log_ei``.

        Raises:
            ValueError: ``n < 1``, no metric, or no searchable parameter.
        """
        if n < 1:
            raise ValueError(f"n must be at least 1; got {n}")
        if not config.searchable:
            raise ValueError(
                "parameters: Need at least one searchable parameter for bayes search."
            )

        table = observation_table(config, history)
        with _one_blas_thread():
            return self._suggest(config, table, len(history), n, seed)

    def _suggest(
        self, config: SweepConfig, table: ObservationTable, first: int, n: int, seed: int
    ) -> Suggestions:
        space = EncodedSpace(config.parameters)
        X, y = _observed_rows(space, table)
        pending = _rows(space, [t.params for t in table.in_flight])
        indices = range(first, first + n)
        if len(y) < N_COLD_START:
            return _random(config, indices, seed, "cold start: fewer than 2 observations")

        try:
            model = _fit(X, _tame_outliers(y), rng_for_index(seed, first), space.numeric_columns)
            if len(pending):
                model = model.with_points(pending, model.predict(pending)[0])
        except (np.linalg.LinAlgError, ValueError) as exc:
            logger.warning("bayes: the GP fit failed (%s); falling back to random points", exc)
            return _random(config, indices, seed, "GP fit failed")

        anchors = X[np.argsort(y)[:5]]
        taken = np.vstack([X, pending]) if len(pending) else X
        points: list[dict[str, Any]] = []
        info: list[dict[str, Any]] = []
        for index in indices:
            choice = _choose(model, space, anchors, taken, rng_for_index(seed, index))
            if len(taken) < N_COVER:
                choice = cover_untried(model, space, choice.x, taken)
            point = space.decode(choice.x)
            points.append(point)
            info.append(_info(choice, model, table.goal))
            logger.info("bayes: trial %d suggested %s (log EI %.3g)", index, point, choice.log_ei)
            taken = np.vstack([taken, choice.x])
            model = model.with_points(choice.x[None, :], np.array([choice.mean]))
        return Suggestions(points=points, is_exhausted=False, info=info)


def _choose(
    model: SurrogateModel,
    space: EncodedSpace,
    anchors: np.ndarray,
    taken: np.ndarray,
    rng: np.random.Generator,
) -> Choice:
    """The next point: enumerated in a small finite space, searched for otherwise."""
    size = space.size()
    if size is not None and size <= MAX_ENUMERATED:
        grid = space.enumerate()
        fresh = ~np.any(np.max(np.abs(grid[:, None, :] - taken[None, :, :]), axis=2) < 1e-9, 1)
        if not fresh.any():
            logger.warning("bayes: every one of the %d points was tried; repeating one", size)
            return best_of(model, grid)
        return best_of(model, grid[fresh])
    return maximize_log_ei(model, space, anchors, rng, space.snap(taken))


def _fit(
    X: np.ndarray, y: np.ndarray, rng: np.random.Generator, numeric: np.ndarray
) -> SurrogateModel:
    """Fit hyperparameters on at most ``N_FIT`` rows, condition on at most ``N_MODEL``."""
    fit_rows = _subsample(y, N_FIT, rng)
    n_restarts = 1 if len(fit_rows) <= 60 else 0
    model = fit_surrogate(X[fit_rows], y[fit_rows], rng, n_restarts, trend_columns=numeric)
    if len(y) <= N_FIT:
        return model
    rows = _subsample(y, N_MODEL, rng)
    return model.conditioned_on(X[rows], (y[rows] - model.y_mean) / model.y_scale)


def _subsample(y: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Row indices: all if few, else the ``N_KEEP_BEST`` lowest plus a random rest."""
    if len(y) <= size:
        return np.arange(len(y))
    order = np.argsort(y, kind="stable")
    best, rest = order[:N_KEEP_BEST], order[N_KEEP_BEST:]
    picked = rng.choice(rest, size - N_KEEP_BEST, replace=False)
    return np.sort(np.concatenate([best, picked]))


def _observed_rows(space: EncodedSpace, table: ObservationTable) -> tuple[np.ndarray, np.ndarray]:
    """Encoded inputs and losses of the placeable observations."""
    rows, losses = [], []
    for obs, loss in zip(table.observations, table.minimisation_values(), strict=True):
        row = space.encode(obs.params)
        if row is None:
            logger.debug("bayes: trial %s has no place in the space; left out", obs.trial_id)
            continue
        rows.append(row)
        losses.append(loss)
    X = np.vstack(rows) if rows else np.zeros((0, space.n_columns))
    return X, np.asarray(losses, dtype=float)


def _rows(space: EncodedSpace, params: Sequence[Any]) -> np.ndarray:
    rows = [r for r in (space.encode(p) for p in params) if r is not None]
    return np.vstack(rows) if rows else np.zeros((0, space.n_columns))


def _random(config: SweepConfig, indices: range, seed: int, reason: str) -> Suggestions:
    """Random points, each drawn from its trial index's generator (as random search does)."""
    points = []
    for index in indices:
        rng = rng_for_index(seed, index)
        point = nest((p.path, sample(p, rng)) for p in config.parameters)
        logger.info("bayes: trial %d suggested %s at random (%s)", index, point, reason)
        points.append(point)
    return Suggestions(
        points=points, is_exhausted=False, info=[{"source": "random"} for _ in points]
    )


def _info(choice: Choice, model: SurrogateModel, goal: str) -> dict[str, Any]:
    sign = -1.0 if goal == "maximize" else 1.0
    return {
        "source": "gp",
        "predicted_value": sign * (model.y_mean + model.y_scale * choice.mean),
        "predicted_value_std_dev": model.y_scale * choice.std,
        "log_ei": choice.log_ei,
    }


def _tame_outliers(y: np.ndarray) -> np.ndarray:
    """Losses with the far bad tail pulled in to ``q3 + CLIP_IQR * (q3 - q1)``.

    A few diverged trials (losses orders of magnitude above the rest) would otherwise set the
    scale the GP is standardised in and flatten everything else. Only the bad side is touched
    and the order is kept (clipped losses tie), so the incumbent stays the incumbent; losses
    without such a tail are unchanged (``predicted_value`` in ``info`` is in these clipped
    units). A Yeo-Johnson warp of every target did this job before, but it also squashed the
    differences between the good points and cost precision on smooth objectives (tuning seeds
    100-119: Branin median regret 3.2e-4 with it, 6.7e-5 without; Hartmann6 7 of 20 seeds
    within 0.01 with it, 8 without; warping only skewed targets was no better). The clipping
    here took Rosenbrock-4D's median best after 50 trials from 315 to 158 on the same seeds and
    left Hartmann6 as it was.
    """
    if CLIP_IQR is None or len(y) < 5:
        return y
    q1, q3 = np.percentile(y, [25.0, 75.0])
    ceiling = q3 + CLIP_IQR * (q3 - q1)
    out: np.ndarray = np.minimum(y, ceiling) if q3 > q1 else y
    return out


class _one_blas_thread:
    """Context manager: BLAS limited to one thread (see :class:`BayesSearcher`'s Note)."""

    def __enter__(self) -> None:
        global _THREADS
        if _THREADS is None:
            _THREADS = ThreadpoolController()
        self._limit = _THREADS.limit(limits=1, user_api="blas")

    def __exit__(self, *exc: object) -> None:
        self._limit.restore_original_limits()
