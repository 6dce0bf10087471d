"""A W&B-style Bayesian search, the baseline our bayes must beat.

Written from the behaviour described in WANDB-COMPAT.md section 7 (W&B's open engine):

* fewer than 2 observations: a uniformly random point of the unit cube;
* y (minimised) normalised to zero mean and unit standard deviation (plus 1e-6);
* scikit-learn ``GaussianProcessRegressor`` with a Matern kernel (nu = 1.5), nugget
  ``alpha = 1e-7``, 2 optimiser restarts, ``random_state = 2``; past 100 observations a random
  subsample of 100 (with replacement) is fitted;
* pending points (the earlier points of a batch): predicted by the fitted GP, appended as
  fantasy observations (at most 95) and the GP refitted (kriging believer);
* acquisition: expected improvement over the best normalised y, maximised over 1000 uniform
  random candidates in ``[0, 1]^d``;
* a fitted kernel hyperparameter at its bound replaces the winner by a random candidate.

Symbols: ``x`` is a point of ``[0, 1]^d``; ``y`` the normalised objective; ``mu``, ``sigma`` the
GP's posterior mean and standard deviation at the candidates.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.stats import norm

__all__ = ["suggest_wandb_style"]

_N_CANDIDATES = 1000
_MAX_FIT = 100
_MAX_FANTASIES = 95


def suggest_wandb_style(
    x_obs: np.ndarray, y_obs: np.ndarray, x_pending: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """The next point to evaluate.

    Args:
        x_obs: Observed points, shape ``(n, d)``.
        y_obs: Their objective values (minimised), shape ``(n,)``.
        x_pending: Points handed out but not yet observed, shape ``(m, d)``.
        rng: Source of the random candidates and subsamples.

    Returns:
        The suggested point, shape ``(d,)``.
    """
    d = x_obs.shape[1]
    if len(y_obs) < 2:
        return np.asarray(rng.random(d))

    y = (y_obs - y_obs.mean()) / (y_obs.std() + 1e-6)
    if len(y) > _MAX_FIT:
        keep = rng.integers(len(y), size=_MAX_FIT)
        x_fit, y_fit = x_obs[keep], y[keep]
    else:
        x_fit, y_fit = x_obs, y
    gp = _fit(x_fit, y_fit)
    if len(x_pending):
        fantasies = x_pending[:_MAX_FANTASIES]
        x_fit = np.vstack([x_fit, fantasies])
        y_fit = np.concatenate([y_fit, gp.predict(fantasies)])
        gp = _fit(x_fit, y_fit)

    candidates = rng.random((_N_CANDIDATES, d))
    mu, sigma = gp.predict(candidates, return_std=True)
    best = float(y.min())
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (best - mu) / sigma
        ei = np.where(sigma > 0, (best - mu) * norm.cdf(z) + sigma * norm.pdf(z), 0.0)
    winner = candidates[int(np.argmax(ei))]
    if _at_bound(gp):
        winner = candidates[int(rng.integers(_N_CANDIDATES))]
    return np.asarray(winner)


def _fit(x: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import Matern

    gp = GaussianProcessRegressor(
        kernel=Matern(nu=1.5), alpha=1e-7, n_restarts_optimizer=2, random_state=2
    )
    with warnings.catch_warnings():
        # W&B turns a kernel at its bound into a random pick (below), not a warning.
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(x, y)
    return gp


def _at_bound(gp: Any) -> bool:
    theta = gp.kernel_.theta
    bounds = gp.kernel_.bounds
    return bool(np.any(np.isclose(theta, bounds[:, 0]) | np.isclose(theta, bounds[:, 1])))
