"""The Gaussian-process surrogate: a scikit-learn GP with MAP-fitted ARD Matern-5/2 kernel.

Notation (all in the encoded unit cube, see :mod:`sweepcore.search.bayes.space`):

* ``X``: inputs, shape ``(n, d)``; ``y``: the losses, standardised to zero mean and unit
  standard deviation before fitting;
* kernel ``k(x, x') = s * M(r) + w * [x = x']`` with ``M`` the Matern-5/2 function of the
  scaled distance ``r = ||(x - x') / l||``: ``s`` is the signal variance, ``l`` the per-column
  length scales (ARD), ``w`` the noise variance;
* ``theta = log([s, l_1 .. l_d, w])``, the layout scikit-learn uses for this kernel.

Hyperparameters are the maximum a posteriori ``theta``: the GP log marginal likelihood plus
log-normal priors on ``s``, ``l`` and ``w``, maximised by scipy's L-BFGS-B from two fixed starts
and a few seeded random starts. The priors keep length scales from collapsing onto a handful of
points (the over-confident fits that make plain maximum likelihood erratic with 10-50 trials);
the length-scale prior's median is ``0.1 sqrt(d)`` (see ``_length_scale_prior_mean``).

The objective and its gradient are computed here rather than through scikit-learn's
``log_marginal_likelihood``: scikit-learn builds an ``(n, n, d + 2)`` gradient tensor per call
and measured 3.8 ms per call at 100 points and 25 ms at 300 on the 2-core CI machine, against
about a tenth of that here, which decides whether one suggestion takes 50 ms or 500 ms. The
fitted ``theta`` is handed to :class:`sklearn.gaussian_process.GaussianProcessRegressor`
through its ``optimizer=`` hook, and scikit-learn does the posterior.

The GP models the residuals of a prior mean ``m(x) = beta . f(x)`` with
``f(x) = [1, sum_j z_j^2, z_1 .. z_k]`` and ``z = x - 0.5`` over the numeric columns: a bowl
or a tilt across the whole cube. ``beta`` is the generalised least squares estimate under the
fitted kernel, with a standard normal prior on every coefficient but the constant (see
``_fit_trend``). Far from every trial the posterior falls back to this trend instead of to the
average loss, which would flatter regions nobody has tried (the comment above
``_trend_features`` has the measurements).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Kernel, Matern, WhiteKernel

__all__ = ["SurrogateModel", "fit_surrogate"]

_SQRT5 = math.sqrt(5.0)
_LOG_S_BOUNDS = (math.log(1e-2), math.log(1e2))
_LOG_L_BOUNDS = (math.log(1e-2), math.log(1e2))
_LOG_W_BOUNDS = (math.log(1e-6), math.log(1.0))
#: Prior (mean, std) of ``log w``: near-noiseless objectives are the common case, but trials
#: are noisy often enough (CV scores, seeds) that the noise must be free to grow.
_LOG_W_PRIOR = (math.log(1e-3), 2.0)
_LOG_S_PRIOR = (0.0, 1.0)
_LOG_L_STD = 1.0


@dataclass(frozen=True)
class SurrogateModel:
    """A fitted GP over the unit cube and the standardisation of its targets.

    Attributes:
        gp: The fitted scikit-learn regressor; its targets are the residuals of the prior mean,
            in standard units.
        theta: Its fitted log hyperparameters (layout in the module docstring).
        y_mean: Mean of the raw losses.
        y_scale: Standard deviation of the raw losses (1.0 when they have none).
        best: Lowest standardised target the model was fitted on (believed ones included).
        trend: The prior mean's features and coefficients; ``None`` is a zero prior mean.
    """

    gp: GaussianProcessRegressor
    theta: np.ndarray
    y_mean: float
    y_scale: float
    best: float
    trend: _Trend | None = None

    def prior_mean(self, X: np.ndarray) -> np.ndarray:
        """The prior mean ``m(x)`` at ``X`` (shape ``(m, d)``), standard units."""
        if self.trend is None:
            return np.zeros(len(X))
        return self.trend.at(X)

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation at ``X`` (shape ``(m, d)``), standard units."""
        # The same algebra as ``GaussianProcessRegressor.predict`` (normalize_y is off), on the
        # fitted kernel, ``L_`` and ``alpha_`` it stores, without its input validation: that
        # took 70 % of each call in profiles, and the acquisition optimiser predicts a few
        # hundred times per suggestion.
        gp = self.gp
        K_trans = gp.kernel_(X, gp.X_train_)
        mean = K_trans @ gp.alpha_ + self.prior_mean(X)
        V = linalg.solve_triangular(gp.L_, K_trans.T, lower=True, check_finite=False)
        # The white-noise term is left out: acquisition wants the uncertainty of the objective
        # itself, not of one more noisy observation of it. With it, a fit that calls most of
        # the variation noise (Ackley's ripples, CV scores) sees nearly the same std
        # everywhere, and expected improvement turns into chasing the lowest mean, often one
        # lucky draw. Tuning seeds 100-119, 50 trials, Ackley-5D mean normalised score (see
        # bench/README.md): 0.25 with this and the second fixed start of the fit (see
        # ``_map_theta``), 0.29 with that start alone, 0.33 with neither; Hartmann6 stayed at
        # 10 of 20 seeds within 0.01 (the count moves by about 2 on rounding-level changes).
        var = gp.kernel_.diag(X) - self.noise - np.einsum("ij,ij->j", V, V)
        return np.asarray(mean, dtype=float), np.sqrt(np.maximum(var, 1e-24))

    @property
    def noise(self) -> float:
        """The fitted noise variance ``w``, standard units."""
        return math.exp(float(self.theta[-1]))

    def with_points(self, X: np.ndarray, y_std: np.ndarray) -> SurrogateModel:
        """The same hyperparameters refitted on extra points (standard units).

        Used for fantasies (kriging believer): ``y_std`` is the model's own mean there, so the
        mean surface barely moves while the variance at and around ``X`` collapses.
        """
        X_all = np.vstack([self.gp.X_train_, X])
        y_all = np.concatenate([self.gp.y_train_, y_std - self.prior_mean(X)])
        gp = GaussianProcessRegressor(self.gp.kernel_, optimizer=None, normalize_y=False)
        gp.fit(X_all, y_all)
        # A believed value is an observation like any other, incumbent included; otherwise a
        # point predicted below the incumbent keeps its expected improvement and the batch
        # piles up on it.
        best = min(self.best, float(np.min(y_std))) if len(y_std) else self.best
        return SurrogateModel(gp, self.theta, self.y_mean, self.y_scale, best, self.trend)

    def conditioned_on(self, X: np.ndarray, y_std: np.ndarray) -> SurrogateModel:
        """The same hyperparameters and standardisation on another training set.

        Args:
            X: Inputs, shape ``(n, d)``.
            y_std: Targets in this model's standard units, shape ``(n,)``.
        """
        gp = GaussianProcessRegressor(self.gp.kernel_, optimizer=None, normalize_y=False)
        gp.fit(X, y_std - self.prior_mean(X))
        best = float(np.min(y_std))
        return SurrogateModel(gp, self.theta, self.y_mean, self.y_scale, best, self.trend)


def fit_surrogate(
    X: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    n_restarts: int = 2,
    trend_columns: np.ndarray | None = None,
) -> SurrogateModel:
    """Fit the GP to losses ``y`` at ``X`` by MAP (see the module docstring).

    Args:
        X: Inputs, shape ``(n, d)``, ``n >= 2``.
        y: Losses (lower is better), shape ``(n,)``, all finite.
        rng: Draws the random restarts.
        n_restarts: Random starts beside the fixed one.
        trend_columns: The numeric columns the prior mean's bowl and tilt are made of; ``None``
            or empty for a zero prior mean (one-hot columns must not be among them: their
            squares duplicate the constant).

    Returns:
        The fitted model.

    Raises:
        numpy.linalg.LinAlgError: The kernel matrix is singular at every start.
        ValueError: Non-finite inputs.
    """
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise ValueError("the GP needs finite inputs and targets")
    y_std, y_mean, y_scale = _standardise(y)
    d = X.shape[1]

    theta = _map_theta(X, y_std, rng, n_restarts)
    kernel = _kernel(d)
    trend = None
    if trend_columns is not None and len(trend_columns):
        trend = _fit_trend(kernel.clone_with_theta(theta)(X), X, y_std, trend_columns)
    fixed_optimizer = _FixedTheta(theta)
    gp = GaussianProcessRegressor(kernel, optimizer=fixed_optimizer, normalize_y=False)
    with warnings.catch_warnings():
        # Hyperparameters at their bounds are expected (irrelevant columns get long scales).
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(X, y_std if trend is None else y_std - trend.at(X))
    return SurrogateModel(gp, theta, y_mean, y_scale, float(np.min(y_std)), trend)


@dataclass(frozen=True)
class _Trend:
    """The prior mean ``beta . f(x)`` over the numeric ``columns`` (see the module docstring)."""

    columns: np.ndarray
    beta: np.ndarray

    def at(self, X: np.ndarray) -> np.ndarray:
        out: np.ndarray = _trend_features(X, self.columns) @ self.beta
        return out


def _standardise(y: np.ndarray) -> tuple[np.ndarray, float, float]:
    """``(y - mean) / scale`` with its mean and scale, for losses of any finite size.

    A spread is negligible relative to the losses' own size (rounding), not to 1, so losses of
    order 1e-12 are searched as well as losses of order 1. Losses near 1e308, whose mean or
    spread overflows, are standardised through ``y / max|y|`` instead.
    """
    with np.errstate(over="ignore"):
        y_mean, y_scale = float(np.mean(y)), float(np.std(y))
    if not (math.isfinite(y_mean) and math.isfinite(y_scale)):
        peak = float(np.max(np.abs(y)))
        u = y / peak
        u_mean, u_scale = float(np.mean(u)), float(np.std(u))
        if not u_scale > 1e-12 * abs(u_mean):
            u_scale = 1.0
        return (u - u_mean) / u_scale, peak * u_mean, peak * u_scale
    if not y_scale > 1e-12 * abs(y_mean):
        y_scale = 1.0  # no spread beyond rounding: every target is (about) 0
    return (y - y_mean) / y_scale, y_mean, y_scale


# Why a trend. Expected improvement is highest where the posterior is both uncertain and not
# known to be bad. With a constant prior mean, a point far from every trial is predicted at the
# average loss with the full prior variance, and the average is flattering once most trials sit
# in a good region: a sequential Hartmann6 run spent 13 of its 50 trials on corners of the cube.
# The bowl lets the data say "far from the centre is worse", the tilt "this side is better", so
# optima on a bound (common for hyperparameters) are not pulled to the centre: a bowl alone
# lost rf_wine (mean normalised score 0.83 against 0.32 without a trend, tuning seeds 105-109).
#
# Measured on tuning seeds (never the benchmark's), 50 sequential trials, against a constant
# prior mean in brackets (mean normalised score, lower is better): Hartmann6 13 of 20 seeds
# within 0.01 (10), Hartmann6 mirrored 11 of 20 (7), Ackley-5D 0.23 (0.25) on 20 seeds,
# Rosenbrock-4D 0.049 (0.077) on 12; svm_breast_cancer 0.41 (0.90), gb_diabetes 0.27 (0.41),
# rf_wine 0.42 (0.33), mlp_digits 0.78 (0.78) on 10; lasso_diabetes 0.6 (1.2) on 5. The one
# that lost most is Ackley-5D moved so its optimum sits off centre: 0.59 (0.48) on 12 seeds.
# The kernel's hyperparameters are fitted under a constant mean and kept; the trend comes after.
#
# Known shortcoming: the bowl and the tilt are shared by every value of a categorical leaf,
# though a value often moves the good region (an SVM's `poly` kernel works at large gamma,
# where `rbf` fails), so the tilt learned from one value leans the others the same way. A bowl
# and a tilt per value was tried and left out: it did not help where it was meant to (the
# digits example through the flow, 30 seeds, 24 trials: 10.8 and 11.7 trials to random's best
# in two runs, against 11.7 shared) and it lost lasso_diabetes, whose two binary leaves make 17
# coefficients of 5 (mean normalised score over 50 trials 0.53 against 0.46 on tuning seeds
# 100-149, 1.38 against 0.56 on the benchmark's seeds 0-4).


def _trend_features(X: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """``f(x) = [1, sum_j z_j^2, z_1 .. z_k]`` with ``z = x[columns] - 0.5`` (shape (n, k+2))."""
    Z = X[:, columns] - 0.5
    return np.column_stack([np.ones(len(X)), np.sum(Z**2, axis=1), Z])


def _fit_trend(K: np.ndarray, X: np.ndarray, y: np.ndarray, columns: np.ndarray) -> _Trend:
    """Generalised least squares ``beta`` under the kernel matrix ``K`` (noise included).

    ``beta = (F' K^-1 F + P)^-1 F' K^-1 y`` with ``P`` the precision of the coefficients'
    prior: standard normal for the bowl and tilt (in standard units of the loss, per unit of
    the cube), flat for the constant. The prior also keeps ``beta`` determined when there are
    fewer trials than coefficients (two trials, seven coefficients in 5-D).
    """
    F = _trend_features(X, columns)
    factor = linalg.cho_factor(K, lower=True, check_finite=False)
    KiF = linalg.cho_solve(factor, F, check_finite=False)
    precision = np.ones(F.shape[1])
    precision[0] = 0.0
    beta = np.linalg.solve(F.T @ KiF + np.diag(precision), KiF.T @ y)
    return _Trend(np.asarray(columns, dtype=int), beta)


class _FixedTheta:
    """An ``optimizer=`` for scikit-learn that returns hyperparameters found beforehand."""

    def __init__(self, theta: np.ndarray) -> None:
        self.theta = theta

    def __call__(
        self, obj_func: object, initial_theta: np.ndarray, bounds: np.ndarray
    ) -> tuple[np.ndarray, float]:
        return self.theta, 0.0


def _kernel(d: int) -> Kernel:
    kernel: Kernel = ConstantKernel(1.0, (math.exp(_LOG_S_BOUNDS[0]), math.exp(_LOG_S_BOUNDS[1])))
    kernel = kernel * Matern(
        np.full(d, 0.5), (math.exp(_LOG_L_BOUNDS[0]), math.exp(_LOG_L_BOUNDS[1])), nu=2.5
    )
    return kernel + WhiteKernel(1e-3, (math.exp(_LOG_W_BOUNDS[0]), math.exp(_LOG_W_BOUNDS[1])))


#: Prior median of each length scale is ``_L_SCALE * sqrt(d)`` (unit-cube units).
_L_SCALE = 0.1
#: The second fixed start of the fit has every length scale at ``_L_LONG * sqrt(d)``.
_L_LONG = 0.5


def _length_scale_prior_mean(d: int) -> float:
    # Longer scales in more dimensions (points are further apart, and a fixed prior would call
    # every 6-D function rough), but shorter than the "vanilla BO" prior (about 4 sqrt(d)):
    # with 50 trials a long prior smooths the narrow basins of Hartmann6 away. Measured on
    # tuning seeds 100-119, 50 trials, Hartmann6 seeds within 0.01 of 20: 11 at 0.1 sqrt(d),
    # 10 at 0.05, 8 at 0.07 (noise of the count: about 2), 8 at 0.2, 7 at 0.4, 2 at the
    # vanilla prior; Branin median regret 9e-5 at 0.1 against 7e-5 at 0.2.
    return math.log(_L_SCALE * math.sqrt(d))


def _map_theta(
    X: np.ndarray, y: np.ndarray, rng: np.random.Generator, n_restarts: int
) -> np.ndarray:
    """Maximise log marginal likelihood + log prior over ``theta``."""
    d = X.shape[1]
    sq = (X[:, None, :] - X[None, :, :]) ** 2  # (n, n, d)
    l_mean = _length_scale_prior_mean(d)
    bounds = [_LOG_S_BOUNDS, *([_LOG_L_BOUNDS] * d), _LOG_W_BOUNDS]
    low = np.array([b[0] for b in bounds])
    high = np.array([b[1] for b in bounds])

    # Two fixed starts: the prior's median, and long length scales, from which the fit can
    # find a smooth trend under rough detail (Ackley's bowl under its ripples) that a start at
    # short scales misses. With the latent std in acquisition (``SurrogateModel.predict``),
    # Ackley-5D mean normalised score on tuning seeds 100-119, 50 trials: 0.25 with both
    # starts, 0.38 from the median alone.
    starts = [np.array([0.0, *([l_mean] * d), _LOG_W_PRIOR[0]])]
    starts.append(np.array([0.0, *([math.log(_L_LONG * math.sqrt(d))] * d), _LOG_W_PRIOR[0]]))
    for _ in range(n_restarts):
        start = starts[0].copy()
        start[1 : d + 1] = l_mean + rng.normal(0.0, _LOG_L_STD, d)
        start[0] = rng.normal(0.0, 0.5)
        starts.append(np.clip(start, low, high))

    best_theta, best_value = None, math.inf
    for start in starts:
        result = optimize.minimize(
            _neg_log_posterior,
            start,
            args=(sq, y, l_mean),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 100},
        )
        if np.isfinite(result.fun) and result.fun < best_value:
            best_theta, best_value = np.asarray(result.x, dtype=float), float(result.fun)
    if best_theta is None:
        raise np.linalg.LinAlgError("the GP kernel matrix is singular at every start")
    return best_theta


def _neg_log_posterior(
    theta: np.ndarray, sq: np.ndarray, y: np.ndarray, l_mean: float
) -> tuple[float, np.ndarray]:
    """Negative (log marginal likelihood + log prior) and its gradient in ``theta``."""
    n, d = sq.shape[0], sq.shape[2]
    s, lengths, w = math.exp(theta[0]), np.exp(theta[1 : d + 1]), math.exp(theta[d + 1])
    scaled = sq / lengths**2  # (n, n, d)
    r = np.sqrt(np.maximum(scaled.sum(axis=2), 0.0))
    e = np.exp(-_SQRT5 * r)
    matern = (1.0 + _SQRT5 * r + (5.0 / 3.0) * r**2) * e
    K = s * matern
    K[np.diag_indices(n)] += w
    try:
        L = linalg.cholesky(K, lower=True, check_finite=False)
    except linalg.LinAlgError:
        return 1e25, np.zeros_like(theta)
    alpha = linalg.cho_solve((L, True), y, check_finite=False)
    lml = -0.5 * y @ alpha - np.log(np.diag(L)).sum() - 0.5 * n * math.log(2 * math.pi)

    # d lml / d theta_j = 0.5 * sum(W * dK/dtheta_j) with W = alpha alpha^T - K^-1.
    # K^-1 from the triangular inverse: LAPACK's trtri is far cheaper here than a solve
    # against the identity (measured 0.1 ms against 5 ms at n = 100).
    L_inv, info = linalg.lapack.dtrtri(L, lower=1)
    if info != 0:
        return 1e25, np.zeros_like(theta)
    W = np.outer(alpha, alpha) - L_inv.T @ L_inv
    grad = np.empty_like(theta)
    grad[0] = 0.5 * np.sum(W * (s * matern))
    G = W * (s * (5.0 / 3.0) * (1.0 + _SQRT5 * r) * e)
    grad[1 : d + 1] = 0.5 * np.einsum("ij,ijk->k", G, scaled)
    grad[d + 1] = 0.5 * w * np.trace(W)

    log_l = theta[1 : d + 1]
    prior = -0.5 * ((theta[0] - _LOG_S_PRIOR[0]) / _LOG_S_PRIOR[1]) ** 2
    prior -= 0.5 * np.sum(((log_l - l_mean) / _LOG_L_STD) ** 2)
    prior -= 0.5 * ((theta[d + 1] - _LOG_W_PRIOR[0]) / _LOG_W_PRIOR[1]) ** 2
    grad[0] -= (theta[0] - _LOG_S_PRIOR[0]) / _LOG_S_PRIOR[1] ** 2
    grad[1 : d + 1] -= (log_l - l_mean) / _LOG_L_STD**2
    grad[d + 1] -= (theta[d + 1] - _LOG_W_PRIOR[0]) / _LOG_W_PRIOR[1] ** 2
    return -(float(lml) + float(prior)), -grad
